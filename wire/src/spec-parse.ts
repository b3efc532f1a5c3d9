// Reads a mesh spec from YAML text and reports every problem with its field path and line.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { MeshSpec } from './spec.ts';
import { validateMeshSpec } from './spec-checks.ts';

/** One problem in a spec file. */
export interface SpecProblem {
  /** Dotted field path, e.g. `services.payments.port`; empty for the whole document. */
  path: string;
  message: string;
  /** 1-based line and column in the file, when the problem can be placed. */
  line?: number;
  column?: number;
}

/** The result of reading a spec: the parsed spec, or every problem found. */
export type SpecResult = { ok: true; spec: MeshSpec } | { ok: false; problems: SpecProblem[] };

/**
 * Parses and validates a mesh spec. Never throws for bad input: YAML syntax errors and schema
 * problems all come back as `problems`, each placed on its line.
 * @example
 * const r = parseMeshSpec('services:\n  web:\n    port: abc\n');
 * if (!r.ok) console.error(formatSpecProblems(r.problems, 'mesh.yaml'));
 * // services.web: a service needs an image or a command ... (mesh.yaml:2)
 * // services.web.port: expected a number, got "abc" (mesh.yaml:3)
 */
export function parseMeshSpec(text: string): SpecResult {
  const read = readYamlDocument(text);
  if (!read.ok) return read;
  const data = read.data;
  if (data === null || data === undefined) {
    return { ok: false, problems: [{ path: '', message: 'the file is empty; expected a mapping with a "services:" key', line: 1, column: 1 }] };
  }
  const result = validateMeshSpec(data, describeIssue);
  if (result.ok) return { ok: true, spec: deepFreeze(result.spec) };
  const problems = result.issues.map((issue) => {
    const pos = read.positionOf(issue.path);
    const message = issue.message.startsWith('unknown field "') ? `${issue.message}${suggest(String(issue.path.at(-1)))}` : issue.message;
    const problem: SpecProblem = { path: issue.path.map(String).join('.'), message };
    if (pos !== undefined) {
      problem.line = pos.line;
      problem.column = pos.column;
    }
    return problem;
  });
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path));
  return { ok: false, problems };
}

/** YAML (or JSON, which YAML reads too) text, parsed for a schema check. */
export interface YamlDocument {
  ok: true;
  /** The document as plain data. */
  data: unknown;
  /** Line and column of the field at `path`, or of its deepest ancestor in the file. */
  positionOf(path: readonly PropertyKey[]): { line: number; column: number } | undefined;
}

/**
 * Parses YAML or JSON text, keeping what is needed to place problems on their lines. Syntax errors
 * come back as problems, never as exceptions. Used for mesh specs and for `meshlet bench` scenario files.
 * @example
 * const read = readYamlDocument('a:\n  b: 1\n');
 * if (read.ok) read.positionOf(['a', 'b']) // { line: 2, column: 6 }
 */
export function readYamlDocument(text: string): YamlDocument | { ok: false; problems: SpecProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return { path: '', message: yamlMessage(error.message), line: pos.line, column: pos.col };
      }),
    };
  }
  return {
    ok: true,
    data: doc.toJS({ maxAliasCount: 100 }),
    positionOf(path) {
      const offset = locate(doc, path);
      if (offset === undefined) return undefined;
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}

/**
 * One line per problem: `services.payments.port: expected a number, got "abc" (mesh.yaml:12)`.
 */
export function formatSpecProblems(problems: readonly SpecProblem[], fileName: string): string {
  return problems
    .map((p) => `${p.path === '' ? '' : `${p.path}: `}${p.message}${p.line === undefined ? ` (${fileName})` : ` (${fileName}:${p.line})`}`)
    .join('\n');
}

const KNOWN_FIELDS = [
  'name', 'network', 'telemetry', 'mtls', 'test_mode', 'services', 'image', 'command', 'working_dir', 'port', 'replicas',
  'env', 'resources', 'health', 'restart', 'depends_on', 'publish', 'versions', 'traffic', 'routes', 'faults', 'timeout',
  'retries', 'outlier', 'policy', 'labels', 'cpus', 'memory', 'pids', 'http', 'interval', 'start_period', 'condition',
  'match', 'path', 'path_prefix', 'method', 'headers', 'attempts', 'per_try_timeout', 'on', 'retryable', 'enabled',
  'delay', 'abort', 'duration', 'percent', 'status', 'consecutive_failures', 'base_ejection', 'max_ejection_percent',
  'allow', 'deny', 'rate_limit', 'rps', 'burst', 'bridge', 'subnet', 'vip_range', 'egress', 'collector', 'ui',
];

/** A "did you mean" for near misses such as `dependson` or `replica`. */
function suggest(key: string): string {
  const normalised = key.toLowerCase().replaceAll('-', '_');
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of KNOWN_FIELDS) {
    const d = editDistance(normalised, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

/** Messages in the user's terms: "expected a number, got "abc"". */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `missing required field (expected ${article(String(issue.expected))})`;
      return `expected ${article(String(issue.expected))}, got ${got}`;
    case 'too_small':
      if (issue.origin === 'array') return `expected at least ${issue.minimum} item(s)`;
      if (issue.origin === 'string') return `expected at least ${issue.minimum} character(s)`;
      return `expected a number ${issue.inclusive === false ? '>' : '≥'} ${issue.minimum}, got ${got}`;
    case 'too_big':
      if (issue.origin === 'array') return `expected at most ${issue.maximum} item(s)`;
      if (issue.origin === 'string') return `expected at most ${issue.maximum} character(s)`;
      return `expected a number ${issue.inclusive === false ? '<' : '≤'} ${issue.maximum}, got ${got}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'invalid_union':
      return `unexpected value ${got}`;
    case 'invalid_key':
      return `invalid name ${got}: ${issue.issues.map((inner) => inner.message).join('; ')}`;
    case 'invalid_format':
      return `expected ${issue.format === 'url' ? 'a URL' : `a ${issue.format}`}, got ${got}`;
    default:
      return undefined;
  }
}

function article(expected: string): string {
  const words: Record<string, string> = { number: 'a number', string: 'a string', boolean: 'true or false', object: 'a mapping', array: 'a list', record: 'a mapping', int: 'an integer' };
  return words[expected] ?? expected;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

/** Offset in the text of the node at `path`, or of its deepest existing ancestor. */
function locate(doc: Document, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(key));
      if (pair === undefined) break;
      // Unknown-key and value problems point at the key's line: that is where the user looks.
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
      const valueStart = rangeStart(node);
      if (valueStart !== undefined && !isMap(node) && !isSeq(node)) offset = valueStart;
    } else if (isSeq(node) && typeof key === 'number') {
      const item = node.items[key];
      if (item === undefined) break;
      node = item;
      offset = rangeStart(item) ?? offset;
    } else {
      break;
    }
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

function yamlMessage(message: string): string {
  return `YAML: ${message.split('\n')[0]}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The wording of schema problems used above, for other files read the same way (`meshlet bench` scenarios). */
export { describeIssue as describeSchemaIssue };
