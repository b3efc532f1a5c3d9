// Container output kept on disk for `meshlet logs`: one JSON line per output line
// (`{"t":<ms>,"s":"stdout"|"stderr","l":"<text>"}`), written in batches off the hot path, rotated by
// size (`app.log` → `app.log.1` → … → dropped), with a bounded in-memory backlog (overflow is counted).
import { appendFile, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LogLine {
  /** Epoch milliseconds. */
  t: number;
  s: 'stdout' | 'stderr';
  l: string;
}

export interface LogWriterOptions {
  /** Rotate when the current file reaches this size. */
  maxBytes?: number;
  /** Rotated files kept besides the current one. */
  keep?: number;
  /** Pending bytes beyond which new lines are dropped (and counted) until the disk catches up. */
  maxPendingBytes?: number;
  flushIntervalMs?: number;
}

export interface LogWriter {
  write(stream: 'stdout' | 'stderr', line: string, nowMs?: number): void;
  /** Lines dropped because the backlog was full. */
  dropped(): number;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_LOG_MAX_BYTES = 4 * 1024 * 1024; // 4 MiB per file
export const DEFAULT_LOG_KEEP = 2;

export function createLogWriter(path: string, options: LogWriterOptions = {}): LogWriter {
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const keep = options.keep ?? DEFAULT_LOG_KEEP;
  const maxPending = options.maxPendingBytes ?? 1024 * 1024; // 1 MiB
  let pending: string[] = [];
  let pendingBytes = 0;
  let dropped = 0;
  let size: number | undefined;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const rotate = async () => {
    for (let i = keep; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      await rename(from, `${path}.${i}`).catch(() => {});
    }
    if (keep === 0) await unlink(path).catch(() => {});
    size = 0;
  };

  const drain = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    pendingBytes = 0;
    if (size === undefined) {
      await mkdir(dirname(path), { recursive: true });
      size = await stat(path).then((s) => s.size, () => 0);
    }
    // Lines go to the current file until it is full, then the file rotates.
    let chunk = '';
    for (const line of batch) {
      if (size + chunk.length + line.length > maxBytes && size + chunk.length > 0) {
        if (chunk !== '') await appendFile(path, chunk);
        chunk = '';
        await rotate();
      }
      chunk += line;
    }
    if (chunk !== '') {
      await appendFile(path, chunk);
      size += Buffer.byteLength(chunk);
    }
  };

  const schedule = () => {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      chain = chain.then(drain).catch(() => {});
    }, options.flushIntervalMs ?? 100);
    timer.unref();
  };

  return {
    write(stream, line, nowMs = Date.now()) {
      if (closed) return;
      const json = `${JSON.stringify({ t: nowMs, s: stream, l: line })}\n`;
      if (pendingBytes + json.length > maxPending) {
        dropped++;
        return;
      }
      pending.push(json);
      pendingBytes += json.length;
      schedule();
    },
    dropped: () => dropped,
    flush() {
      chain = chain.then(drain).catch(() => {});
      return chain;
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      chain = chain.then(drain).catch(() => {});
      await chain;
    },
  };
}

/** Splits a byte stream into lines (a line longer than `maxLine` is cut into pieces). */
export function lineSplitter(onLine: (line: string) => void, maxLine = 16 * 1024): { push(chunk: Buffer | string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, nl).replace(/\r$/, ''));
        rest = rest.slice(nl + 1);
      }
      while (rest.length > maxLine) {
        onLine(rest.slice(0, maxLine));
        rest = rest.slice(maxLine);
      }
    },
    end() {
      if (rest !== '') onLine(rest);
      rest = '';
    },
  };
}

function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    try {
      const v = JSON.parse(raw) as LogLine;
      if (typeof v.t === 'number' && typeof v.l === 'string') out.push(v);
    } catch {
      // a torn last line of a crashed writer
    }
  }
  return out;
}

/** Lines kept for one container, oldest first, after `sinceMs`, at most the last `tail`. */
export async function readLogs(path: string, o: { tail?: number; sinceMs?: number; keep?: number } = {}): Promise<LogLine[]> {
  const files = [...Array.from({ length: o.keep ?? DEFAULT_LOG_KEEP }, (_, i) => `${path}.${(o.keep ?? DEFAULT_LOG_KEEP) - i}`), path];
  let lines: LogLine[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    lines.push(...parseLines(text));
  }
  if (o.sinceMs !== undefined) lines = lines.filter((l) => l.t >= (o.sinceMs as number));
  if (o.tail !== undefined) lines = o.tail === 0 ? [] : lines.slice(-o.tail);
  return lines;
}

/**
 * Follows a log file from its current end: yields new lines as they are written, across rotations,
 * until `signal` aborts. Polls (250 ms): fs.watch misses renames on some filesystems.
 */
export async function* followLogs(path: string, signal: AbortSignal, pollMs = 250): AsyncGenerator<LogLine> {
  let offset = await stat(path).then((s) => s.size, () => 0);
  let ino = await stat(path).then((s) => s.ino, () => 0);
  let partial = '';
  while (!signal.aborted) {
    const s = await stat(path).catch(() => undefined);
    if (s !== undefined && (s.ino !== ino || s.size < offset)) {
      ino = s.ino;
      offset = 0;
      partial = '';
    }
    if (s !== undefined && s.size > offset) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(s.size - offset);
        await fh.read(buf, 0, buf.length, offset);
        offset = s.size;
        const text = partial + buf.toString('utf8');
        const cut = text.lastIndexOf('\n');
        partial = text.slice(cut + 1);
        yield* parseLines(text.slice(0, cut + 1));
      } finally {
        await fh.close();
      }
    }
    await sleep(pollMs, undefined, { signal }).catch(() => {});
  }
}
