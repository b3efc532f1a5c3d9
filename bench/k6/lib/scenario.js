// @ts-check
// The k6 side of meshlet's scenario files: pure functions with no k6 import, so the harness's tests
// can load this file in Node and check that k6 and `meshlet bench` read a scenario the same way
// (request sequence, checks, tally, run baggage). The k6-bound part lives in ./meshlet.js.

/**
 * @typedef {{ status?: number | number[], bodyIncludes?: string, bodyMatches?: string }} CheckDef
 * @typedef {{ name: string, method?: string, path: string, headers?: Record<string, string>, body?: unknown, weight?: number, checks?: Record<string, CheckDef> }} RequestDef
 * @typedef {{ metric: string, tag?: string, header?: string, jsonField?: string }} TallyDef
 * @typedef {{
 *   name: string, description?: string, baseUrl?: string, timeout?: string | number,
 *   headers?: Record<string, string>, requests: RequestDef[], checks?: Record<string, CheckDef>,
 *   tally?: TallyDef, options?: import('k6/options').Options
 * }} ScenarioFile
 * @typedef {{ name: string, method: string, url: string, headers: Record<string, string>, baggage: string | undefined, body: string | null, checks: [string, CheckDef][] }} PreparedRequest
 * @typedef {{ name: string, baseUrl: string, timeout: string, sequence: PreparedRequest[], tally: { metric: string, tag: string, header?: string, jsonField?: string } | undefined }} PreparedTest
 */

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
const RUN_KEY = 'meshlet.run';

/**
 * Reads a scenario file the way `meshlet bench` does.
 * @param {ScenarioFile} file
 * @param {string | undefined} baseUrl overrides the file's (k6: `__ENV.BASE_URL`)
 * @returns {PreparedTest}
 */
