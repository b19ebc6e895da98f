import { describe, it, expect, afterAll, afterEach } from 'vitest';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { RtspClient, RtspError, RtspVideoReader, parseWwwAuthenticate, type RtspVideoReaderOptions } from '../../native/rtsp-client.ts';
import type { AccessUnit } from '../../native/access-unit.ts';
import { startCamera, stopAllCameras } from '../support/camera/camera.ts';
import { closedPort } from '../support/ports.ts';

const FPS = 15;
const TICKS = 90000 / FPS;
const PASSWORD = 'S3cr3t:p@ss/wd';

afterAll(async () => {
  await stopAllCameras();
});

const readers = new Set<RtspVideoReader>();
afterEach(async () => {
  await Promise.all([...readers].map((r) => r.close()));
  readers.clear();
});

interface Run {
  reader: RtspVideoReader;
  aus: Array<AccessUnit & { at: number }>;
  closed: Promise<RtspError | undefined>;
}

async function open(options: Omit<RtspVideoReaderOptions, 'onAccessUnit' | 'onClose'>): Promise<Run> {
  const aus: Run['aus'] = [];
  let closedWith!: (e: RtspError | undefined) => void;
  const closed = new Promise<RtspError | undefined>((r) => (closedWith = r));
  const reader = await RtspVideoReader.describe({
    ...options,
    onAccessUnit: (au) => aus.push({ ...au, at: performance.now() }),
    onClose: (err) => closedWith(err),
  });
  readers.add(reader);
  return { reader, aus, closed };
}

function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (cond()) {
        clearInterval(tick);
        resolve();
      } else if (Date.now() - t0 > timeoutMs) {
        clearInterval(tick);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

const h264Types = (au: AccessUnit): number[] => au.nals.map((n) => n[0]! & 0x1f);
const h265Types = (au: AccessUnit): number[] => au.nals.map((n) => (n[0]! >> 1) & 0x3f);

/** Indexes of the access units that hold a keyframe. */
function keyframes(aus: AccessUnit[], isKey: (types: number[]) => boolean, types: (au: AccessUnit) => number[]): number[] {
  return aus.flatMap((au, i) => (isKey(types(au)) ? [i] : []));
}

describe('RtspVideoReader against the test camera (GStreamer)', () => {
  for (const codec of ['h264', 'h265'] as const) {
    it(`${codec}: one access unit per frame, at the camera's rate, keyframes at the GOP, times 90000/fps apart`, async () => {
      const gop = 10;
      const cam = await startCamera({ codec, size: '320x240', fps: FPS, gop });
      const run = await open({ url: cam.url });
      expect(run.reader.codec).toBe(codec);
      expect(run.reader.info.video).toMatchObject({ codec, clockRate: 90000, framerate: FPS });
      expect(run.reader.info.video!.parameterSets.length).toBe(codec === 'h264' ? 2 : 3);
      await run.reader.play();
      await waitFor('24 access units', () => run.aus.length >= 24);
      const aus = run.aus.slice(0, 24);
      for (let i = 1; i < aus.length; i++) expect(aus[i]!.time - aus[i - 1]!.time).toBe(TICKS);
      const types = codec === 'h264' ? h264Types : h265Types;
      // x265 makes the first keyframe an IDR (19/20) and the later ones CRA (21, open GOP): all IRAP.
      const isKey = codec === 'h264' ? (t: number[]) => t.includes(5) : (t: number[]) => t.some((x) => x >= 16 && x <= 21);
      const keys = keyframes(aus, isKey, types);
      expect(keys.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < keys.length; i++) expect(keys[i]! - keys[i - 1]!).toBe(gop);
      if (codec === 'h265') expect(types(aus[keys[0]!]!).some((t) => t === 19 || t === 20)).toBe(true);
      // Arriving as the camera makes them (15 fps), not in bursts held back: 20 intervals ≈ 1.33 s.
      const span = aus[23]!.at - aus[3]!.at;
      expect(span).toBeGreaterThan((20 / FPS) * 1000 * 0.7);
      expect(span).toBeLessThan((20 / FPS) * 1000 * 1.3);
      const stats = run.reader.stats();
      expect(stats.rtp).toMatchObject({ gaps: 0, dropped: 0 });
      await run.reader.close();
      expect(await run.closed).toBeUndefined();
    });
  }

  it('--slices 4: an access unit holds the picture\'s several slices', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS, extraArgs: ['--slices', '4'] });
    const run = await open({ url: cam.url });
    await run.reader.play();
    await waitFor('6 access units', () => run.aus.length >= 6);
    for (const au of run.aus.slice(0, 6)) {
      const slices = h264Types(au).filter((t) => t === 1 || t === 5);
      expect(slices.length).toBe(4);
    }
  });

  for (const auth of ['basic', 'digest', 'both'] as const) {
    it(`authenticates with ${auth}`, async () => {
      const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS, auth, user: 'admin', password: PASSWORD });
      // Credentials percent-encoded in the URL for one, as options for the others.
      const url = auth === 'both' ? cam.url.replace('rtsp://', `rtsp://admin:${encodeURIComponent(PASSWORD)}@`) : cam.url;
      const run = await open(auth === 'both' ? { url } : { url, username: 'admin', password: PASSWORD });
      await run.reader.play();
      await waitFor('an access unit', () => run.aus.length >= 1);
    });
  }

  it('a wrong password: "unauthorized" with 401 in the message, the password nowhere', async () => {
    const cam = await startCamera({ codec: 'h264', size: '320x240', fps: FPS, auth: 'both', user: 'admin', password: PASSWORD });
    const wrong = 'Wr0ng:p@ss!';
    for (const attempt of [
      { url: cam.url, username: 'admin', password: wrong },
      { url: cam.url.replace('rtsp://', `rtsp://admin:${encodeURIComponent(wrong)}@`) },
    ]) {
      const err = await RtspVideoReader.describe({ ...attempt, onAccessUnit: () => undefined, onClose: () => undefined }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RtspError);
      const e = err as RtspError;
      expect(e.code).toBe('unauthorized');
      expect(e.message).toContain('401 Unauthorized');
      for (const text of [e.message, e.stack ?? '', JSON.stringify(e)]) {
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(encodeURIComponent(wrong));
        expect(text).not.toContain(Buffer.from(`admin:${wrong}`).toString('base64'));
      }
    }
  });
});

