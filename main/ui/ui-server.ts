// Serves the built UI (renderer/dist) and the live tile streams on the hub's local API port, behind
// the API token (api/local-api.ts checks it before calling us). Every page gets a strict CSP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hub } from '../hub.ts';
import { presentedToken } from '../api/local-api.ts';
import { httpLiveViewer } from './live-stream.ts';

export const DEFAULT_RENDERER_DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'renderer', 'dist');
/** Live tiles open at most this many streams at once (a stuck tab must not hold every camera). */
export const MAX_LIVE_STREAMS = 32;

export const UI_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': UI_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

const FILES: Record<string, { file: string; type: string }> = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

export interface UiServer {
  /** For HubOptions.uiHandler. */
  handler(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** The hub the live tiles come from (it exists only after Hub.start, which needs the handler). */
  attach(hub: Hub): void;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

export function createUiServer(opts: { distDir?: string } = {}): UiServer {
  const dist = opts.distDir ?? DEFAULT_RENDERER_DIST;
  let hub: Hub | undefined;
  let liveStreams = 0;

  function serveIndex(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const path = join(dist, 'index.html');
    if (!existsSync(path)) {
      plain(res, 503, 'The hub UI is not built: run `npm run build` and reload.');
      return;
    }
    // Every request needs the token, the page's own script and stylesheet too: they carry it.
    const token = presentedToken(req, url) ?? '';
    const html = readFileSync(path, 'utf8').replaceAll('%ASSET_QUERY%', `?token=${encodeURIComponent(token)}`);
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  }

  function serveLive(req: IncomingMessage, res: ServerResponse, cameraId: string): void {
    if (hub === undefined) return plain(res, 503, 'the hub is starting');
    if (liveStreams >= MAX_LIVE_STREAMS) return plain(res, 429, 'too many live views open');
    if (hub.store.getCamera(cameraId) === undefined) return plain(res, 404, 'no such camera');
    let stop: (() => void) | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      liveStreams--;
      stop?.();
    };
    liveStreams++;
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    try {
      stop = hub.cameras.watchLocal(cameraId, httpLiveViewer(res, finish));
    } catch {
      // Removed between the check and here: the tile shows that the view ended.
      finish();
      res.end();
      return;
    }
    req.socket.setTimeout(0);
    res.on('close', finish);
  }

  return {
    attach(h) {
      hub = h;
    },
    handler(req, res, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const p = url.pathname;
      if (p === '/' || p === '/index.html') {
        serveIndex(req, res, url);
        return true;
      }
      const live = /^\/live\/([^/]{1,64})$/.exec(p);
      if (live) {
        serveLive(req, res, decodeURIComponent(live[1]!));
        return true;
      }
      const f = FILES[p];
      if (f === undefined) return false;
      const path = join(dist, f.file);
      if (!existsSync(path)) {
        plain(res, 503, 'The hub UI is not built: run `npm run build`.');
        return true;
      }
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': f.type });
      res.end(readFileSync(path));
      return true;
    },
  };
}
