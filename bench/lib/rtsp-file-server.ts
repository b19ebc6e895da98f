// A cheap RTSP camera for load: one Node process serving a pre-encoded H.264 clip (Annex B, an
// access unit delimiter before each frame, as libx264 writes with aud=1), looped at its frame rate,
// on any path, to any number of clients, over RTSP/TCP with RTP interleaved (RFC 2326 §10.12; RFC
// 6184 single NAL unit and FU-A packets). Each PLAY starts its own copy of the clip at frame 0 (a
// keyframe) with timestamps that keep growing across loops. The clip is packetized once; per frame
// and client only the 16 header bytes of each packet are written. No encoder runs: 32 cameras at
// 4 Mbit/s cost this process a small share of a core, where 32 GStreamer encoders would not fit on
// two cores. Used by bench/recording.bench.ts.
//
//   node --import tsx bench/lib/rtsp-file-server.ts CLIP.h264 FPS RUN_SECONDS
//
// Prints {"event":"ready","port":N} once listening on 127.0.0.1; a line "stats" on stdin prints
// {"event":"stats",...}; it exits when stdin closes (the bench died) and after RUN_SECONDS.
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [clipFile, fpsArg, runArg] = process.argv.slice(2);
if (clipFile === undefined || fpsArg === undefined || runArg === undefined) throw new Error('usage: rtsp-file-server.ts CLIP.h264 FPS RUN_SECONDS');
const FPS = Number(fpsArg);
const RUN_SECONDS = Number(runArg);
/** RTP payload bytes at most (a FU-A splits a larger NAL unit). */
const MTU = 1400;
/** A client this far behind (bytes queued in its socket) is dropped, and counted. */
const MAX_QUEUED = 16 * 1024 * 1024;
const PAYLOAD_TYPE = 96;
const TICK_MS = 5;

// ---- the clip, packetized once -----------------------------------------------------------------

/** NAL units of an Annex B stream (start codes removed). */
function nalUnits(b: Buffer): Buffer[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < b.length; i++) {
    if (b[i] === 0 && b[i + 1] === 0) {
      if (b[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      } else if (b[i + 2] === 0 && b[i + 3] === 1) {
        starts.push({ at: i, len: 4 });
        i += 3;
      }
    }
  }
  return starts.map((s, k) => b.subarray(s.at + s.len, k + 1 < starts.length ? starts[k + 1]!.at : b.length)).filter((n) => n.length > 0);
}