// ---- a hostile camera on loopback ----

interface Request {
  method: string;
  url: string;
  cseq: string;
  headers: Map<string, string>;
}

type Handler = (req: Request, socket: net.Socket) => void;

const servers = new Set<net.Server>();
const serverSockets = new Set<net.Socket>();
afterEach(async () => {
  for (const s of serverSockets) s.destroy();
  serverSockets.clear();
  await Promise.all([...servers].map((s) => new Promise((r) => s.close(r))));
  servers.clear();
});

/** A server that hands each request to `handler`; the URL to give the reader. */
async function hostile(handler: Handler, onConnect?: (socket: net.Socket) => void): Promise<{ url: string; requests: Request[] }> {
  const requests: Request[] = [];
  const server = net.createServer((socket) => {
    serverSockets.add(socket);
    socket.on('error', () => undefined);
    onConnect?.(socket);
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      let end: number;
      while ((end = text.indexOf('\r\n\r\n')) >= 0) {
        const [first, ...lines] = text.slice(0, end).split('\r\n');
        text = text.slice(end + 4);
        const [method, url] = first!.split(' ');
        const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const req = { method: method!, url: url!, cseq: headers.get('cseq') ?? '', headers };
        requests.push(req);
        handler(req, socket);
      }
    });
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return { url: `rtsp://127.0.0.1:${port}/cam`, requests };
}

