// Where a sidecar's config comes from: a file (JSON or YAML of SidecarConfigInput), MESHLET_PROXY_*
// environment variables and command-line flags, with precedence flags > env > file > defaults
// (STYLE.md). The result is validated once with the wire schema; every problem is listed with its path.
import { envName, sidecarConfigSchema, type SidecarConfig } from '@meshlet/wire';
import { ConfigError, UsageError } from './errors.ts';

/** The settings that flags and env may give. */
export interface Overrides {
  service?: string;
  app?: string | null;
  /** `http` or `h2c`: how the inbound sidecar talks to the app. */
  appProtocol?: string;
  inbound?: string;
  outbound?: string;
  admin?: string;
  endpoint?: string[];
  collector?: string | null;
  testMode?: boolean;
  config?: string;
  configUrl?: string;
  accessLog?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge: objects merge key by key, everything else (arrays too) is replaced by `over`. */
export function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over;
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/**
 * Parses `--endpoint SERVICE=HOST:PORT[,HOST:PORT...]`.
 * @example parseEndpointFlag('payments=127.0.0.1:9001,127.0.0.1:9002')
 */
export function parseEndpointFlag(value: string): { service: string; addresses: string[] } {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`--endpoint needs SERVICE=HOST:PORT[,HOST:PORT...], got ${JSON.stringify(value)}`);
  const service = value.slice(0, eq).trim();
  const addresses = value
    .slice(eq + 1)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (addresses.length === 0) throw new UsageError(`--endpoint ${service}= names no HOST:PORT`);
  return { service, addresses };
}

/** Turns overrides into a partial config input to merge over the file. */
export function overridesToInput(o: Overrides): Json {
  const input: Json = {};
  if (o.service !== undefined) input.service = o.service;
  if (o.app !== undefined) input.app = o.app;
  if (o.appProtocol !== undefined) input.appProtocol = o.appProtocol;
  if (o.collector !== undefined) input.collector = o.collector;
  if (o.testMode !== undefined) input.testMode = o.testMode;
  const listen: Json = {};
  if (o.inbound !== undefined) listen.inbound = o.inbound;
  if (o.outbound !== undefined) listen.outbound = o.outbound;
  if (o.admin !== undefined) listen.admin = o.admin;
  if (Object.keys(listen).length > 0) input.listen = listen;
  if (o.endpoint !== undefined && o.endpoint.length > 0) {
    const destinations: Json = {};
    for (const flag of o.endpoint) {
      const { service, addresses } = parseEndpointFlag(flag);
      destinations[service] = { endpoints: addresses.map((address) => ({ address })) };
    }
    input.destinations = destinations;
  }
  return input;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off', '']);

/** Reads MESHLET_PROXY_* variables (`MESHLET_PROXY_ENDPOINT` takes several entries separated by `;` or spaces). */
export function envOverrides(env: NodeJS.ProcessEnv): Overrides {
  const get = (key: string): string | undefined => env[envName('proxy', key)];
  const o: Overrides = {};
  const str = (key: 'service' | 'appProtocol' | 'inbound' | 'outbound' | 'admin' | 'config' | 'configUrl' | 'accessLog', name: string): void => {
    const v = get(name);
    if (v !== undefined && v !== '') o[key] = v;
  };
  str('service', 'service');
  str('appProtocol', 'app_protocol');
  str('inbound', 'inbound');
  str('outbound', 'outbound');
  str('admin', 'admin');
  str('config', 'config');
  str('configUrl', 'config_url');
  str('accessLog', 'access_log');
  const app = get('app');
  if (app !== undefined && app !== '') o.app = app === 'none' ? null : app;
  const collector = get('collector');
  if (collector !== undefined) o.collector = collector === '' || collector === 'none' ? null : collector;
  const endpoint = get('endpoint');
  if (endpoint !== undefined && endpoint.trim() !== '') o.endpoint = endpoint.split(/[;\s]+/).filter((e) => e !== '');
  const testMode = get('test_mode');
  if (testMode !== undefined) {
    const t = testMode.toLowerCase();
    if (TRUE.has(t)) o.testMode = true;
    else if (FALSE.has(t)) o.testMode = false;
    else throw new UsageError(`${envName('proxy', 'test_mode')} must be true or false, got ${JSON.stringify(testMode)}`);
  }
  return o;
}

/** Reads a config file, JSON or YAML (parsed as YAML, a superset of JSON). Errors name the file (and line for YAML). */
export async function readConfigFile(path: string): Promise<unknown> {
  let text: string;
  try {
    // node:fs/promises (with node:readline for its readLines) is loaded only by a sidecar given a file.
    text = await process.getBuiltinModule('node:fs/promises').readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  // Loaded here, not at start: sidecars the runtime starts get their config as JSON from --config-url.
  const { parse: parseYaml } = await import('yaml');
  try {
    return parseYaml(text, { prettyErrors: true }) as unknown; // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError(path, [(err as Error).message]);
  }
}

/** Validates a config input; throws ConfigError listing every problem with its path. */
export function parseConfig(input: unknown, source: string): SidecarConfig {
  const result = sidecarConfigSchema.safeParse(input);
  if (result.success) return Object.freeze(result.data);
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
    return `${path}: ${issue.message}`;
  });
  throw new ConfigError(source, problems);
}

/** Layers env and flag overrides over a config input (a file's or the runtime's). */
export function overlay(input: unknown, env: Overrides, flags: Overrides): unknown {
  return merge(merge(isObject(input) ? input : {}, overridesToInput(env)), overridesToInput(flags));
}
