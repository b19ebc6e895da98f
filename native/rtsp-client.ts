// The hub's own RTSP reader: RTSP 1.0 over one TCP connection with RTP interleaved on it (RFC 2326
// §10.12), as much of it as IP cameras need: DESCRIBE, SETUP of the video track, PLAY, keepalive,
// TEARDOWN, Basic and Digest authentication. It replaces ffmpeg's remux, which held every frame for
// two frame intervals and cost a process per camera.
//
// Two layers: RtspClient speaks the protocol (requests, responses, interleaved frames);
// RtspVideoReader is what the ingest uses (describe, play, access units out, one close report).
//
// A camera is untrusted: every message and frame is bounded before it is buffered (maxMessageBytes,
// and 64 KiB per interleaved frame by its 16-bit length), every wait has a time-out, and anything
// unexpected ends the connection with an RtspError carrying a stable `code`. Nothing a camera sends
// can throw out of a socket callback.
//
// Credentials: never in a message, an event or a log. Requests carry the URL without userinfo, and
// every error message passes through a Redactor holding the password (raw, %-encoded, and inside
// Basic's base64), in case a camera echoes what it was sent.
//
// The receive path runs once per RTP packet on the hub, so it copies little: the socket reads with
// `onread` into one buffer shared by every connection (callbacks run one at a time), packets are
// handed on as views of it, and only a message or frame cut across two reads is copied, into a
// per-connection buffer bounded by the largest message or frame.

import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AccessUnit, VideoCodec } from './access-unit.ts';
import { setPaced } from './paced-sockets.ts';
import { Redactor, urlWithoutCredentials } from './redact.ts';
import { RtpDepacketizer, type RtpStats } from './rtp-h26x.ts';
import { SdpError, describeSdp, type SdpSummary } from './sdp.ts';

export type RtspErrorCode =
  /** The options cannot work (not an rtsp:// URL, a time-out that is not a positive number). */
  | 'bad-options'
  /** The TCP connection could not be made (refused, unreachable, DNS). */
  | 'connect'
  /** No answer to a request, no connection, or no data while playing, within the time-out. */
  | 'timeout'
  /** The camera closed the connection (or it was reset), or close() was called meanwhile. */
  | 'closed'
  /** The camera sent something that is not RTSP (garbage instead of a status line, a bad header). */
  | 'protocol'
  /** A message's headers or body larger than maxMessageBytes. */
  | 'too-large'
  /** A non-2xx answer other than 401; the message quotes the status line. */
  | 'status'
  /** 401 again after authenticating (wrong user name or password), or 401 without credentials. */
  | 'unauthorized'
  /** The SDP could not be read. */
  | 'sdp'
  /** The SDP offers no video track. */
  | 'no-video'
  /** The video track is not H.264/H.265, or is packetized in a way the reader does not handle. */
  | 'unsupported'
  /** A method called when it cannot be (play() twice, after close()). */
  | 'state'
  /** onAccessUnit threw: a bug of the caller, reported rather than crashing the socket callback. */
  | 'callback';