export function prepare(file, baseUrl) {
  const base = (baseUrl || file.baseUrl || DEFAULT_BASE_URL).replace(/\/+$/, '');
  /** @type {[string, CheckDef][]} */
  const common = Object.entries(file.checks || {});
  const requests = file.requests.map((r) => {
    /** @type {Record<string, string>} */
    const headers = {};
    /** @type {string | undefined} */
    let baggage;
    for (const [name, value] of Object.entries({ ...file.headers, ...r.headers })) {
      if (name.toLowerCase() === 'baggage') baggage = value;
      else headers[name] = value;
    }
    /** @type {string | null} */
    let body = null;
    if (typeof r.body === 'string') body = r.body;
    else if (r.body !== undefined) {
      body = JSON.stringify(r.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    return {
      weight: r.weight || 1,
      name: r.name,
      method: r.method || 'GET',
      url: base + r.path,
      headers,
      baggage,
      body,
      /** @type {[string, CheckDef][]} */
      checks: [...Object.entries(r.checks || {}), ...common],
    };
  });
  const timeout = file.timeout === undefined ? '60s' : typeof file.timeout === 'number' ? `${file.timeout}ms` : file.timeout;
  const tally = file.tally === undefined ? undefined : { ...file.tally, tag: file.tally.tag || 'value', header: file.tally.header && file.tally.header.toLowerCase() };
  return { name: file.name, baseUrl: base, timeout, sequence: weightedSequence(requests), tally };
}

/**
 * Each request `weight` times, interleaved by smooth weighted round robin (3:1 → A A B A).
 * @template {{ weight: number }} T
 * @param {T[]} requests
 * @returns {T[]}
 */
export function weightedSequence(requests) {
  const total = requests.reduce((n, r) => n + r.weight, 0);
  const current = requests.map(() => 0);
  /** @type {T[]} */
  const out = [];
  for (let i = 0; i < total; i++) {
    let best = 0;
    for (let j = 0; j < requests.length; j++) {
      current[j] += requests[j].weight;
      if (current[j] > current[best]) best = j;
    }
    current[best] -= total;
    out.push(requests[best]);
  }
  return out;
}

/**
 * True when every condition of the check holds for the response.
 * @param {CheckDef} check
 * @param {number} status
 * @param {string} body
 */
export function checkPasses(check, status, body) {
  if (check.status !== undefined && !(Array.isArray(check.status) ? check.status : [check.status]).includes(status)) return false;
  if (check.bodyIncludes !== undefined && !body.includes(check.bodyIncludes)) return false;
  if (check.bodyMatches !== undefined && !new RegExp(check.bodyMatches).test(body)) return false;
  return true;
}

/**
 * The `baggage` header for a request of run `runId`: other entries kept, `meshlet.run` set.
 * @param {string | undefined} existing
 * @param {string} runId
 */
export function withRunBaggage(existing, runId) {
  const run = `${RUN_KEY}=${encodeURIComponent(runId)}`;
  let replaced = false;
  /** @type {string[]} */
  const entries = [];
  for (const raw of (existing || '').split(',')) {
    const entry = raw.trim();
    if (!entry.includes('=')) continue; // not a list-member (W3C Baggage): dropped, as OpenTelemetry does
    const key = entry.slice(0, entry.indexOf('=')).trim();
    if (key !== RUN_KEY) entries.push(`${key}=${entry.slice(entry.indexOf('=') + 1).trim()}`);
    else if (!replaced) {
      entries.push(run); // the entry keeps its place
      replaced = true;
    }
  }
  if (!replaced) entries.push(run);
  return entries.join(',');
}

/**
 * The value a tally counts for a response: a header or a dotted JSON field; `none` when absent.
 * @param {{ header?: string, jsonField?: string }} tally
 * @param {number} status
 * @param {string} body
 * @param {Record<string, string>} headers
 */
export function tallyValue(tally, status, body, headers) {
  if (status === 0) return 'none';
  if (tally.header) {
    for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === tally.header) return value;
    return 'none';
  }
  try {
    /** @type {unknown} */
    let node = JSON.parse(body);
    for (const key of String(tally.jsonField).split('.')) {
      node = node !== null && typeof node === 'object' ? /** @type {Record<string, unknown>} */ (node)[key] : undefined;
    }
    return typeof node === 'string' || typeof node === 'number' || typeof node === 'boolean' ? String(node) : 'none';
  } catch {
    return 'none';
  }
}

/**
 * `<name>-<UTC yyyymmdd-hhmmss>-<4 hex>`, like `meshlet bench`.
 * @param {string} name
 * @param {Date} now
 * @param {() => number} random
 */
export function newRunId(name, now, random) {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name}-${stamp}-${Math.floor(random() * 0x10000).toString(16).padStart(4, '0')}`;
}

/**
 * `http://host:4318` → `http://host:4318/v1/logs`.
 * @param {string} collector
 */
export function logsEndpoint(collector) {
  const trimmed = collector.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/logs') ? trimmed : `${trimmed}/v1/logs`;
}

/**
 * An OTLP/JSON logs request holding one `meshlet.loadtest.*` event, as `meshlet bench` sends it
 * (it uses the OpenTelemetry SDK; k6 has none, so the JSON encoding is written out here).
 * @param {string} eventName
 * @param {string} body
 * @param {Record<string, string | number | boolean>} attributes
 * @param {number} timeMs
 */
export function otlpLogsRequest(eventName, body, attributes, timeMs) {
  /** @param {string | number | boolean} v */
  const value = (v) => (typeof v === 'boolean' ? { boolValue: v } : typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : { stringValue: v });
  /** @param {Record<string, string | number | boolean>} attrs */
  const list = (attrs) => Object.entries(attrs).map(([key, v]) => ({ key, value: value(v) }));
  const nanos = `${Math.round(timeMs)}000000`;
  return {
    resourceLogs: [
      {
        resource: { attributes: list({ 'service.name': 'meshlet-bench', 'meshlet.component': 'loadtest' }) },
        scopeLogs: [
          {
            scope: { name: 'meshlet-k6' },
            logRecords: [
              {
                timeUnixNano: nanos,
                observedTimeUnixNano: nanos,
                severityNumber: 9,
                severityText: 'INFO',
                eventName,
                body: { stringValue: body },
                attributes: list({ 'event.name': eventName, ...attributes }),
              },
            ],
          },
        ],
      },
    ],
  };
}

/**
 * @typedef {{ type: string, contains: string, values: Record<string, number>, thresholds?: Record<string, { ok: boolean }> }} SummaryMetric
 * @typedef {{ metrics: Record<string, SummaryMetric>, state: { testRunDurationMs: number } }} SummaryData
 */

/**
 * True when every threshold of a k6 summary held.
 * @param {SummaryData} data
 */
export function thresholdsPassed(data) {
  return Object.values(data.metrics).every((m) => Object.values(m.thresholds || {}).every((t) => t.ok));
}

/**
 * A short text summary for `handleSummary` (k6 prints none of its own once a script exports one).
 * @param {SummaryData} data
 * @param {string} runId
 */
export function briefSummary(data, runId) {
  const lines = [`meshlet run ${runId} (${(data.state.testRunDurationMs / 1000).toFixed(1)} s)`];
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [source, t] of Object.entries(metric.thresholds || {})) lines.push(`  ${t.ok ? '✓' : '✗'} ${name}: ${source}`);
  }
  /** @param {string} name @param {string} stat */
  const v = (name, stat) => (data.metrics[name] ? data.metrics[name].values[stat] : undefined);
  const p95 = v('http_req_duration', 'p(95)');
  lines.push(
    `  requests ${v('http_reqs', 'count') || 0}, failed ${((v('http_req_failed', 'rate') || 0) * 100).toFixed(2)}%, checks ${((v('checks', 'rate') || 0) * 100).toFixed(2)}%` +
      (p95 === undefined ? '' : `, p(95) ${p95.toFixed(2)} ms`),
  );
  return `${lines.join('\n')}\n`;
}
