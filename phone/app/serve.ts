// A tiny static server for the built app, for development and tests: loopback only, because
// http://127.0.0.1 and http://localhost are secure contexts (camera and service worker work there)
// while plain HTTP on a LAN address is not, and this server has no TLS. It serves dist/ with the
// app's CSP and hardening headers, and nothing else (no dot file: the build stamp stays private).
//
//   node --import tsx phone/app/serve.ts [--port 8080] [--dir phone/app/dist]
import { createServer, type Server } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { APP_CSP_HEADER } from './csp.ts';
import { DEFAULT_OUT } from './build.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.sig': 'text/plain; charset=utf-8',
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface AppServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function serveApp(opts: { dir?: string; host?: string; port?: number } = {}): Promise<AppServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`serveApp listens on loopback only (${host} is not): plain HTTP elsewhere is no secure context`);
  const root = resolve(opts.dir ?? DEFAULT_OUT);
  const server: Server = createServer((req, res) => {
    const headers: Record<string, string> = {
      'Content-Security-Policy': APP_CSP_HEADER,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(self), microphone=(), geolocation=()',
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    if (path.split('/').some((segment) => segment.startsWith('.'))) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = readFileSync(file);
    } catch {
      res.writeHead(404, headers).end('not found');
      return;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(body.length),
      // The service worker decides what is current; the browser's HTTP cache must not.
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '::1' ? '[::1]' : host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' }, host: { type: 'string' } } });
  const s = await serveApp({ port: Number(values.port ?? 8080), ...(values.dir ? { dir: values.dir } : {}), ...(values.host ? { host: values.host } : {}) });
  console.log(`phone app on ${s.url} (loopback only)`);
}
