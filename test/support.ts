// Helpers shared by the integration tests of every part (imported by relative path; not a package,
// and never imported by code that ships).
import { createServer, type AddressInfo } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago, for programs that cannot listen on port 0 and say which port they got. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Polls `check` every `everyMs` until it returns something other than `undefined`, and returns that.
 * A throw counts as "not yet"; on timeout the error names `what` and the last error thrown, so a check
 * can explain itself by throwing what it saw.
 * @example const pod = await waitFor('web-1 ready', async () => (await status()).find((p) => p.ready), 30_000);
 */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
