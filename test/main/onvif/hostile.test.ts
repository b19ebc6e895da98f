// ONVIF replies and snapshots from a hostile or broken device, served on loopback HTTP: refused
// with typed errors, bounded in size and time; credentials only go to the camera's own host.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { declarationWatch } from '../../../main/onvif/bounded-agent.ts';
import { OnvifSession } from '../../../main/onvif/client.ts';
import { checkPtzArgs } from '../../../main/onvif/camera-control.ts';
import { isOnvifError, type OnvifErrorCode } from '../../../main/onvif/errors.ts';
import { digestAuthorization, fetchSnapshot, parseDigestChallenge } from '../../../main/onvif/snapshot-fetch.ts';
import { HOSTILE } from '../discovery/fixtures.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function codeOf(p: Promise<unknown>): Promise<OnvifErrorCode | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isOnvifError(e)) return e.code;
    throw e;
  }
}

const soap = (body: string) => `<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>${body}</s:Body></s:Envelope>`;

describe('ONVIF replies from a hostile device', () => {
  it('a reply with a DTD (XXE, billion laughs) is cut off before parsing', async () => {
    for (const doc of [HOSTILE.xxe, HOSTILE.billionLaughs]) {
      const base = await serve((_req, res) => { res.setHeader('content-type', 'application/soap+xml'); res.end(doc); });
      expect(await codeOf(OnvifSession.connect({ xaddr: `${base}/onvif/device_service`, username: 'u', password: 'p', timeoutMs: 3000 }))).toBe('hostile-reply');
    }
  });

  it('a DTD split across HTTP chunks is still refused (the check reads the de-chunked body)', async () => {
    // Each `<!` goes out as the last bytes of one chunk and its name as the first of the next, so on
    // the socket `<!DO` and `CTYPE` are separated by a chunk-size line.
    const pieces = (doc: string) => doc.split(/(?<=<![A-Za-z]{2})/);
    for (const doc of [HOSTILE.xxe, HOSTILE.billionLaughs, HOSTILE.entityOnly]) {
      expect(pieces(doc).length).toBeGreaterThan(1);
      let sent = 0;
      const base = await serve((_req, res) => {
        res.setHeader('content-type', 'application/soap+xml');
        for (const p of pieces(doc)) res.write(p);
        res.end();
        sent++;
      });
      expect(await codeOf(OnvifSession.connect({ xaddr: `${base}/onvif/device_service`, username: 'u', password: 'p', timeoutMs: 3000 }))).toBe('hostile-reply');
      expect(sent).toBeGreaterThan(0);
    }
  });

  it('a well-formed reply split at every byte passes the check (no false refusal at chunk edges)', async () => {
    const reply = soap('<!-- comment --><tds:GetSystemDateAndTimeResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><![CDATA[x]]></tds:GetSystemDateAndTimeResponse>');
    const base = await serve((_req, res) => {
      res.setHeader('content-type', 'application/soap+xml');
      for (const c of reply) res.write(c);
      res.end();
    });
    // Not a camera, so connecting fails later on, but not as a hostile reply.
    expect(await codeOf(OnvifSession.connect({ xaddr: `${base}/onvif/device_service`, timeoutMs: 3000 }))).not.toBe('hostile-reply');
  });

  it('an endless reply is cut off at the size bound', async () => {
    const base = await serve((_req, res) => {
      res.write(soap(''));
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => { while (res.write(chunk)) { /* fill */ } };
      res.on('drain', pump);
      pump();
    });
    const t0 = Date.now();
    expect(await codeOf(OnvifSession.connect({ xaddr: `${base}/onvif/device_service`, maxReplyBytes: 256 * 1024, timeoutMs: 3000 }))).toBe('too-large');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('silence is a time-out, a closed port is unreachable, a bad URL is refused before any request', async () => {
    const base = await serve(() => { /* never answers */ });
    expect(await codeOf(OnvifSession.connect({ xaddr: `${base}/onvif/device_service`, timeoutMs: 300 }))).toBe('timeout');
    expect(await codeOf(OnvifSession.connect({ xaddr: 'http://127.0.0.1:1/onvif/device_service', timeoutMs: 1000 }))).toBe('unreachable');
    expect(await codeOf(OnvifSession.connect({ xaddr: 'http://user:pw@127.0.0.1/onvif' }))).toBe('invalid-argument');
    expect(await codeOf(OnvifSession.connect({ xaddr: 'file:///etc/passwd' }))).toBe('invalid-argument');
  });
});

describe('declarationWatch', () => {
  const feed = (pieces: string[]) => {
    const declares = declarationWatch();
    return pieces.some((p) => declares(Buffer.from(p, 'latin1')));
  };

  it('finds a declaration however the body is cut, and passes comments and CDATA however cut', () => {
    for (const doc of [HOSTILE.xxe, HOSTILE.doctypeLowercase, HOSTILE.entityOnly]) {
      for (let i = 1; i < doc.length; i++) expect(feed([doc.slice(0, i), doc.slice(i)]), `${doc} cut at ${i}`).toBe(true);
      expect(feed([...doc])).toBe(true);
    }
    const clean = '<a><!-- <! x --><![CDATA[<!]]>a<!</a>';
    for (let i = 1; i < clean.length; i++) expect(feed([clean.slice(0, i), clean.slice(i)]), `cut at ${i}`).toBe(false);
    expect(feed([...clean])).toBe(false);
  });
});

describe('fetchSnapshot', () => {
  const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

  it('answers a digest challenge (MD5, qop=auth) and returns the JPEG', async () => {
    let seen = '';
    const base = await serve((req, res) => {
      seen = req.headers.authorization ?? '';
      if (!seen.startsWith('Digest ')) {
        res.writeHead(401, { 'www-authenticate': 'Digest realm="cam", qop="auth", nonce="abc", opaque="o1"' });
        return res.end();
      }
      const f = parseDigestChallenge(seen)!;
      const want = digestAuthorization({ realm: 'cam', qop: 'auth', nonce: 'abc', opaque: 'o1' }, 'GET', '/snap.jpg?x=1', 'admin', 'pw', f['cnonce']);
      res.writeHead(seen === want ? 200 : 403).end(seen === want ? JPEG : undefined);
    });
    const jpeg = await fetchSnapshot(`${base}/snap.jpg?x=1`, { username: 'admin', password: 'pw', credentialHost: '127.0.0.1' });
    expect(Buffer.from(jpeg)).toEqual(JPEG);
    expect(seen).toMatch(/^Digest username="admin", realm="cam".*qop=auth/);
  });

  it('Basic when that is all the camera asks for', async () => {
    const base = await serve((req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('admin:pw').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="cam"' });
        return res.end();
      }
      res.end(JPEG);
    });
    expect((await fetchSnapshot(`${base}/s.jpg`, { username: 'admin', password: 'pw', credentialHost: '127.0.0.1' })).byteLength).toBe(JPEG.length);
  });

  it('never sends credentials to a host other than the camera\'s', async () => {
    let sawAuth = false;
    const base = await serve((req, res) => {
      if (req.headers.authorization !== undefined) sawAuth = true;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="phish"' }).end();
    });
    expect(await codeOf(fetchSnapshot(`${base}/s.jpg`, { username: 'admin', password: 'pw', credentialHost: '192.0.2.10' }))).toBe('auth');
    expect(sawAuth).toBe(false);
  });

  it('refuses a reply that is not a JPEG, an oversized one, and a redirect', async () => {
    const html = await serve((_req, res) => res.end('<html>login</html>'));
    expect(await codeOf(fetchSnapshot(`${html}/s.jpg`))).toBe('bad-reply');
    const big = await serve((_req, res) => { res.write(JPEG); res.end(Buffer.alloc(300_000)); });
    expect(await codeOf(fetchSnapshot(`${big}/s.jpg`, { maxBytes: 100_000 }))).toBe('too-large');
    const redirect = await serve((_req, res) => res.writeHead(302, { location: 'http://198.51.100.1/x.jpg' }).end());
    expect(await codeOf(fetchSnapshot(`${redirect}/s.jpg`))).toBe('bad-reply');
  });
});

describe('checkPtzArgs', () => {
  it('refuses out-of-range, ambiguous and injecting arguments before any request', () => {
    const bad = [{}, { stop: true, preset: 1 }, { move: [2, 0, 0] as const }, { move: [Number.NaN, 0, 0] as const }, { move: [0, 0, 0] as const, seconds: 31 },
      { preset: 'P1</PresetToken>' }, { preset: -1 }, { preset: 1.5 }];
    for (const args of bad) expect(() => checkPtzArgs(args), JSON.stringify(args)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => checkPtzArgs({ move: [0.5, -0.5, 0], seconds: 2 })).not.toThrow();
    expect(() => checkPtzArgs({ preset: 'Home' })).not.toThrow();
  });
});
