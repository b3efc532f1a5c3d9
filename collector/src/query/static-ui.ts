// Serves the built UI (ui/dist) at `/`: files by path, `index.html` for unknown non-API paths (the
// single-page app routes itself), and a page that says how to build the UI when it is missing.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export const UI_NOT_BUILT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshlet collector</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>UI not built: run npm run build</h1>
<p>The collector is running: its API answers on <code>/api/v1/health</code>, Jaeger's on <code>/api/services</code>,
metrics on <code>/metrics</code>. The web UI is served from <code>ui/dist</code> once it is built
(<code>npm run build</code> at the repository root), or from the directory given with <code>--ui DIR</code>.</p>
</body></html>
`;

async function fileAt(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Serves `urlPath` from `root`; returns after the response has been started. */
export async function serveUi(root: string, urlPath: string, res: ServerResponse, headOnly: boolean): Promise<void> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    decoded = '/';
  }
  const relative = normalize(decoded).replace(/^([/\\])+/, '');
  const target = join(root, relative);
  // Never leave the UI directory (`..` in the path).
  const inside = target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
  let file = inside && relative !== '' ? target : join(root, 'index.html');
  let size = await fileAt(file);
  let fallback = false;
  if (size === null) {
    file = join(root, 'index.html');
    size = await fileAt(file);
    fallback = true;
  }
  if (size === null) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(headOnly ? undefined : UI_NOT_BUILT_HTML);
    return;
  }
  const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  // Hashed assets may be cached for long; index.html (and every SPA route) must be revalidated.
  const immutable = !fallback && /[-.][0-9a-zA-Z_-]{8,}\.(js|css|woff2?|svg|png)$/.test(file);
  res.writeHead(200, {
    'content-type': type,
    'content-length': size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (headOnly) {
    res.end();
    return;
  }
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}
