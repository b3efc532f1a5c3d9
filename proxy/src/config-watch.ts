// Follows the runtime's config API (wire CONFIG_API): GET the pod's config, then keep
// `?watch=1` open as server-sent events (`event: config`, data = the JSON config) and hand every
// revision to `onConfig`. Reconnects with jittered exponential backoff; never gives up while running.
// Over node:http, not undici: the sidecar's first requests are these, before it is ready, and undici
// would compile its llhttp WebAssembly for them (CPU at start-up, ~4 MB kept); node:http's parser is
// built in. undici's parser is then compiled when the first proxied request needs it.
import http from 'node:http';

export interface WatchOptions {
  url: string;
  /** Called with each config payload (parsed JSON, not validated yet). */
  onConfig: (input: unknown, source: string) => void;
  onError: (message: string) => void;
  random?: () => number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ConfigWatch {
  close(): void;
}

/** Splits a text/event-stream into events (WHATWG HTML §9.2.6), fed chunk by chunk. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private readonly onEvent: (event: string, data: string) => void;
  constructor(onEvent: (event: string, data: string) => void) {
    this.onEvent = onEvent;
  }
  feed(text: string): void {
    this.buffer += text;
    for (;;) {
      const nl = this.buffer.search(/\r\n|\n|\r/);
      if (nl === -1) return;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      this.line(line);
    }
  }
  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onEvent(this.event === '' ? 'message' : this.event, this.data.join('\n'));
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

function withWatch(url: string): string {
  return url + (url.includes('?') ? '&' : '?') + 'watch=1';
}

interface Response {
  status: number;
  body: http.IncomingMessage;
}

/** One GET; resolves with the response once its head arrived. `idleTimeoutMs`: longest silence on the socket. */
function get(url: string, accept: string, signal: AbortSignal, idleTimeoutMs: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept }, signal, agent: false }, (res) => {
      res.on('error', () => {}); // surfaced by the reader (aborted stream, reset)
      resolve({ status: res.statusCode ?? 0, body: res });
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data for ${idleTimeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function text(body: http.IncomingMessage): Promise<string> {
  body.setEncoding('utf8');
  let out = '';
  for await (const chunk of body) out += chunk as string;
  return out;
}

/** Fetches the config once; resolves with the parsed JSON. */
export async function fetchConfig(url: string, signal: AbortSignal = new AbortController().signal): Promise<unknown> {
  const res = await get(url, 'application/json', signal, 10_000);
  const body = await text(res.body);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${body.slice(0, 200)}`);
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new Error(`GET ${url} returned invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function watchConfig(options: WatchOptions): ConfigWatch {
  const random = options.random ?? Math.random;
  const minMs = options.minBackoffMs ?? 200;
  const maxMs = options.maxBackoffMs ?? 5_000;
  const abort = new AbortController();
  let failures = 0;

  const backoff = (): Promise<void> => {
    const ms = Math.min(maxMs, minMs * 2 ** Math.min(failures, 10)) * (0.5 + random() / 2);
    failures++;
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  };

  const watchUrl = withWatch(options.url);
  const loop = async (): Promise<void> => {
    // First a plain GET, so a runtime without the stream still configures the sidecar.
    while (!abort.signal.aborted) {
      try {
        options.onConfig(await fetchConfig(options.url, abort.signal), options.url);
        failures = 0;
        break;
      } catch (err) {
        if (abort.signal.aborted) return;
        options.onError(`config fetch failed: ${(err as Error).message}`);
        await backoff();
      }
    }
    while (!abort.signal.aborted) {
      try {
        const res = await get(watchUrl, 'text/event-stream', abort.signal, 60_000);
        if (res.status !== 200) {
          const body = await text(res.body);
          throw new Error(`GET ${watchUrl} answered ${res.status}: ${body.slice(0, 200)}`);
        }
        failures = 0;
        const parser = new SseParser((event, data) => {
          if (event !== 'config') return;
          let input: unknown;
          try {
            input = JSON.parse(data);
          } catch (err) {
            options.onError(`config event from ${watchUrl} is not JSON: ${(err as Error).message}`);
            return;
          }
          options.onConfig(input, watchUrl);
        });
        res.body.setEncoding('utf8');
        for await (const chunk of res.body) parser.feed(chunk as string);
        if (!abort.signal.aborted) options.onError(`config stream ${watchUrl} ended; reconnecting`);
      } catch (err) {
        if (abort.signal.aborted) return;
        options.onError(`config stream ${watchUrl} failed: ${(err as Error).message}`);
      }
      await backoff();
    }
  };
  void loop();
  return {
    close: () => abort.abort(),
  };
}
