// Fetches the collector's query API (wire/src/query-api.ts) and turns failures into messages that say what to do.
import type { ApiError } from '@meshlet/wire';

/** A failed call to the query API, with what the user can do about it. */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly param: string | undefined;
  readonly url: string;
  constructor(message: string, url: string, status: number, code?: string, param?: string) {
    super(message);
    this.name = 'ApiFailure';
    this.url = url;
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export type Params = Record<string, string | number | boolean | undefined | null | readonly string[]>;

/** Builds `path?query`, leaving out empty values; arrays become repeated parameters. */
export function apiUrl(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'object') for (const v of value) search.append(key, v);
    else search.set(key, String(value));
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

/** GETs JSON from the query API. Rejects with an `ApiFailure` whose message a person can act on. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal: signal ?? null, headers: { accept: 'application/json' } });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiFailure(
      `Cannot reach the collector at ${location.origin}: is meshlet collector still running?`,
      url,
      0,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let body: Partial<ApiError> = {};
    try {
      body = JSON.parse(text) as Partial<ApiError>;
    } catch {
      // A proxy in front of the collector may answer with HTML; the status says enough then.
    }
    const what = body.error ?? `${response.status} ${response.statusText}`;
    const message =
      response.status >= 500
        ? `The collector failed to answer ${new URL(url, location.origin).pathname}: ${what}`
        : response.status === 404 && !body.code
          ? `${new URL(url, location.origin).pathname} is not served here: is this meshlet's collector (port 16686)?`
          : body.param
            ? `Bad value for “${body.param}”: ${what}`
            : what;
    throw new ApiFailure(message, url, response.status, body.code, body.param);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiFailure(`The collector answered ${url} with something that is not JSON.`, url, response.status);
  }
}
