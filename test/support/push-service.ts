// A Web Push service on loopback for tests (RFC 8030), written from the RFCs rather than from the
// web-push package the hub uses, so that it checks the hub's requests independently: the VAPID
// header (RFC 8292: an ES256 JWT whose audience is this origin, not expired, with a subject, signed
// by the key in k=), and the body decrypted with the subscription's own keys (RFC 8291 aes128gcm,
// RFC 8188 framing). Each subscription is a path (/push/<id>) with keys the test holds; a
// subscription can be set to answer 410 Gone.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface TestSubscription {
  readonly id: string;
  readonly endpoint: string;
  /** What the phone's browser would hand the app: PushSubscription.toJSON().keys. */
  readonly p256dh: string;
  readonly auth: string;
  readonly ecdh: ECDH;
  readonly authSecret: Buffer;
}

export interface ReceivedPush {
  readonly subscription: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The encrypted body's length, as the push service sees it. */
  readonly bodyBytes: number;
  /** The VAPID public key (base64url) the request was signed with. */
  readonly vapidKey: string;
  readonly jwt: { aud: string; exp: number; sub: string };
  /** The RFC 8291 plaintext: what the browser hands the service worker. */
  readonly plaintext: Buffer;
}

const b64u = (b: Buffer): string => b.toString('base64url');

function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** RFC 8291 §3.4 + RFC 8188: one record, header salt(16) rs(4) idlen(1) keyid(65). */
export function decryptAes128gcm(body: Buffer, sub: Pick<TestSubscription, 'ecdh' | 'authSecret'>): Buffer {
  if (body.length < 21 + 65 + 17) throw new Error('body too short for aes128gcm');
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Error(`keyid length ${idlen}, not 65`);
  const asPublic = body.subarray(21, 86);
  const record = body.subarray(86);
  const rs = body.readUInt32BE(16);
  if (record.length > rs) throw new Error('more than one record');
  const uaPublic = sub.ecdh.getPublicKey();
  const ecdhSecret = sub.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = hkdf(sub.authSecret, ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('last record delimiter missing');
  return padded.subarray(0, end);
}

/** RFC 8292: `vapid t=<jwt>, k=<key>`; the JWT checked against k and this origin. */
export function checkVapid(authorization: string | undefined, origin: string): { vapidKey: string; jwt: ReceivedPush['jwt'] } {
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (m === null) throw new Error('no VAPID authorization');
  const [head, payload, signature] = m[1]!.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string; typ?: string };
  if (header.alg !== 'ES256') throw new Error(`JWT alg ${header.alg}`);
  const k = Buffer.from(m[2]!, 'base64url');
  if (k.length !== 65 || k[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(k.subarray(1, 33)), y: b64u(k.subarray(33)) }, format: 'jwk' });
  if (!verify('sha256', Buffer.from(`${head}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) {
    throw new Error('VAPID JWT signature does not verify');
  }
  const jwt = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ReceivedPush['jwt'];
  if (jwt.aud !== origin) throw new Error(`JWT aud ${jwt.aud}, not ${origin}`);
  const now = Math.floor(Date.now() / 1000);
  if (!(jwt.exp > now && jwt.exp <= now + 24 * 3600)) throw new Error('JWT exp not within 24 h');
  if (!/^(mailto:|https:)/.test(jwt.sub)) throw new Error('JWT sub is not mailto: or https:');
  return { vapidKey: m[2]!, jwt };
}

export class TestPushService {
  readonly received: ReceivedPush[] = [];
  /** Requests refused (bad VAPID, undecryptable), with why. */
  readonly refused: string[] = [];
  readonly #subs = new Map<string, TestSubscription>();
  readonly #gone = new Set<string>();
  #waiters: (() => void)[] = [];

  private constructor(private readonly server: Server, readonly origin: string) {}

  static async start(): Promise<TestPushService> {
    const handler: { service?: TestPushService } = {};
    const server = createServer((req, res) => handler.service!.onRequest(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    handler.service = new TestPushService(server, `http://127.0.0.1:${port}`);
    return handler.service;
  }

  subscribe(): TestSubscription {
    const id = randomBytes(12).toString('hex');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const authSecret = randomBytes(16);
    const sub = { id, endpoint: `${this.origin}/push/${id}`, p256dh: b64u(ecdh.getPublicKey()), auth: b64u(authSecret), ecdh, authSecret };
    this.#subs.set(id, sub);
    return sub;
  }

  /** Later pushes to it are answered 410 Gone (the browser dropped the subscription). */
  gone(id: string): void {
    this.#gone.add(id);
  }

  /** Resolves once `n` pushes were received in all (bounded by the caller's test timeout and `ms`). */
  async waitFor(n: number, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length + this.refused.length < n) {
      if (Date.now() > deadline) throw new Error(`push service: ${this.received.length} received, ${this.refused.length} refused, wanted ${n}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 8192) chunks.push(c);
    });
    req.on('end', () => {
      const id = /^\/push\/([0-9a-f]+)$/.exec(req.url ?? '')?.[1];
      const sub = id === undefined ? undefined : this.#subs.get(id);
      const answer = (status: number): void => {
        res.writeHead(status).end();
        for (const w of this.#waiters.splice(0)) w();
      };
      if (req.method !== 'POST' || sub === undefined) return answer(404);
      if (this.#gone.has(sub.id)) {
        this.refused.push(`${sub.id}: gone`);
        return answer(410);
      }
      try {
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding ${req.headers['content-encoding']}`);
        if (!/^\d+$/.test(String(req.headers.ttl))) throw new Error('no TTL');
        const { vapidKey, jwt } = checkVapid(req.headers.authorization, this.origin);
        const body = Buffer.concat(chunks);
        const plaintext = decryptAes128gcm(body, sub);
        this.received.push({ subscription: sub.id, headers: req.headers, bodyBytes: body.length, vapidKey, jwt, plaintext });
        answer(201);
      } catch (e) {
        this.refused.push(`${sub.id}: ${e instanceof Error ? e.message : String(e)}`);
        answer(400);
      }
    });
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
