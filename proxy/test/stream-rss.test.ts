// 1 GiB through a sidecar process to a client that keeps pausing: the sidecar's RSS stays bounded
// (backpressure, not buffering). RSS is sampled from /proc while the body streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { spawnProxy, startServer } from './helpers.ts';

const GiB = 1024 ** 3;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

test('1 GiB response through a slow client: sidecar RSS stays bounded', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async (t) => {
  const chunk = Buffer.alloc(256 * 1024, 'y');
  const app = await startServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(GiB) });
    let sent = 0;
    const pump = (): void => {
      while (sent < GiB) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  t.after(() => app.close());
  const p = await spawnProxy(['--service', 'big', '--app', app.address, '--inbound', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--no-access-log']);
  t.after(() => p.child.kill('SIGKILL'));
  const pid = p.child.pid as number;
  const idle = await rssBytes(pid);
  let peak = idle;
  const sampler = setInterval(() => {
    void rssBytes(pid).then((r) => (peak = Math.max(peak, r)), () => {});
  }, 50);
  t.after(() => clearInterval(sampler));
  const [host, port] = p.inbound.split(':');
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    http
      .get({ host, port: Number(port), path: '/', headers: { host: 'big' } }, (res) => {
        let sinceBreak = 0;
        res.on('data', (c: Buffer) => {
          received += c.length;
          sinceBreak += c.length;
          // The slow reader: a pause every 16 MiB.
          if (sinceBreak >= 16 * 1024 * 1024) {
            sinceBreak = 0;
            res.pause();
            setTimeout(() => res.resume(), 40);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      })
      .on('error', reject);
  });
  clearInterval(sampler);
  assert.equal(received, GiB);
  t.diagnostic(`sidecar RSS idle ${(idle / 2 ** 20).toFixed(1)} MiB, peak while streaming 1 GiB ${(peak / 2 ** 20).toFixed(1)} MiB`);
  // V8 collects socket buffers (external memory) in steps of about 64 MiB, so RSS breathes by that much;
  // buffering the body would grow it by up to the full GiB.
  assert.ok(peak - idle < 128 * 2 ** 20, `RSS grew by ${((peak - idle) / 2 ** 20).toFixed(1)} MiB while streaming`);
});
