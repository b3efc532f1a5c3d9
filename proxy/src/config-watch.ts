// Follows the runtime's config API (wire CONFIG_API): GET the pod's config, then keep
// `?watch=1` open as server-sent events (`event: config`, data = the JSON config) and hand every
// revision to `onConfig`. Reconnects with jittered exponential backoff; never gives up while running.
import { request } from 'undici';

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

/** Fetches the config once; resolves with the parsed JSON. */
export async function fetchConfig(url: string, signal?: AbortSignal): Promise<unknown> {
  const res = await request(url, { signal: signal ?? null, headers: { accept: 'application/json' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as unknown;
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
        const res = await request(watchUrl, { signal: abort.signal, headers: { accept: 'text/event-stream' }, bodyTimeout: 60_000 });
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          throw new Error(`GET ${watchUrl} answered ${res.statusCode}: ${text.slice(0, 200)}`);
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
