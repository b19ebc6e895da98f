// The hub's local API: how `vigil camera add`, `vigil invite`, `vigil devices ...` (and the headless
// UI) reach a running hub. It listens on loopback only, and every request needs the token kept in
// DIR/api-token (mode 0600), compared in constant time: without it, every path answers 401.
//
// A thin adapter over HubService: `POST /api/call/NAME {"args": [...]}` runs call NAME (calls.ts
// checks the arguments) and answers its value as JSON, or `{"error", "code"}` with the status of
// the HubError's code. Any other path goes to the UI server (fallback), or is 404.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { CALL_PATH_PREFIX, CLIP_ID, CLIP_PATH_PREFIX } from '../../contract/hub-ui.ts';
import { isLocalCallName, runLocalCall } from './calls.ts';
import { isHubError, type HubErrorCode } from './errors.ts';
import type { HubService } from './service.ts';

export const MAX_API_BODY_BYTES = 64 * 1024;

/** The HTTP status of each HubError code. */
export const STATUS_OF: Readonly<Record<HubErrorCode, number>> = {
  'bad-argument': 400,
  'not-found': 404,
  conflict: 409,
};

/** A request this adapter refuses before any call runs. */
class RequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

export interface LocalApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token from `Authorization: Bearer T` or, for pages opened from the printed link, `?token=T`. */
export function presentedToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  return url.searchParams.get('token') ?? undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_API_BODY_BYTES) throw new RequestError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'request body is not JSON');
  }
}

/** The call's arguments: `{"args": [...]}`, or none without a body. */
function argsOf(body: unknown): readonly unknown[] {
  if (body === undefined) return [];
  const args = (body as { args?: unknown } | null)?.args;
  if (!Array.isArray(args)) throw new RequestError(400, 'the body must be {"args": [...]}');
  return args;
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value ?? null);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

/** A played recording's MP4 (HubService.playRecording), given once from the hub's memory; never cached. */
function sendClip(res: ServerResponse, service: HubService, id: string): void {
  const bytes = CLIP_ID.test(id) ? service.takeClip(id) : undefined;
  if (bytes === undefined) {
    send(res, 404, { error: 'no such clip (taken already, or older than a minute): play it again' });
    return;
  }
  res.writeHead(200, {
    'content-type': 'video/mp4',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(bytes);
}

export interface LocalApiOptions {
  host: string;
  port: number;
  token: string;
  service: HubService;
  /** Non-API requests (the UI's files) after the token check. */
  fallback?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
  onError?: (error: unknown) => void;
}

export async function startLocalApi(opts: LocalApiOptions): Promise<LocalApi & { server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!tokenMatches(opts.token, presentedToken(req, url))) {
      send(res, 401, { error: 'unauthorized: this hub needs its access token' });
      return;
    }
    if (url.pathname.startsWith(CLIP_PATH_PREFIX) && req.method === 'GET') {
      sendClip(res, opts.service, url.pathname.slice(CLIP_PATH_PREFIX.length));
      return;
    }
    const name = url.pathname.startsWith(CALL_PATH_PREFIX) ? url.pathname.slice(CALL_PATH_PREFIX.length) : undefined;
    if (name === undefined || req.method !== 'POST') {
      if (opts.fallback?.(req, res, url)) return;
      send(res, 404, { error: 'no such route' });
      return;
    }
    if (!isLocalCallName(name)) {
      send(res, 404, { error: `no such call: ${name.slice(0, 64)}` });
      return;
    }
    (async () => runLocalCall(opts.service, name, argsOf(await readJson(req))))().then(
      (value) => send(res, 200, value),
      (e: unknown) => {
        if (isHubError(e)) send(res, STATUS_OF[e.code], { error: e.message, code: e.code });
        else if (e instanceof RequestError) send(res, e.status, { error: e.message });
        else {
          opts.onError?.(e);
          send(res, 500, { error: e instanceof Error ? e.message : 'internal error' });
        }
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