const nals = nalUnits(readFileSync(clipFile));
const frames: Buffer[][] = []; // per frame: RTP payloads
let sps: Buffer | undefined;
let pps: Buffer | undefined;
let current: Buffer[] | undefined;
for (const nal of nals) {
  const type = nal[0]! & 0x1f;
  if (type === 9) {
    current = [];
    frames.push(current);
    continue; // the delimiter itself is not sent
  }
  if (type === 7) sps ??= nal;
  if (type === 8) pps ??= nal;
  if (current === undefined) continue; // before the first delimiter: the encoder's SEI, not a frame
  if (nal.length <= MTU) {
    current.push(nal);
    continue;
  }
  const indicator = (nal[0]! & 0xe0) | 28;
  for (let at = 1; at < nal.length; at += MTU - 2) {
    const end = Math.min(nal.length, at + MTU - 2);
    const header = (at === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
    current.push(Buffer.concat([Buffer.from([indicator, header]), nal.subarray(at, end)]));
  }
}
if (sps === undefined || pps === undefined || frames.length === 0) throw new Error(`${clipFile}: no SPS, PPS or frames`);
const clipBytes = frames.reduce((n, f) => n + f.reduce((m, p) => m + p.length, 0), 0);
const sdpFmtp = `packetization-mode=1;profile-level-id=${sps.subarray(1, 4).toString('hex')};` +
  `sprop-parameter-sets=${sps.toString('base64')},${pps.toString('base64')}`;

// ---- sessions ------------------------------------------------------------------------------------

interface Session {
  id: string;
  socket: Socket;
  channel: number;
  playing: boolean;
  startMs: number;
  sent: number;
  seq: number;
  ssrc: number;
  tsBase: number;
}

const sessions = new Set<Session>();
const stats = { connections: 0, sessions: 0, frames: 0, bytes: 0, dropped: 0 };

function sendFrame(s: Session): void {
  const payloads = frames[s.sent % frames.length]!;
  const ts = (s.tsBase + Math.round((s.sent * 90000) / FPS)) >>> 0;
  let size = 0;
  for (const p of payloads) size += 16 + p.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  payloads.forEach((p, i) => {
    out[o] = 0x24; // '$'
    out[o + 1] = s.channel;
    out.writeUInt16BE(12 + p.length, o + 2);
    out[o + 4] = 0x80;
    out[o + 5] = (i === payloads.length - 1 ? 0x80 : 0) | PAYLOAD_TYPE;
    out.writeUInt16BE(s.seq, o + 6);
    s.seq = (s.seq + 1) & 0xffff;
    out.writeUInt32BE(ts, o + 8);
    out.writeUInt32BE(s.ssrc, o + 12);
    p.copy(out, o + 16);
    o += 16 + p.length;
  });
  s.socket.write(out);
  s.sent++;
  stats.frames++;
  stats.bytes += size;
}

const timer = setInterval(() => {
  const now = performance.now();
  for (const s of sessions) {
    if (!s.playing) continue;
    if (s.socket.writableLength > MAX_QUEUED) {
      stats.dropped++;
      sessions.delete(s);
      s.socket.destroy();
      continue;
    }
    // Every frame due by now: a late tick sends what it owes, as a camera's buffer would.
    while (s.startMs + (s.sent * 1000) / FPS <= now) sendFrame(s);
  }
}, TICK_MS);

// ---- RTSP ------------------------------------------------------------------------------------------

let nextSession = 1;

function handle(socket: Socket, head: string, mine: Map<string, Session>): void {
  const lines = head.split('\r\n');
  const [method, url] = lines[0]!.split(' ');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  const cseq = headers.get('cseq') ?? '0';
  const reply = (status: string, extra: string[] = [], body = ''): void => {
    const h = [`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, 'Server: vigil-bench-file-camera', ...extra];
    if (body !== '') h.push(`Content-Length: ${Buffer.byteLength(body)}`);
    socket.write(`${h.join('\r\n')}\r\n\r\n${body}`);
  };
  const sessionId = headers.get('session')?.split(';')[0];
  switch (method) {
    case 'OPTIONS':
      return reply('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
    case 'DESCRIBE': {
      const sdp = ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=vigil bench file camera', 'c=IN IP4 0.0.0.0', 't=0 0', 'a=control:*',
        `m=video 0 RTP/AVP ${PAYLOAD_TYPE}`, `a=rtpmap:${PAYLOAD_TYPE} H264/90000`, `a=fmtp:${PAYLOAD_TYPE} ${sdpFmtp}`, 'a=control:trackID=0', ''].join('\r\n');
      return reply('200 OK', ['Content-Type: application/sdp', `Content-Base: ${url}/`], sdp);
    }
    case 'SETUP': {
      const transport = headers.get('transport') ?? '';
      const m = /interleaved=(\d+)-(\d+)/.exec(transport);
      if (!transport.includes('TCP') || m === null) return reply('461 Unsupported Transport');
      const s: Session = {
        id: String(nextSession++), socket, channel: Number(m[1]), playing: false, startMs: 0, sent: 0,
        seq: Math.floor(Math.random() * 0xffff), ssrc: Math.floor(Math.random() * 0xffffffff), tsBase: Math.floor(Math.random() * 0xffffffff),
      };
      mine.set(s.id, s);
      stats.sessions++;
      return reply('200 OK', [`Transport: RTP/AVP/TCP;unicast;interleaved=${m[1]}-${m[2]}`, `Session: ${s.id};timeout=60`]);
    }
    case 'PLAY': {
      const s = sessionId === undefined ? undefined : mine.get(sessionId);
      if (s === undefined) return reply('454 Session Not Found');
      reply('200 OK', [`Session: ${s.id}`, 'Range: npt=0.000-', `RTP-Info: url=${url};seq=${s.seq};rtptime=${s.tsBase}`]);
      s.playing = true;
      s.startMs = performance.now();
      sessions.add(s);
      return;
    }
    case 'TEARDOWN': {
      const s = sessionId === undefined ? undefined : mine.get(sessionId);
      if (s !== undefined) {
        sessions.delete(s);
        mine.delete(s.id);
      }
      return reply('200 OK', sessionId ? [`Session: ${sessionId}`] : []);
    }
    case 'GET_PARAMETER':
    case 'SET_PARAMETER':
      return reply('200 OK', sessionId ? [`Session: ${sessionId}`] : []);
    default:
      return reply('405 Method Not Allowed');
  }
}

const server = createServer((socket) => {
  stats.connections++;
  socket.setNoDelay(true);
  const mine = new Map<string, Session>();
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length === 0) return;
      if (buf[0] === 0x24) {
        // The client's interleaved RTCP (receiver reports): skipped.
        if (buf.length < 4) return;
        const len = 4 + buf.readUInt16BE(2);
        if (buf.length < len) return;
        buf = buf.subarray(len);
        continue;
      }
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 64 * 1024) socket.destroy(); // no request is this long
        return;
      }
      const head = buf.subarray(0, end).toString('latin1');
      const body = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + body) return;
      buf = buf.subarray(end + 4 + body);
      handle(socket, head, mine);
    }
  });
  const gone = (): void => {
    for (const s of mine.values()) sessions.delete(s);
    mine.clear();
  };
  socket.on('close', gone);
  socket.on('error', gone);
});

function exit(): void {
  clearInterval(timer);
  for (const s of sessions) s.socket.destroy();
  process.exit(0);
}

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ event: 'ready', port, frames: frames.length, fps: FPS, kbps: Math.round((clipBytes * 8 * FPS) / frames.length / 1000) })}\n`);
});
setTimeout(exit, RUN_SECONDS * 1000).unref();
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify({ event: 'stats', playing: sessions.size, ...stats })}\n`);
});
input.on('close', exit);
