// Baseline for the proxy benchmark: the smallest Node HTTP proxy on undici (no layers, no telemetry),
// to separate what Node + undici cost from what meshlet adds. Usage: node naive-proxy.ts PORT UPSTREAM_HOST:PORT
import http from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = process.argv.slice(2);
const pool = new Pool(`http://${upstream}`);
http
  .createServer((req, res) => {
    pool.request({ path: req.url ?? '/', method: 'GET', headers: { host: req.headers.host ?? '' } }).then(
      (r) => {
        res.writeHead(r.statusCode, r.headers as http.OutgoingHttpHeaders);
        r.body.pipe(res);
      },
      () => res.writeHead(502).end(),
    );
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
