// Fetches a camera's snapshot JPEG from the URI GetSnapshotUri gave. Bounded (size, time), no
// redirects, and credentials go only to the host the owner added (the ONVIF service's host): a
// snapshot URI pointing elsewhere is fetched without them. HTTP digest (MD5 or SHA-256, qop=auth)
// is answered; Basic only when the camera asks for nothing better (it sends the password in clear
// on the LAN, as the camera demands).
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { OnvifError } from './errors.ts';

export const DEFAULT_MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;

export interface SnapshotFetchOptions {
  readonly username?: string;
  readonly password?: string;
  /** Credentials are sent only when the snapshot URI's host is this one. */
  readonly credentialHost?: string;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

function get(url: URL, headers: Record<string, string>, timeoutMs: number, maxBytes: number, where: string): Promise<Reply> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: 'GET', headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.byteLength;
        if (total > maxBytes) {
          req.destroy(new OnvifError('too-large', where, `snapshot over ${maxBytes} bytes; cut off`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    const deadline = setTimeout(() => req.destroy(new OnvifError('timeout', where, `no snapshot within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new OnvifError('timeout', where, `no snapshot within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof OnvifError ? e : new OnvifError('unreachable', where, `cannot fetch the snapshot (${(e as { code?: string }).code ?? e.message})`, { cause: e })));
    req.end();
  });
}

/** Parses one `Digest k=v, k="v"` challenge; undefined if it is not Digest. */
export function parseDigestChallenge(header: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/i.exec(header);
  if (!m) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const re = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[1]!); p !== null; p = re.exec(m[1]!)) out[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return out;
}

export function digestAuthorization(ch: Record<string, string>, method: string, uri: string, user: string, password: string, cnonce = randomBytes(8).toString('hex')): string {
  const algorithm = (ch['algorithm'] ?? 'MD5').toUpperCase();
  const hashName = algorithm.startsWith('SHA-256') ? 'sha256' : 'md5';
  const h = (s: string) => createHash(hashName).update(s).digest('hex');
  const realm = ch['realm'] ?? '';
  const nonce = ch['nonce'] ?? '';
  const qop = (ch['qop'] ?? '').split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
  const nc = '00000001';
  const ha1 = h(`${user}:${realm}:${password}`);
  const ha2 = h(`${method}:${uri}`);
  const response = qop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  return [`Digest username=${q(user)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(uri)}`, `algorithm=${algorithm}`, `response=${q(response)}`,
    ...(ch['opaque'] !== undefined ? [`opaque=${q(ch['opaque'])}`] : []), ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce=${q(cnonce)}`] : [])].join(', ');
}

export async function fetchSnapshot(uri: string, opts: SnapshotFetchOptions = {}): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new OnvifError('bad-reply', 'fetchSnapshot', 'snapshot URI does not parse');
  }
  const where = `fetchSnapshot(${url.host})`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OnvifError('bad-reply', where, 'snapshot URI is not http(s)');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  // Credentials a camera put into its URI are dropped: we use the owner's, and only for the owner's host.
  url.username = '';
  url.password = '';
  const mayAuth = opts.username !== undefined && opts.password !== undefined && opts.credentialHost !== undefined &&
    url.hostname.replace(/^\[|\]$/g, '') === opts.credentialHost;
  let reply = await get(url, {}, timeoutMs, maxBytes, where);
  if (reply.status === 401 && mayAuth) {
    const challenges: string[] = [];
    for (let i = 0; i + 1 < reply.rawHeaders.length; i += 2) if (reply.rawHeaders[i]!.toLowerCase() === 'www-authenticate') challenges.push(reply.rawHeaders[i + 1]!);
    const digests = challenges.map(parseDigestChallenge).filter((c) => c !== undefined);
    const digest = digests.find((c) => (c['algorithm'] ?? '').toUpperCase().startsWith('SHA-256')) ?? digests[0];
    let authorization: string | undefined;
    if (digest !== undefined) authorization = digestAuthorization(digest, 'GET', url.pathname + url.search, opts.username!, opts.password!);
    else if (challenges.some((c) => /^\s*Basic\b/i.test(c))) authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
    if (authorization !== undefined) reply = await get(url, { authorization }, timeoutMs, maxBytes, where);
  }
  if (reply.status === 401 || reply.status === 403) throw new OnvifError('auth', where, mayAuth ? 'the camera refused the user name or password' : 'the camera wants credentials, and this snapshot URI is not on the camera\'s own host');
  if (reply.status < 200 || reply.status > 299) throw new OnvifError('bad-reply', where, `the camera answered HTTP ${reply.status}`);
  const b = reply.body;
  if (b.byteLength < 4 || b[0] !== 0xff || b[1] !== 0xd8 || b[2] !== 0xff) throw new OnvifError('bad-reply', where, `not a JPEG (${b.byteLength} bytes)`);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
