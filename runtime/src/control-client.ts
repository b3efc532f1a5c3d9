// The CLI's side of the control API: HTTP over the daemon's unix socket.
import { request } from 'node:http';
import { connect } from 'node:net';
import { ERROR_CODES, RuntimeError, runtimeErrorFromJSON } from './errors.ts';

export interface ControlClient {
  readonly socketPath: string;
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** Follows `GET /v1/events` until `signal` aborts or the daemon goes away. */
  events(mesh: string | undefined, onEvent: (e: unknown) => void, signal: AbortSignal): Promise<void>;
}

export function createControlClient(socketPath: string): ControlClient {
  const noDaemon = (err: NodeJS.ErrnoException) =>
    err.code === 'EACCES'
      ? new RuntimeError(ERROR_CODES.needsRoot, `cannot open the control socket ${socketPath}: permission denied (it is root-only)`, { hint: 'run as root' })
      : new RuntimeError(ERROR_CODES.noDaemon, `no meshlet daemon answers on ${socketPath}`, { hint: 'start a mesh with meshlet up' });
  return {
    socketPath,
    call<T>(method: string, path: string, body?: unknown): Promise<T> {
      return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          { socketPath, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let value: unknown;
              try {
                value = text === '' ? undefined : JSON.parse(text);
              } catch {
                return reject(new RuntimeError(ERROR_CODES.exec, `the daemon sent a malformed answer to ${method} ${path}`));
              }
              if ((res.statusCode ?? 500) >= 400) {
                const err = runtimeErrorFromJSON((value as { error?: unknown } | undefined)?.error);
                return reject(err ?? new RuntimeError(ERROR_CODES.exec, `${method} ${path}: HTTP ${res.statusCode}`));
              }
              resolve(value as T);
            });
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES' ? noDaemon(err) : err));
        req.end(payload);
      });
    },
    events(mesh, onEvent, signal) {
      return new Promise((resolve, reject) => {
        const req = request({ socketPath, method: 'GET', path: `/v1/events${mesh === undefined ? '' : `?mesh=${encodeURIComponent(mesh)}`}`, signal }, (res) => {
          let buffer = '';
          res.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8');
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              for (const line of frame.split('\n')) {
                if (line.startsWith('data: ')) {
                  try {
                    onEvent(JSON.parse(line.slice(6)));
                  } catch {
                    // ignore a malformed frame
                  }
                }
              }
            }
          });
          res.on('end', () => resolve());
          res.on('error', () => resolve());
        });
        req.on('error', (err: NodeJS.ErrnoException) => (signal.aborted ? resolve() : reject(noDaemon(err))));
        req.end();
      });
    },
  };
}
/** Whether something answers on the unix socket. */
export function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