function reply(socket: net.Socket, req: Request, status = '200 OK', headers: Record<string, string> = {}, body = ''): void {
  let text = `RTSP/1.0 ${status}\r\nCSeq: ${req.cseq}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  if (body) text += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  socket.write(`${text}\r\n${body}`);
}

const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=x', 't=0 0', 'a=control:*', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H264/90000', 'a=control:stream=0', ''].join('\r\n');

/** A camera that answers DESCRIBE, SETUP and PLAY, then does `afterPlay`. */
function camera(afterPlay: (socket: net.Socket, req: Request) => void, other?: Handler): Handler {
  return (req, socket) => {
    if (req.method === 'DESCRIBE') reply(socket, req, '200 OK', { 'Content-Type': 'application/sdp', 'Content-Base': 'rtsp://127.0.0.1/cam/' }, SDP);
    else if (req.method === 'SETUP') reply(socket, req, '200 OK', { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1', Session: 'ab12;timeout=2' });
    else if (req.method === 'PLAY') {
      reply(socket, req);
      afterPlay(socket, req);
    } else if (other) other(req, socket);
    else reply(socket, req);
  };
}

/** `$ 0 len` + an RTP packet carrying one single-NAL picture (an IDR slice). */
function frame(seq: number, ts: number, channel = 0): Buffer {
  const rtp = Buffer.from([0x80, 0xe0, seq >> 8, seq & 0xff, ts >>> 24, (ts >> 16) & 0xff, (ts >> 8) & 0xff, ts & 0xff, 0, 0, 0, 1, 0x65, 0x88, seq & 0xff]);
  return Buffer.concat([Buffer.from([0x24, channel, 0, rtp.length]), rtp]);
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

async function expectRejects(p: Promise<unknown>, code: string): Promise<RtspError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RtspError);
  expect((err as RtspError).code).toBe(code);
  return err as RtspError;
}

const noop = { onAccessUnit: () => undefined, onClose: () => undefined };

describe('RtspVideoReader against a hostile camera', () => {
  it('garbage instead of a status line: protocol', async () => {
    const before = timers();
    for (const garbage of ['HTTP/1.1 200 OK\r\n\r\n', '\x00\x01\x02 binary', 'hello world\r\n\r\n']) {
      const { url } = await hostile((_req, socket) => socket.write(garbage, 'latin1'));
      await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'protocol');
    }
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('headers that never end: too-large, bounded', async () => {
    const before = timers();
    const { url } = await hostile((req, socket) => {
      socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${req.cseq}\r\n`);
      const junk = `X-Junk: ${'a'.repeat(1000)}\r\n`;
      const more = (): void => {
        if (!socket.destroyed) socket.write(junk.repeat(8), () => setImmediate(more));
      };
      more();
    });
    await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'too-large');
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('a huge Content-Length: too-large at once', async () => {
    const { url } = await hostile((req, socket) => socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${req.cseq}\r\nContent-Length: 4000000000\r\n\r\nv=0\r\n`));
    const t0 = Date.now();
    await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'too-large');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('an SDP with no video: no-video', async () => {
    const audioOnly = ['v=0', 'm=audio 0 RTP/AVP 0', 'a=control:a', ''].join('\r\n');
    const { url } = await hostile((req, socket) => reply(socket, req, '200 OK', { 'Content-Type': 'application/sdp' }, audioOnly));
    const err = await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'no-video');
    expect(err.message).toContain('pcmu');
  });

  it('an SDP that is not one: sdp', async () => {
    const { url } = await hostile((req, socket) => reply(socket, req, '200 OK', {}, '<html>login</html>'));
    await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'sdp');
  });

  it('a non-2xx answer: status, with the status line', async () => {
    const { url } = await hostile((req, socket) => reply(socket, req, '404 Stream Not Found'));
    const err = await expectRejects(RtspVideoReader.describe({ url, ...noop }), 'status');
    expect(err.status).toBe(404);
    expect(err.message).toContain('RTSP/1.0 404 Stream Not Found');
  });

  it('DESCRIBE never answered: timeout, no timer left', async () => {
    const before = timers();
    const { url } = await hostile(() => undefined);
    const t0 = Date.now();
    await expectRejects(RtspVideoReader.describe({ url, timeoutMs: 300, ...noop }), 'timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('connect refused: connect; a bad URL: bad-options', async () => {
    await expectRejects(RtspVideoReader.describe({ url: `rtsp://127.0.0.1:${await closedPort()}/cam`, ...noop }), 'connect');
    await expectRejects(RtspVideoReader.describe({ url: 'http://127.0.0.1/cam', ...noop }), 'bad-options');
    await expectRejects(RtspVideoReader.describe({ url: 'not a url', ...noop }), 'bad-options');
  });

  it('the connection closed mid-PLAY: closed, from play() and onClose once', async () => {
    const before = timers();
    const answer = camera(() => undefined);
    const { url } = await hostile((req, socket) => (req.method === 'PLAY' ? socket.destroy() : answer(req, socket)));
    let closes = 0;
    let closeErr: RtspError | undefined;
    const reader = await RtspVideoReader.describe({ url, onAccessUnit: () => undefined, onClose: (e) => ((closes += 1), (closeErr = e)) });
    readers.add(reader);
    await expectRejects(reader.play(), 'closed');
    expect(closes).toBe(1);
    expect(closeErr?.code).toBe('closed');
    await reader.close();
    expect(closes).toBe(1);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('an interleaved frame announcing 65535 bytes, then nothing: timeout while playing', async () => {
    const before = timers();
    const { url } = await hostile(
      camera((socket) => {
        socket.write(Buffer.concat([frame(1, 1000), Buffer.from([0x24, 0, 0xff, 0xff]), Buffer.alloc(100)]));
      }),
    );
    const run = await open({ url, idleTimeoutMs: 300 });
    await run.reader.play();
    const err = await run.closed;
    expect(err?.code).toBe('timeout');
    expect(run.aus.map((a) => a.time)).toEqual([1000]);
    await run.reader.close();
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('401 twice: unauthorized after exactly one retry, with Digest (qop=auth) computed right', async () => {
    const { url, requests } = await hostile((req, socket) =>
      reply(socket, req, '401 Unauthorized', { 'WWW-Authenticate': 'Basic realm="cam", Digest realm="cam", nonce="abc123", qop="auth", opaque="xyz"' }),
    );
    const err = await expectRejects(RtspVideoReader.describe({ url, username: 'admin', password: PASSWORD, ...noop }), 'unauthorized');
    expect(err.message).toContain('401 Unauthorized');
    expect(err.message).not.toContain(PASSWORD);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.headers.has('authorization')).toBe(false);
    const auth = requests[1]!.headers.get('authorization')!;
    expect(auth).toMatch(/^Digest /);
    const p = parseWwwAuthenticate(auth)[0]!.params;
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`admin:cam:${PASSWORD}`);
    const ha2 = md5(`DESCRIBE:${url}`);
    expect(p.get('uri')).toBe(url);
    expect(p.get('opaque')).toBe('xyz');
    expect(p.get('response')).toBe(md5(`${ha1}:abc123:${p.get('nc')}:${p.get('cnonce')}:auth:${ha2}`));
  });

  it('a Digest challenge only for SHA-256: \'unsupported\' (ffmpeg may try), not \'unauthorized\' (a wrong password, permanent)', async () => {
    const { url, requests } = await hostile((req, socket) =>
      reply(socket, req, '401 Unauthorized', { 'WWW-Authenticate': 'Digest realm="cam", nonce="n1", algorithm=SHA-256' }),
    );
    const err = await expectRejects(RtspVideoReader.describe({ url, username: 'admin', password: PASSWORD, ...noop }), 'unsupported');
    expect(err.message).not.toContain(PASSWORD);
    expect(requests).toHaveLength(1); // no answer computed with the wrong algorithm
  });

  it('a hostile challenge: 64 KiB of white space before a stray quote is parsed in one pass, and only its first 4 KiB', () => {
    // With two white-space quantifiers the parser split the run every way: quadratic, seconds per answer.
    const hostileValue = `Digest${' '.repeat(64 * 1024)}"`;
    expect(parseWwwAuthenticate(hostileValue).map((c) => c.scheme)).toEqual(['digest']);
    const late = `Basic realm="r"${' '.repeat(5000)}, Digest realm="y", nonce="z"`;
    expect(parseWwwAuthenticate(late).map((c) => c.scheme)).toEqual(['basic']);
  });

  it('Digest without qop, and Basic when that is all there is', async () => {
    const seen: string[] = [];
    for (const challenge of ['Digest realm="r", nonce="n0"', 'Basic realm="r"']) {
      const { url, requests } = await hostile((req, socket) => {
        if (!req.headers.has('authorization')) reply(socket, req, '401 Unauthorized', { 'WWW-Authenticate': challenge });
        else reply(socket, req, '200 OK', {}, SDP);
      });
      const reader = await RtspVideoReader.describe({ url: url.replace('rtsp://', 'rtsp://admin:pw@'), ...noop });
      readers.add(reader);
      seen.push(requests[1]!.headers.get('authorization')!);
      expect(requests[1]!.url).toBe(url); // no userinfo on the wire
    }
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
    const digest = parseWwwAuthenticate(seen[0]!)[0]!.params;
    expect(digest.get('response')).toBe(md5(`${md5('admin:r:pw')}:n0:${md5(`DESCRIBE:${digest.get('uri')}`)}`));
    expect(digest.has('qop')).toBe(false);
    expect(seen[1]).toBe(`Basic ${Buffer.from('admin:pw').toString('base64')}`);
  });

  it('a response between packets, split reads, RTCP ignored, GET_PARAMETER 501 → OPTIONS keepalive', async () => {
    const before = timers();
    let timer: ReturnType<typeof setInterval> | undefined;
    const { url, requests } = await hostile(
      camera(
        (socket) => {
          let seq = 0;
          // A picture every 40 ms, written in pieces of 1..7 bytes (reads cut anywhere), an RTCP frame between.
          timer = setInterval(() => {
            if (socket.destroyed) return clearInterval(timer);
            const bytes = Buffer.concat([frame(seq, seq * 3000), frame(seq, 0, 1)]);
            seq++;
            for (let i = 0; i < bytes.length; ) {
              const n = 1 + (i % 7);
              socket.write(bytes.subarray(i, i + n));
              i += n;
            }
          }, 40);
        },
        (req, socket) => {
          if (req.method === 'GET_PARAMETER') reply(socket, req, '501 Not Implemented');
          else reply(socket, req);
        },
      ),
      (socket) => socket.setNoDelay(true),
    );
    try {
      const run = await open({ url, idleTimeoutMs: 2000 });
      await run.reader.play();
      // Session timeout=2: a keepalive every second.
      await waitFor('GET_PARAMETER then OPTIONS', () => requests.some((r) => r.method === 'OPTIONS'), 4000);
      const methods = requests.map((r) => r.method);
      expect(methods.slice(0, 4)).toEqual(['DESCRIBE', 'SETUP', 'PLAY', 'GET_PARAMETER']);
      expect(requests.find((r) => r.method === 'GET_PARAMETER')!.headers.get('session')).toBe('ab12');
      const times = run.aus.map((a) => a.time);
      expect(times.length).toBeGreaterThan(20);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(3000);
      expect(run.reader.stats().rtp).toMatchObject({ gaps: 0, dropped: 0 });
      await Promise.all([run.reader.close(), run.reader.close()]);
      expect(await run.closed).toBeUndefined();
      expect(requests.at(-1)!.method).toBe('TEARDOWN');
      expect(requests.filter((r) => r.method === 'TEARDOWN')).toHaveLength(1);
    } finally {
      clearInterval(timer);
    }
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('onAccessUnit throwing ends the reader with "callback", not the process', async () => {
    const { url } = await hostile(camera((socket) => socket.write(frame(1, 1))));
    let closeErr: RtspError | undefined;
    const reader = await RtspVideoReader.describe({
      url,
      onAccessUnit: () => {
        throw new Error('consumer bug');
      },
      onClose: (e) => (closeErr = e),
    });
    readers.add(reader);
    await reader.play();
    await waitFor('close', () => closeErr !== undefined, 2000);
    expect(closeErr?.code).toBe('callback');
  });

  it('RtspClient refuses to put a CR/LF from a camera into a request', async () => {
    const { url } = await hostile((req, socket) => reply(socket, req));
    const client = await RtspClient.connect({ url });
    await expectRejects(client.request('SETUP', `${url}/x\r\nEvil: 1`), 'protocol');
    client.destroy();
  });
});