export class RtspError extends Error {
  override readonly name = 'RtspError';
  readonly code: RtspErrorCode;
  /** The RTSP status of a 'status' or 'unauthorized' error. */
  readonly status?: number;
  constructor(code: RtspErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(`${code}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
  }
}

export const RTSP_DEFAULTS = {
  /** Connecting, and each request's answer. */
  timeoutMs: 5_000,
  /** While playing: no byte at all from the camera for this long ends the connection. */
  idleTimeoutMs: 10_000,
  /** One RTSP message, headers and body (a DESCRIBE answer is about 1 KiB). */
  maxMessageBytes: 64 * 1024,
  /** Keepalive when the camera's Session header gives no timeout (RFC 2326: 60 s, half of it). */
  keepaliveMs: 30_000,
  /** How long close() waits for the TEARDOWN answer before it drops the connection anyway. */
  teardownMs: 1_000,
} as const;

/** The camera's session timeout is halved for the keepalive, and the result kept in this range. */
const KEEPALIVE_MIN_MS = 1_000;
const KEEPALIVE_MAX_MS = 60_000;
/** Largest interleaved frame: `$`, channel, 16-bit length, then at most 65,535 bytes. */
const MAX_FRAME_BYTES = 4 + 0xffff;
/** Status lines and snippets quoted in messages are cut to this. */
const QUOTE_CHARS = 120;

/** One read buffer for every connection: callbacks run one at a time and copy out what they keep. */
const READ_BUFFER_BYTES = 256 * 1024;
let readBuffer: Buffer | undefined; // made on the first connection, not at import

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const RTSP_PREFIX = 'RTSP/';

export interface RtspResponse {
  status: number;
  /** "RTSP/1.0 200 OK", cut to 120 characters. */
  statusLine: string;
  /** Header names lowercased; a header sent more than once has several values. */
  headers: Map<string, string[]>;
  body: Uint8Array;
}

/** The first value of a header (name in any case). */
export function header(res: RtspResponse, name: string): string | undefined {
  return res.headers.get(name.toLowerCase())?.[0];
}

export interface RtspClientOptions {
  /** rtsp://[user:password@]host[:port]/path */
  url: string;
  /** Overrides the URL's user name. */
  username?: string;
  /** Overrides the URL's password. */
  password?: string;
  timeoutMs?: number;
  maxMessageBytes?: number;
  /** Aborting it closes the connection at once, as a 'closed' error (the hub stopping the camera). */
  signal?: AbortSignal;
  /**
   * Each interleaved frame. `data` is a view of a buffer reused for the next read: valid only
   * during the call; copy what must outlive it.
   */
  onInterleaved?(channel: number, data: Uint8Array): void;
  /** Once, when the connection is gone: with the error that ended it, or none after close(). */
  onClose?(err?: RtspError): void;
}

interface Pending {
  resolve(res: RtspResponse): void;
  reject(err: RtspError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Challenge {
  scheme: 'basic' | 'digest';
  params: Map<string, string>;
}

/** RTSP over one TCP connection: requests with authentication, responses and interleaved frames. */
export class RtspClient {
  /** The URL without userinfo: what requests and messages carry. */
  readonly url: string;
  private readonly username: string;
  private readonly password: string;
  private readonly redactor: Redactor;
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly onInterleaved: (channel: number, data: Uint8Array) => void;
  private readonly onClose: (err?: RtspError) => void;

  private socket: net.Socket | undefined;
  private closed = false;
  private closeError: RtspError | undefined;
  private cseq = 0;
  private readonly pending = new Map<number, Pending>();

  /** Bytes of a message or frame cut across reads (at most max(maxMessageBytes, MAX_FRAME_BYTES)). */
  private partial: Buffer = Buffer.alloc(0);
  private partialLength = 0;

  private challenge: Challenge | undefined;
  private digestCount = 0;

  private idleMs = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReadAt = 0;

  private counters = { bytes: 0, frames: 0, messages: 0 };

  private constructor(options: RtspClientOptions, parsed: URL) {
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    this.url = urlWithoutCredentials(options.url);
    this.username = options.username ?? decode(parsed.username);
    this.password = options.password ?? decode(parsed.password);
    const secrets = [this.password];
    if (this.password) secrets.push(Buffer.from(`${this.username}:${this.password}`).toString('base64'));
    this.redactor = new Redactor(secrets);
    this.timeoutMs = options.timeoutMs ?? RTSP_DEFAULTS.timeoutMs;
    this.maxMessageBytes = options.maxMessageBytes ?? RTSP_DEFAULTS.maxMessageBytes;
    this.onInterleaved = options.onInterleaved ?? (() => undefined);
    this.onClose = options.onClose ?? (() => undefined);
    this.signal = options.signal;
  }

  private readonly signal: AbortSignal | undefined;

  /** Connected, or an RtspError ('bad-options', 'connect', 'timeout'). */
  static async connect(options: RtspClientOptions): Promise<RtspClient> {
    const parsed = parseRtspUrl(options.url);
    for (const [name, value] of [['timeoutMs', options.timeoutMs], ['maxMessageBytes', options.maxMessageBytes]] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new RtspError('bad-options', `${name} ${value}: a positive number`);
    }
    const client = new RtspClient(options, parsed);
    await client.open(parsed);
    return client;
  }

  private open(parsed: URL): Promise<void> {
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = parsed.port ? Number(parsed.port) : 554;
    return new Promise<void>((resolve, reject) => {
      let connected = false;
      const timer = setTimeout(() => {
        const err = this.makeError('timeout', `no connection to ${this.url} within ${this.timeoutMs} ms`);
        this.fail(err);
        reject(err);
      }, this.timeoutMs);
      const socket = net.connect({
        host,
        port,
        noDelay: true,
        onread: {
          buffer: (readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)),
          callback: (nread: number, buf: Uint8Array) => {
            if (nread > 0) this.received(buf as Buffer, nread);
            return true;
          },
        },
      });
      this.socket = socket;
      const signal = this.signal;
      if (signal !== undefined) {
        const onAbort = (): void => this.fail(this.makeError('closed', `the hub stopped reading ${this.url}`));
        if (signal.aborted) onAbort();
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          socket.once('close', () => signal.removeEventListener('abort', onAbort));
        }
      }
      socket.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (connected) {
          this.fail(this.makeError('closed', `connection to ${this.url} failed: ${e.code ?? e.message}`, e));
          return;
        }
        clearTimeout(timer);
        const err = this.makeError('connect', `cannot connect to ${this.url}: ${connectFailure(e)}`, e);
        this.fail(err);
        reject(err);
      });
      socket.on('end', () => this.fail(this.makeError('closed', `${this.url} closed the connection`)));
      socket.on('close', () => {
        this.fail(this.makeError('closed', `connection to ${this.url} closed`));
        if (!connected) {
          // Settled already if the error or the timer came first; then this does nothing.
          clearTimeout(timer);
          reject(this.closeError);
        }
      });
    });
  }

  /** True once the connection is gone (close(), an error, the camera). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The error that ended the connection, if one did. */
  get failure(): RtspError | undefined {
    return this.closeError;
  }

  stats(): { bytes: number; frames: number; messages: number } {
    return { ...this.counters };
  }

  /** Paced reading (native/paced-sockets.ts): read with every other paced socket every PACE_MS. */
  pace(on: boolean): void {
    if (this.socket && !this.closed) setPaced(this.socket, on);
  }

  /**
   * While playing: end the connection ('timeout') when no byte at all comes for `ms`. 0 turns it
   * off. One timer, re-armed only when it fires, so a packet costs a clock read, not a timer.
   */
  setIdleTimeout(ms: number): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.idleMs = ms;
    if (ms <= 0 || this.closed) return;
    this.lastReadAt = Date.now();
    const check = (): void => {
      const quiet = Date.now() - this.lastReadAt;
      if (quiet >= this.idleMs) {
        this.idleTimer = undefined;
        this.fail(this.makeError('timeout', `no data from ${this.url} for ${this.idleMs} ms`));
      } else {
        this.idleTimer = setTimeout(check, this.idleMs - quiet);
      }
    };
    this.idleTimer = setTimeout(check, ms);
  }

  /**
   * One request; resolves with its answer whatever the status, except 401: then it is sent again
   * once with credentials for the camera's challenge, and a second 401 (or a 401 with no
   * credentials to give) rejects with 'unauthorized'. Rejects with 'timeout' after `timeoutMs`
   * (the connection stays; the caller decides), 'closed', 'protocol', 'too-large'.
   */
  async request(method: string, url: string, headers: Record<string, string> = {}, options: { timeoutMs?: number } = {}): Promise<RtspResponse> {
    let res = await this.send(method, url, headers, options.timeoutMs);
    if (res.status !== 401) return res;
    const picked = this.password || this.username ? pickChallenge(res) : 'none';
    if (picked === 'unsupported') {
      throw this.makeError('unsupported', `${method} ${url}: the camera asks for a Digest algorithm other than MD5`, undefined, 401);
    }
    const challenge = picked === 'none' ? undefined : picked;
    if (challenge) {
      this.challenge = challenge;
      this.digestCount = 0;
      res = await this.send(method, url, headers, options.timeoutMs);
      if (res.status !== 401) return res;
    }
    // "401 Unauthorized" verbatim: the ingest treats it as permanent and stops retrying before the
    // camera locks the account.
    const why = !this.password && !this.username ? 'no user name or password given' : challenge ? 'wrong user name or password' : 'no Basic or Digest challenge';
    throw this.makeError('unauthorized', `401 Unauthorized from ${method} ${url} (${why})`, undefined, 401);
  }

  private send(method: string, url: string, headers: Record<string, string>, timeoutMs = this.timeoutMs): Promise<RtspResponse> {
    if (this.closed || !this.socket) return Promise.reject(this.closeError ?? this.makeError('closed', `connection to ${this.url} is closed`));
    // What a camera's SDP supplied (a control URL, a session id) goes into the request line and
    // headers: a CR or LF there would let it write headers of its own.
    for (const v of [method, url, ...Object.keys(headers), ...Object.values(headers)]) {
      if (hasControlCharacter(v)) return Promise.reject(this.makeError('protocol', `refusing to send a request with a control character (${method})`));
    }
    if (/\s/.test(url)) return Promise.reject(this.makeError('protocol', `refusing to send a URL with white space (${method})`));
    const cseq = ++this.cseq;
    let text = `${method} ${url} RTSP/1.0\r\nCSeq: ${cseq}\r\nUser-Agent: Vigil\r\n`;
    const auth = this.authorization(method, url);
    if (auth) text += `Authorization: ${auth}\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    text += '\r\n';
    return new Promise<RtspResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cseq);
        reject(this.makeError('timeout', `no answer to ${method} ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(cseq, { resolve, reject, timer });
      this.socket!.write(text);
    });
  }

  private authorization(method: string, uri: string): string | undefined {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    const realm = c.params.get('realm') ?? '';
    const nonce = c.params.get('nonce') ?? '';
    const algorithm = c.params.get('algorithm');
    const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
    // RFC 2617 §3.2.2: qop=auth when offered (with a client nonce and count), else RFC 2069's form.
    const qops = (c.params.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
    const qop = qops.includes('auth') ? 'auth' : undefined;
    const cnonce = randomBytes(8).toString('hex');
    const nc = (++this.digestCount).toString(16).padStart(8, '0');
    let ha1 = md5(`${this.username}:${realm}:${this.password}`);
    if (algorithm?.toLowerCase() === 'md5-sess') ha1 = md5(`${ha1}:${nonce}:${cnonce}`);
    const ha2 = md5(`${method}:${uri}`);
    const response = qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    const q = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;
    let out = `Digest username=${q(this.username)}, realm=${q(realm)}, nonce=${q(nonce)}, uri=${q(uri)}, response=${q(response)}`;
    if (algorithm) out += `, algorithm=${algorithm}`;
    const opaque = c.params.get('opaque');
    if (opaque !== undefined) out += `, opaque=${q(opaque)}`;
    if (qop) out += `, qop=${qop}, nc=${nc}, cnonce=${q(cnonce)}`;
    return out;
  }

  /**
   * End the connection now (no TEARDOWN: RtspVideoReader sends that first). Pending requests
   * reject with 'closed'; onClose is called without an error. Idempotent.
   */
  destroy(): void {
    if (this.closed) return;
    this.shutDown(this.makeError('closed', `connection to ${this.url} closed by the hub`));
    this.onClose(undefined);
  }

  private fail(err: RtspError): void {
    if (this.closed) return;
    this.closeError = err;
    this.shutDown(err);
    this.onClose(err);
  }

  private shutDown(err: RtspError): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.socket) {
      setPaced(this.socket, false);
      this.socket.destroy();
    }
    this.partial = Buffer.alloc(0);
    this.partialLength = 0;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /** An RtspError whose message can hold no credential, even one the camera echoed. */
  makeError(code: RtspErrorCode, message: string, cause?: unknown, status?: number): RtspError {
    const options: { cause?: unknown; status?: number } = {};
    if (cause !== undefined) options.cause = cause;
    if (status !== undefined) options.status = status;
    return new RtspError(code, this.redactor.redact(message), options);
  }

  // ---- receiving ----

  /** Bytes read into the shared buffer: parse in place, keep (copy) only an unfinished tail. */
  private received(buf: Buffer, n: number): void {
    if (this.closed) return;
    this.counters.bytes += n;
    this.lastReadAt = Date.now();
    try {
      let pos = 0;
      if (this.partialLength > 0) {
        // Finish the message or frame cut at the last read, then go on in the shared buffer.
        const held = this.partialLength;
        const limit = Math.max(this.maxMessageBytes, MAX_FRAME_BYTES);
        const take = Math.min(n, limit - held);
        this.keep(buf, 0, take);
        const used = this.parse(this.partial, 0, this.partialLength);
        if (this.closed) return;
        if (used <= held) {
          // Still unfinished (parse() throws before a message outgrows the limit).
          this.partial.copyWithin(0, used, this.partialLength);
          this.partialLength -= used;
          if (take < n) throw this.makeError('too-large', `a message from ${this.url} larger than ${limit} bytes`);
          return;
        }
        pos = used - held;
        this.partialLength = 0;
      }
      const used = this.parse(buf, pos, n);
      if (this.closed) return;
      if (used < n) this.keep(buf, used, n);
    } catch (e) {
      this.fail(e instanceof RtspError ? e : this.makeError('protocol', `cannot read ${this.url}: ${(e as Error).message}`, e));
    }
  }

  private keep(src: Buffer, from: number, to: number): void {
    const need = this.partialLength + (to - from);
    if (need > this.partial.length) {
      const next = Buffer.allocUnsafe(Math.min(Math.max(need, this.partial.length * 2, 4096), Math.max(this.maxMessageBytes, MAX_FRAME_BYTES)));
      this.partial.copy(next, 0, 0, this.partialLength);
      this.partial = next;
    }
    src.copy(this.partial, this.partialLength, from, to);
    this.partialLength = need;
  }

  /** Parse whole frames and messages in buf[pos, end); returns where the first unfinished one starts. */
  private parse(buf: Buffer, pos: number, end: number): number {
    while (pos < end && !this.closed) {
      const b = buf[pos]!;
      if (b === 0x24) {
        if (end - pos < 4) return pos;
        const length = (buf[pos + 2]! << 8) | buf[pos + 3]!;
        if (end - pos < 4 + length) return pos;
        this.counters.frames++;
        this.onInterleaved(buf[pos + 1]!, buf.subarray(pos + 4, pos + 4 + length));
        pos += 4 + length;
        continue;
      }
      if (b === 0x0d || b === 0x0a) {
        // Some cameras end a message with one CRLF too many.
        pos++;
        continue;
      }
      const used = this.parseMessage(buf, pos, end);
      if (used === 0) return pos;
      pos += used;
    }
    return pos;
  }

  /** One RTSP message at buf[pos]; 0 when it is not all there yet. */
  private parseMessage(buf: Buffer, pos: number, end: number): number {
    // Garbage is told from an unfinished message at once, not after maxMessageBytes of it.
    const probe = buf.toString('latin1', pos, Math.min(end, pos + RTSP_PREFIX.length));
    if (!RTSP_PREFIX.startsWith(probe) && !/^[A-Z][A-Z_]*(?: |$)/.test(probe)) {
      throw this.makeError('protocol', `${this.url} sent neither an RTSP message nor an interleaved frame: ${quote(buf, pos, end)}`);
    }
    // Only up to `end`: past it the shared buffer holds an older read.
    const view = buf.subarray(pos, Math.min(end, pos + this.maxMessageBytes));
    let at = view.indexOf(CRLFCRLF);
    let sepLength = 4;
    const lf = view.indexOf(LFLF); // cameras that end lines with LF alone
    if (lf >= 0 && (at < 0 || lf < at)) {
      at = lf;
      sepLength = 2;
    }
    if (at < 0) {
      if (end - pos >= this.maxMessageBytes) throw this.makeError('too-large', `headers from ${this.url} longer than ${this.maxMessageBytes} bytes`);
      return 0;
    }
    const headerEnd = pos + at;
    const lines = buf.toString('latin1', pos, headerEnd).split(/\r?\n/);
    const first = lines[0]!;
    const headers = new Map<string, string[]>();
    let last: string[] | undefined;
    for (const line of lines.slice(1)) {
      if (/^[ \t]/.test(line) && last) {
        last[last.length - 1] += ` ${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw this.makeError('protocol', `bad header line from ${this.url}: ${quoteText(line)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      last = headers.get(name);
      if (!last) headers.set(name, (last = []));
      last.push(line.slice(colon + 1).trim());
    }
    const cl = headers.get('content-length')?.[0];
    let bodyLength = 0;
    if (cl !== undefined) {
      if (!/^\d{1,10}$/.test(cl)) throw this.makeError('protocol', `bad Content-Length from ${this.url}: ${quoteText(cl)}`);
      bodyLength = Number(cl);
    }
    const bodyStart = headerEnd + sepLength;
    if (bodyStart - pos + bodyLength > this.maxMessageBytes) {
      throw this.makeError('too-large', `a message of ${bodyStart - pos + bodyLength} bytes from ${this.url}, more than ${this.maxMessageBytes}`);
    }
    if (bodyStart + bodyLength > end) return 0;
    this.counters.messages++;
    const status = /^RTSP\/1\.\d (\d{3})(?: |$)/.exec(first);
    if (status) {
      // A copy (the read buffer is reused); not Buffer.slice(), which is a view.
      this.answered({ status: Number(status[1]), statusLine: quoteText(first), headers, body: new Uint8Array(buf.subarray(bodyStart, bodyStart + bodyLength)) });
    } else if (!/^[A-Z][A-Z_]* \S+ RTSP\/1\.\d$/.test(first)) {
      throw this.makeError('protocol', `${this.url} sent a bad status line: ${quoteText(first)}`);
    }
    // A request from the camera (ANNOUNCE, SET_PARAMETER…) is skipped: nothing of it is needed.
    return bodyStart + bodyLength - pos;
  }

  private answered(res: RtspResponse): void {
    const cseqText = header(res, 'cseq');
    let cseq = cseqText !== undefined && /^\d{1,10}$/.test(cseqText) ? Number(cseqText) : undefined;
    // A camera that leaves CSeq out: the answer is to the only request waiting, if there is one.
    if (cseq === undefined && this.pending.size === 1) cseq = this.pending.keys().next().value;
    const p = cseq === undefined ? undefined : this.pending.get(cseq);
    if (!p) return; // an answer to a request that timed out
    this.pending.delete(cseq!);
    clearTimeout(p.timer);
    p.resolve(res);
  }
}

function parseRtspUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RtspError('bad-options', `not a URL: ${urlWithoutCredentials(url)}`);
  }
  if (parsed.protocol !== 'rtsp:') throw new RtspError('bad-options', `not an rtsp:// URL: ${urlWithoutCredentials(url)}`);
  if (!parsed.hostname) throw new RtspError('bad-options', `no host in ${urlWithoutCredentials(url)}`);
  return parsed;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Printable, bounded text for a message. */
function quoteText(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > QUOTE_CHARS ? `${clean.slice(0, QUOTE_CHARS)}…` : clean;
}

function quote(buf: Buffer, pos: number, end: number): string {
  return JSON.stringify(quoteText(buf.toString('latin1', pos, Math.min(end, pos + QUOTE_CHARS))));
}

/** Digest algorithms this client computes (RFC 2617); a camera that asks only for SHA-256 is 'unsupported'. */
const DIGEST_ALGORITHMS = new Set([undefined, 'md5', 'md5-sess']);

/**
 * Digest if offered with an algorithm we compute (the password never crosses the wire), else Basic;
 * 'none' if the camera offers neither, 'unsupported' if it offers only Digest we cannot compute.
 */
function pickChallenge(res: RtspResponse): Challenge | 'none' | 'unsupported' {
  const challenges: Challenge[] = [];
  for (const value of res.headers.get('www-authenticate') ?? []) challenges.push(...parseChallenges(value));
  const digest = challenges.filter((c) => c.scheme === 'digest' && c.params.has('nonce'));
  const usable = digest.find((c) => DIGEST_ALGORITHMS.has(c.params.get('algorithm')?.toLowerCase()));
  const chosen = usable ?? challenges.find((c) => c.scheme === 'basic');
  if (chosen) return chosen;
  return digest.length > 0 ? 'unsupported' : 'none';
}

/** `Basic realm="x", Digest realm="y", nonce="z"` → one entry per scheme (RFC 2617 §1.2). */
export function parseWwwAuthenticate(whole: string): Array<{ scheme: string; params: Map<string, string> }> {
  // Real challenges are a few hundred bytes; a camera's 64 KiB header is not parsed whole.
  const value = whole.slice(0, MAX_CHALLENGE_CHARS);
  const out: Array<{ scheme: string; params: Map<string, string> }> = [];
  let current: { scheme: string; params: Map<string, string> } | undefined;
  // One quantifier for the separators: two (`\s*,?\s*`) could split a run of white space every
  // way before failing, quadratic in a hostile header's length.
  const re = /[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < value.length && (m = re.exec(value)) !== null) {
    if (m[0].length === 0) break;
    const [, name, quoted, token] = m;
    if (quoted === undefined && token === undefined) {
      current = { scheme: name!.toLowerCase(), params: new Map() };
      out.push(current);
    } else if (current) {
      current.params.set(name!.toLowerCase(), quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token!);
    }
    if (out.length > 8) break;
  }
  return out;
}

const MAX_CHALLENGE_CHARS = 4096;

function parseChallenges(value: string): Challenge[] {
  const out: Challenge[] = [];
  for (const c of parseWwwAuthenticate(value)) {
    if (c.scheme === 'basic' || c.scheme === 'digest') out.push({ scheme: c.scheme, params: c.params });
  }
  return out;
}

// ---- the reader the ingest uses ----

export interface RtspVideoReaderOptions {
  url: string;
  username?: string;
  password?: string;
  /** Connecting and each request (default 5 s). */
  timeoutMs?: number;
  /** While playing, no data for this long ends the connection with 'timeout' (default 10 s). */
  idleTimeoutMs?: number;
  /** Largest access unit (default 16 MiB, RTP_DEFAULTS of rtp-h26x.ts). */
  maxAccessUnitBytes?: number;
  /** Aborting it ends describe() at once (RtspError 'closed'). */
  signal?: AbortSignal;
  /** One picture. Its NALs are the reader's copies: the callee may keep them. */
  onAccessUnit(au: AccessUnit): void;
  /**
   * Once, when the connection ends after describe() resolved: with the error that ended it, or
   * none after close(). Also when play() fails (play() rejects with the same error).
   */
  onClose(err?: RtspError): void;
}

export interface RtspVideoReaderStats {
  /** Bytes read from the camera. */
  bytes: number;
  /** Interleaved frames (RTP and RTCP, any channel). */
  frames: number;
  /** RTP of the video track, as the depacketizer counted it (packets, gaps, drops, access units). */
  rtp: RtpStats | undefined;
  keepalives: number;
}

/** One camera's video over RTSP: describe(), then play(), then access units until close. */
export class RtspVideoReader {
  readonly info: SdpSummary;
  /** The video's codec when the reader can depacketize it (H.264/H.265, no interleaving or DONL). */
  readonly codec?: VideoCodec;

  private state: 'described' | 'playing' | 'closed' = 'described';
  private depacketizer: RtpDepacketizer | undefined;
  private rtpChannel = -1;
  private session: string | undefined;
  private keepaliveMs: number = RTSP_DEFAULTS.keepaliveMs;
  private keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveMethod: 'GET_PARAMETER' | 'OPTIONS' = 'GET_PARAMETER';
  private keepalives = 0;
  private closing: Promise<void> | undefined;
  private reported = false;

  private constructor(
    private readonly client: RtspClient,
    private readonly options: RtspVideoReaderOptions,
    info: SdpSummary,
  ) {
    this.info = info;
    const v = info.video;
    if (v && (v.codec === 'h264' || v.codec === 'h265') && v.unsupportedReason === undefined) this.codec = v.codec;
  }

  /** Connected and described; rejects with an RtspError (and leaves no connection) otherwise. */
  static async describe(options: RtspVideoReaderOptions): Promise<RtspVideoReader> {
    if (options.idleTimeoutMs !== undefined && !(Number.isFinite(options.idleTimeoutMs) && options.idleTimeoutMs >= 0)) {
      throw new RtspError('bad-options', `idleTimeoutMs ${options.idleTimeoutMs}: a number, 0 or more`);
    }
    // The reader does not exist until DESCRIBE is done; callbacks are wired to it once it does.
    const hooks: { reader?: RtspVideoReader } = {};
    const client = await RtspClient.connect({
      url: options.url,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      onInterleaved: (channel, data) => hooks.reader?.frame(channel, data),
      onClose: (err) => hooks.reader?.ended(err),
    });
    try {
      const res = await client.request('DESCRIBE', client.url, { Accept: 'application/sdp' });
      expectOk(res, 'DESCRIBE', client.url, client);
      let info: SdpSummary;
      try {
        const base: { requestUrl: string; contentBase?: string; contentLocation?: string } = { requestUrl: client.url };
        const cb = header(res, 'content-base');
        const cl = header(res, 'content-location');
        if (cb !== undefined) base.contentBase = urlWithoutCredentials(cb);
        if (cl !== undefined) base.contentLocation = urlWithoutCredentials(cl);
        info = describeSdp(res.body, base);
      } catch (e) {
        if (e instanceof SdpError) throw client.makeError('sdp', `the SDP of ${client.url}: ${e.message}`, e);
        throw e;
      }
      if (!info.video) throw client.makeError('no-video', `${client.url} offers no video track${info.audio ? ` (audio only: ${info.audio.codec})` : ''}`);
      const reader = new RtspVideoReader(client, options, info);
      hooks.reader = reader;
      // Closed between the answer and now (the camera hung up): report it like any later close.
      if (client.isClosed) reader.ended(client.failure);
      return reader;
    } catch (e) {
      client.destroy();
      throw e;
    }
  }

  /** SETUP of the video track over this connection, then PLAY; access units follow. */
  async play(): Promise<void> {
    if (this.state !== 'described') throw new RtspError('state', this.state === 'playing' ? 'play() called twice' : 'play() after close');
    const video = this.info.video!;
    if (!this.codec) {
      const err = this.client.makeError('unsupported', `${this.client.url}: video ${video.codec}${video.unsupportedReason ? ` (${video.unsupportedReason})` : ''} cannot be read by the hub`);
      this.fail(err);
      throw err;
    }
    this.state = 'playing';
    try {
      const dep: { maxAccessUnitBytes?: number } = {};
      if (this.options.maxAccessUnitBytes !== undefined) dep.maxAccessUnitBytes = this.options.maxAccessUnitBytes;
      this.depacketizer = new RtpDepacketizer({ codec: this.codec, payloadType: video.payloadType, ...dep });

      const setup = await this.client.request('SETUP', video.control, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
      expectOk(setup, 'SETUP', video.control, this.client);
      const transport = header(setup, 'transport') ?? '';
      const channels = /(?:^|;)\s*interleaved=(\d{1,3})(?:-(\d{1,3}))?/i.exec(transport);
      // interleaved= in the answer is what matters: RTP then comes on this connection.
      if (!channels) {
        throw this.client.makeError('protocol', `${this.client.url} did not accept RTP over the RTSP connection (Transport: ${quoteText(transport)})`);
      }
      this.rtpChannel = Number(channels[1]);
      const sessionHeader = header(setup, 'session');
      if (sessionHeader !== undefined) {
        const [id, ...params] = sessionHeader.split(';');
        const sid = id!.trim();
        if (!/^[\x21-\x7e]{1,256}$/.test(sid)) throw this.client.makeError('protocol', `${this.client.url} sent a bad Session header: ${quoteText(sessionHeader)}`);
        this.session = sid;
        for (const p of params) {
          const t = /^\s*timeout\s*=\s*(\d{1,6})\s*$/i.exec(p);
          if (t) this.keepaliveMs = Math.min(KEEPALIVE_MAX_MS, Math.max(KEEPALIVE_MIN_MS, (Number(t[1]) * 1000) / 2));
        }
      }

      const play = await this.client.request('PLAY', this.info.control, { ...this.sessionHeader(), Range: 'npt=0.000-' });
      expectOk(play, 'PLAY', this.info.control, this.client);
      if (this.state !== 'playing') throw new RtspError('closed', `${this.client.url}: closed while starting to play`);
      this.client.setIdleTimeout(this.options.idleTimeoutMs ?? RTSP_DEFAULTS.idleTimeoutMs);
      this.scheduleKeepalive();
    } catch (e) {
      const err = e instanceof RtspError ? e : this.client.makeError('protocol', `${this.client.url}: ${(e as Error).message}`, e);
      this.fail(err);
      throw err;
    }
  }

  /** Paced reading (native/paced-sockets.ts) while nobody watches the camera live. */
  pace(on: boolean): void {
    this.client.pace(on);
  }

  stats(): RtspVideoReaderStats {
    const c = this.client.stats();
    return { bytes: c.bytes, frames: c.frames, rtp: this.depacketizer?.stats(), keepalives: this.keepalives };
  }

  /** Best-effort TEARDOWN (bounded by RTSP_DEFAULTS.teardownMs), then the connection is dropped. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const wasPlaying = this.state === 'playing';
      this.state = 'closed';
      this.stopKeepalive();
      if (wasPlaying && this.session !== undefined && !this.client.isClosed) {
        try {
          await this.client.request('TEARDOWN', this.info.control, this.sessionHeader(), { timeoutMs: Math.min(this.options.timeoutMs ?? RTSP_DEFAULTS.timeoutMs, RTSP_DEFAULTS.teardownMs) });
        } catch {
          // best effort: the camera drops the session when the connection goes anyway
        }
      }
      this.client.destroy();
    })();
    return this.closing;
  }

  private sessionHeader(): Record<string, string> {
    return this.session === undefined ? {} : { Session: this.session };
  }

  private scheduleKeepalive(): void {
    this.keepaliveTimer = setTimeout(() => {
      this.keepaliveTimer = undefined;
      if (this.state !== 'playing') return;
      this.keepalives++;
      const method = this.keepaliveMethod;
      const url = method === 'OPTIONS' ? this.client.url : this.info.control;
      // An unanswered keepalive is no failure by itself: a dead camera is noticed by the idle time-out.
      this.client
        .request(method, url, this.sessionHeader(), { timeoutMs: this.keepaliveMs })
        .then((res) => {
          if (method === 'GET_PARAMETER' && (res.status === 405 || res.status === 501)) this.keepaliveMethod = 'OPTIONS';
        })
        .catch(() => undefined);
      this.scheduleKeepalive();
    }, this.keepaliveMs);
  }

  private stopKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  /** One interleaved frame; `data` is valid only during this call (the depacketizer copies). */
  private frame(channel: number, data: Uint8Array): void {
    // RTCP (channel 1) and anything else: not needed, the RTP timestamps are the clock.
    if (channel !== this.rtpChannel || !this.depacketizer || this.state !== 'playing') return;
    const aus = this.depacketizer.push(data);
    for (const au of aus) {
      try {
        this.options.onAccessUnit(au);
      } catch (e) {
        this.fail(this.client.makeError('callback', `onAccessUnit threw: ${(e as Error)?.message ?? String(e)}`, e));
        return;
      }
      if (this.state !== 'playing') return;
    }
  }

  private fail(err: RtspError): void {
    this.state = 'closed';
    this.stopKeepalive();
    if (!this.client.isClosed) {
      // The client's own onClose would report a clean close; report the reason instead.
      this.report(err);
      this.client.destroy();
    } else {
      this.report(err);
    }
  }

  /** The client's connection is gone. */
  private ended(err: RtspError | undefined): void {
    this.state = 'closed';
    this.stopKeepalive();
    this.report(err);
  }

  private report(err: RtspError | undefined): void {
    if (this.reported) return;
    this.reported = true;
    this.options.onClose(err);
  }
}

function expectOk(res: RtspResponse, method: string, url: string, client: RtspClient): void {
  if (res.status >= 200 && res.status < 300) return;
  throw client.makeError('status', `${method} ${url} answered ${res.statusLine}`, undefined, res.status);
}

/** Why a connection failed, in words a user reads (the code too, for searching). */
function connectFailure(e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused', EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'timed out', ENOTFOUND: 'no such host', EAI_AGAIN: 'name lookup failed',
  };
  const text = e.code !== undefined ? words[e.code] : undefined;
  return text !== undefined ? `${text} (${e.code})` : (e.code ?? e.message);
}
