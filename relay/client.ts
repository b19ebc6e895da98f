// The relay client used by the hub and by phones (browser and command line). Pure: it takes a
// WebSocket constructor (the browser's, or `WebSocket` from 'ws' in Node 20) and a signer, so the
// same file runs everywhere. It logs in, keeps the connection alive, reconnects with stepped
// backoff, and after each login replays its standing state (grants, open mailboxes, subscriptions)
// because the relay keeps nothing across its own restarts. Given several relay URLs (nodes of one
// cluster), it moves to the next one whenever a connection fails or drops.

import {
  RELAY_PATH,
  RELAY_PROTOCOL_VERSION,
  MAILBOX_ID_BYTES,
  MAX_FRAME_OVERHEAD,
  PUBLISH_HEADER_BYTES,
  writePublishHeader,
  RELAY_ERROR_CODES,
  RELAY_ID_BYTES,
  RelayProtocolError,
  TOPIC_ID_BYTES,
  bytesEqual,
  decodeServerMessage,
  encodeMessage,
  loginMessage,
  relayErrorCodeFromNumber,
  toHex,
  type Capability,
  type ClientMessage,
  type RelayErrorCode,
  type ServerMessage,
  type Signer,
} from './codec.ts';
import { unreachable } from '../lib/unreachable.ts';

/** What the client needs of a WebSocket: the browser API, which ws implements too. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

interface MessageEventLike {
  data: unknown;
}
interface CloseEventLike {
  code: number;
}

const WS_OPEN = 1;

/** Failures of a request or of the connection, as one typed error. */
export type RelayClientErrorCode =
  | RelayErrorCode // the relay refused the request, or closed the connection with this code
  | 'timeout' // no answer within requestTimeoutMs (or no login within connectTimeoutMs)
  | 'disconnected' // the connection dropped before the answer came
  | 'not-connected' // a one-off request (send, postMailbox) while not logged in
  | 'closed' // close() was called
  | 'protocol'; // the relay sent a frame that does not decode

export class RelayClientError extends Error {
  readonly code: RelayClientErrorCode;
  /** What failed, e.g. `subscribe(hub=1a2b3c4d)`; never payloads. */
  readonly request: string;

  constructor(code: RelayClientErrorCode, request: string, options?: { cause?: unknown }) {
    super(`${request}: ${code}`, options);
    this.name = 'RelayClientError';
    this.code = code;
    this.request = request;
  }
}

export type RelayClientState = 'connecting' | 'ready' | 'waiting' | 'closed';

/**
 * Why a connection to a relay failed or ended: stable codes a program may switch on, and a message
 * for people. Messages name no secret (no key, no token); the URL travels beside them.
 */
export type RelayFailureCode =
  | 'refused' // connection refused: nothing listens at that address and port
  | 'dns' // the host name does not resolve
  | 'unreachable' // no route, reset, or (in a browser, which gives no detail) any failure before the socket opened
  | 'tls' // the TLS handshake failed: a certificate problem, or wss:// to a server without TLS
  | 'http-status' // an HTTP answer instead of a WebSocket; `status` says which (404: no relay at this path)
  | 'not-websocket' // something answered that does not speak HTTP and WebSocket
  | 'protocol-version' // the relay speaks another version of the relay protocol
  | 'login-refused' // the relay refused this login (auth-failed, auth-timeout)
  | 'busy' // the relay is at its connection limit
  | 'replaced' // the same relay key logged in on another connection
  | 'shutting-down' // the relay is stopping
  | 'timeout' // no login within connectTimeoutMs, or a keepalive went unanswered
  | 'protocol' // frames that do not decode: not a Vigil relay, or a broken one
  | 'closed-by-relay' // any other close code of the relay (named in the message)
  | 'dropped'; // the connection was lost, no reason given

export interface RelayFailure {
  readonly code: RelayFailureCode;
  /** For people, without the URL, e.g. "404: no Vigil relay at this URL (a Vigil relay answers on /v1)". */
  readonly message: string;
  /** The HTTP status for 'http-status'. */
  readonly status?: number;
  /** The relay URL of the attempt that failed. */
  readonly url: string;
}

/**
 * The URL the client connects to: a relay URL with an empty path (or `/`) means the relay protocol's
 * path, so `ws://relay.example:8787` is `ws://relay.example:8787/v1`. Any other path is kept as given.
 */
export function normaliseRelayUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new TypeError('RelayClient: url must be ws:// or wss://');
  if (parsed.pathname !== '' && parsed.pathname !== '/') return url;
  parsed.pathname = RELAY_PATH;
  return parsed.toString();
}

type FailureReason = Omit<RelayFailure, 'url'>;

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);
const TLS_CODES = new Set(['EPROTO', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED']);
const NOT_WEBSOCKET = /^(Invalid Sec-WebSocket-Accept header|Missing Sec-WebSocket-Accept header|Invalid Upgrade header|Server sent|Parse Error)/;

/**
 * Classifies the error a WebSocket reported before it closed (ws in Node gives the cause; a browser
 * gives an Event with none). Pure, so it is tested on its own.
 */
export function classifySocketError(error: unknown): FailureReason {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  const status = /^Unexpected server response: (\d{3})$/.exec(message);
  if (status) {
    const n = Number(status[1]);
    if (n === 404) return { code: 'http-status', status: n, message: `404: no Vigil relay at this URL (a Vigil relay answers on ${RELAY_PATH})` };
    return { code: 'http-status', status: n, message: `${n}: the server answered HTTP ${n} instead of a WebSocket (not a Vigil relay, or a proxy in front of it failed)` };
  }
  if (code === 'ECONNREFUSED') return { code: 'refused', message: 'connection refused: nothing listens at this address and port' };
  if (code !== undefined && DNS_CODES.has(code)) return { code: 'dns', message: `the host name does not resolve (DNS: ${code})` };
  if (code !== undefined && (TLS_CODES.has(code) || /^ERR_(TLS|SSL)_/.test(code) || code.includes('CERT'))) {
    // OpenSSL's words when the answer to its hello is plain HTTP.
    const plain = code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|http request/i.test(message);
    const hint = plain ? ': the server does not speak TLS (ws:// rather than wss://?)' : '';
    return { code: 'tls', message: `TLS handshake failed (${code})${hint}` };
  }
  if ((code !== undefined && code.startsWith('HPE_')) || NOT_WEBSOCKET.test(message)) {
    return { code: 'not-websocket', message: `the server there does not speak WebSocket (${code ?? message.slice(0, 80)})` };
  }
  if (code !== undefined && code.startsWith('WS_ERR_')) return { code: 'protocol', message: `the relay broke the WebSocket protocol (${code})` };
  if (code !== undefined) return { code: 'unreachable', message: `cannot reach the relay (${code})` };
  if (message === 'socket hang up') return { code: 'unreachable', message: 'the server closed the connection during the handshake (wss:// rather than ws://?)' };
  return { code: 'unreachable', message: 'could not connect (no detail given: no relay there, a wrong path, or a TLS problem)' };
}

/** The reason for a close with no socket error before it: the relay's close code, or what is known. */
export function classifyClose(closeCode: number, opened: boolean): FailureReason {
  const relayCode = relayErrorCodeFromNumber(closeCode);
  switch (relayCode) {
    case 'unsupported-version':
      return { code: 'protocol-version', message: `the relay speaks another version of the relay protocol (this client speaks v${RELAY_PROTOCOL_VERSION})` };
    case 'auth-failed':
      return { code: 'login-refused', message: 'the relay refused the login (auth-failed: the host in this URL is not one the relay answers for?)' };
    case 'auth-timeout':
      return { code: 'login-refused', message: 'the relay refused the login (auth-timeout: no login in time)' };
    case 'too-many-connections':
      return { code: 'busy', message: 'the relay is at its connection limit (too-many-connections)' };
    case 'replaced':
      return { code: 'replaced', message: 'the same key logged in to the relay on another connection (is this hub or phone running twice?)' };
    case 'shutting-down':
      return { code: 'shutting-down', message: 'the relay is shutting down' };
    case undefined:
      if (!opened) return classifySocketError(undefined);
      return { code: 'dropped', message: closeCode === 1006 ? 'the connection was lost' : `the connection was closed (${closeCode})` };
    default:
      return { code: 'closed-by-relay', message: `the relay closed the connection (${relayCode})` };
  }
}

export interface MediaMessage {
  hubRelayId: Uint8Array;
  topicId: Uint8Array;
  flags: number;
  /** Frames the relay dropped for this viewer just before this one (slow viewer). */
  dropped: number;
  payload: Uint8Array;
}

export interface RelayClientOptions {
  /** ws:// or wss:// URL of the relay, with its path (e.g. wss://relay.example/v1). */
  url?: string;
  /**
   * Several relay URLs: nodes of one relay cluster. The client starts with the first (after `url`
   * when both are given; duplicates are removed) and moves to the next whenever a connection fails
   * or drops, so a dead node costs one backoff step (250 ms by default), not a re-pairing.
   */
  urls?: readonly string[];
  /** This client's relay id: its 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** Ed25519 signer for that key (e.g. libsodium crypto_sign_detached). */
  sign: Signer;
  /** Default: globalThis.WebSocket. Node 20 has none: pass `WebSocket` from 'ws'. */
  WebSocket?: WebSocketConstructor;
  /** Delays before reconnect attempts 1, 2, ...; the last repeats. Default [250, 1000, 2000, 5000]. */
  backoffMs?: readonly number[];
  /** Time from opening a socket to logged in. Default 10 000. */
  connectTimeoutMs?: number;
  /** Time a request waits for the relay's answer. Default 10 000. */
  requestTimeoutMs?: number;
  /** Application-level ping interval; a ping unanswered by the next one drops the connection. Default 20 000. */
  keepaliveMs?: number;

  onMessage?(from: Uint8Array, payload: Uint8Array): void;
  onMailboxMessage?(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array): void;
  onMedia?(media: MediaMessage): void;
  onWatchers?(topicId: Uint8Array, count: number): void;
  /** The relay ended a subscription (revoked or expired capability); it is no longer replayed. */
  onUnsubscribed?(hubRelayId: Uint8Array, topicId: Uint8Array, code: RelayErrorCode): void;
  /** Errors no request awaits: publish refusals, replay refusals, close codes, bad frames. */
  onError?(error: RelayClientError): void;
  onStateChange?(state: RelayClientState): void;
  /**
   * Why connecting failed or the connection ended: called once per change of reason for each URL
   * (not on every retry) until the next login, after which a new failure is reported again.
   */
  onFailure?(failure: RelayFailure): void;
}

/** How often a replayed subscription refused for 'no-capability' is tried again. */
export const REPLAY_RETRIES = 5;

export const DEFAULT_BACKOFF_MS: readonly number[] = Object.freeze([250, 1000, 2000, 5000]);

interface Pending {
  what: string;
  timer: ReturnType<typeof setTimeout>;
  resolve(): void;
  reject(e: RelayClientError): void;
}

function short(b: Uint8Array): string {
  return toHex(b.subarray(0, 4));
}

function checkLength(b: Uint8Array, n: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new TypeError(`RelayClient: ${what} must be ${n} bytes`);
}

function positive(n: number | undefined, fallback: number, what: string): number {
  const v = n ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`RelayClient: ${what} must be a positive integer`);
  return v;
}

export class RelayClient {
  private readonly urlList: readonly { url: string; host: string }[];
  private urlIndex = 0;
  private readonly publicKey: Uint8Array;
  private readonly Ws: WebSocketConstructor;
  private readonly backoffMs: readonly number[];
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly keepaliveMs: number;

  private socket: WebSocketLike | undefined;
  private stateValue: RelayClientState = 'connecting';
  /** The relay's frame limit from its `ready` message; unknown (no limit here) before the first. */
  private maxMessageBytes = Number.POSITIVE_INFINITY;
  private attempt = 0;
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private pingOutstanding = false;
  private readyWaiters: ((error?: RelayClientError) => void)[] = [];
  private failureValue: RelayFailure | undefined;
  /** The reason last reported per URL, since the last login. */
  private readonly reported = new Map<string, string>();
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();

  // Standing state, replayed after every login. Keys are hex ids.
  private readonly grants = new Map<string, Capability>();
  private readonly mailboxes = new Map<string, { mailboxId: Uint8Array; expiresAt: number }>();
  private readonly subscriptions = new Map<string, { hubRelayId: Uint8Array; topicId: Uint8Array }>();

  constructor(private readonly options: RelayClientOptions) {
    const given = [...(options.url !== undefined ? [options.url] : []), ...(options.urls ?? [])];
    const unique = [...new Set(given)];
    if (unique.length === 0) throw new TypeError('RelayClient: give url or urls');
    this.urlList = [...new Set(unique.map(normaliseRelayUrl))].map((url) => {
      // The login signature names the host this connection believes it reaches (README §4).
      return { url, host: new URL(url).host };
    });
    checkLength(options.publicKey, RELAY_ID_BYTES, 'publicKey');
    this.publicKey = options.publicKey.slice();
    const Ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ws) throw new TypeError('RelayClient: no WebSocket here; pass options.WebSocket (ws in Node)');
    this.Ws = Ws;
    this.backoffMs = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    if (this.backoffMs.length === 0 || this.backoffMs.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new RangeError('RelayClient: backoffMs must be a non-empty list of non-negative integers');
    }
    this.connectTimeoutMs = positive(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
    this.requestTimeoutMs = positive(options.requestTimeoutMs, 10_000, 'requestTimeoutMs');
    this.keepaliveMs = positive(options.keepaliveMs, 20_000, 'keepaliveMs');
    this.open();
  }

  get state(): RelayClientState {
    return this.stateValue;
  }

  /** The relay URL in use now (or tried next). */
  get url(): string {
    return (this.urlList[this.urlIndex] as { url: string }).url;
  }

  /** Every relay URL this client moves between, in order. */
  get urls(): readonly string[] {
    return this.urlList.map((u) => u.url);
  }

  /** Why the last attempt failed (or the last connection ended); undefined while logged in. */
  get failure(): RelayFailure | undefined {
    return this.failureValue;
  }

  /** Bytes handed to the socket and not yet sent: a hub may skip publishing while this is high. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0;
  }

  /** Resolves when logged in (at once if already); rejects if close() comes first or after timeoutMs. */
  waitReady(timeoutMs = this.connectTimeoutMs): Promise<void> {
    if (this.stateValue === 'ready') return Promise.resolve();
    if (this.stateValue === 'closed') return Promise.reject(new RelayClientError('closed', 'waitReady'));
    return new Promise((resolve, reject) => {
      const previous = this.readyWaiters;
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new RelayClientError('timeout', 'waitReady'));
      }, timeoutMs);
      const waiter = (error?: RelayClientError): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      this.readyWaiters = [...previous, waiter];
    });
  }

  // --- standing state ---------------------------------------------------------------------------

  /** Hub: lets a device message this hub, and subscribe if the rights include WATCH. */
  grant(capability: Capability): Promise<void> {
    const deviceHex = toHex(capability.deviceRelayId);
    this.grants.set(deviceHex, capability);
    return this.standing(
      { type: 'grant', requestId: 0, capability },
      `grant(device=${short(capability.deviceRelayId)})`,
      () => this.grants.get(deviceHex) === capability && this.grants.delete(deviceHex),
    );
  }

  /** Hub: removes a device's capability and its subscriptions at once. */
  revoke(deviceRelayId: Uint8Array): Promise<void> {
    checkLength(deviceRelayId, RELAY_ID_BYTES, 'deviceRelayId');
    this.grants.delete(toHex(deviceRelayId));
    return this.standing({ type: 'revoke', requestId: 0, deviceRelayId }, `revoke(device=${short(deviceRelayId)})`);
  }

  /** Hub: opens the pairing mailbox named by an invite id until expiresAt (unix seconds). */
  openMailbox(mailboxId: Uint8Array, expiresAt: number): Promise<void> {
    checkLength(mailboxId, MAILBOX_ID_BYTES, 'mailboxId');
    const key = toHex(mailboxId);
    const entry = { mailboxId: mailboxId.slice(), expiresAt };
    this.mailboxes.set(key, entry);
    return this.standing(
      { type: 'mailbox-open', requestId: 0, mailboxId, expiresAt },
      'openMailbox',
      () => this.mailboxes.get(key) === entry && this.mailboxes.delete(key),
    );
  }

  closeMailbox(mailboxId: Uint8Array): Promise<void> {
    checkLength(mailboxId, MAILBOX_ID_BYTES, 'mailboxId');
    this.mailboxes.delete(toHex(mailboxId));
    return this.standing({ type: 'mailbox-close', requestId: 0, mailboxId }, 'closeMailbox');
  }

  /** Device: receive a hub's topic (camera); needs a WATCH capability from that hub. */
  subscribe(hubRelayId: Uint8Array, topicId: Uint8Array): Promise<void> {
    checkLength(hubRelayId, RELAY_ID_BYTES, 'hubRelayId');
    checkLength(topicId, TOPIC_ID_BYTES, 'topicId');
    const key = toHex(hubRelayId) + toHex(topicId);
    const entry = { hubRelayId: hubRelayId.slice(), topicId: topicId.slice() };
    this.subscriptions.set(key, entry);
    return this.standing(
      { type: 'subscribe', requestId: 0, hubRelayId, topicId },
      `subscribe(hub=${short(hubRelayId)})`,
      () => this.subscriptions.get(key) === entry && this.subscriptions.delete(key),
    );
  }

  unsubscribe(hubRelayId: Uint8Array, topicId: Uint8Array): Promise<void> {
    checkLength(hubRelayId, RELAY_ID_BYTES, 'hubRelayId');
    checkLength(topicId, TOPIC_ID_BYTES, 'topicId');
    this.subscriptions.delete(toHex(hubRelayId) + toHex(topicId));
    return this.standing(
      { type: 'unsubscribe', requestId: 0, hubRelayId, topicId },
      `unsubscribe(hub=${short(hubRelayId)})`,
    );
  }

  // --- one-off requests -------------------------------------------------------------------------

  /** Anyone: posts to a hub's open pairing mailbox. Rejects with 'not-connected' when not logged in. */
  postMailbox(mailboxId: Uint8Array, payload: Uint8Array): Promise<void> {
    checkLength(mailboxId, MAILBOX_ID_BYTES, 'mailboxId');
    return this.oneOff({ type: 'mailbox-post', requestId: 0, mailboxId, payload }, 'postMailbox');
  }

  /** Sends opaque bytes to a relay id the capabilities allow; rejects with 'offline', 'no-capability', ... */
  send(to: Uint8Array, payload: Uint8Array): Promise<void> {
    checkLength(to, RELAY_ID_BYTES, 'to');
    return this.oneOff({ type: 'send', requestId: 0, to, payload }, `send(to=${short(to)})`);
  }

  /**
   * Hub: fans one media fragment out to the topic's viewers. Not acknowledged (a refusal arrives at
   * onError); returns false when not logged in, and the fragment is dropped.
   */
  publish(topicId: Uint8Array, flags: number, payload: Uint8Array): boolean {
    checkLength(topicId, TOPIC_ID_BYTES, 'topicId');
    if (this.stateValue !== 'ready') return false;
    const message = new Uint8Array(PUBLISH_HEADER_BYTES + payload.length);
    message.set(payload, PUBLISH_HEADER_BYTES);
    writePublishHeader(message, topicId, flags);
    return this.publishMessage(message);
  }

  /**
   * Sends a publish message built in place (codec's writePublishHeader in front of the payload).
   * The socket has taken its own copy when this returns (ws frames and masks inside send(), as
   * long as compression is off; browsers copy too), so the caller may write the next one into the
   * same buffer.
   */
  publishMessage(message: Uint8Array): boolean {
    if (this.stateValue !== 'ready') return false;
    const payloadBytes = message.length - PUBLISH_HEADER_BYTES;
    if (payloadBytes < 0) throw new RangeError('publishMessage: shorter than a publish header');
    if (payloadBytes + MAX_FRAME_OVERHEAD > this.maxMessageBytes) {
      this.emitError(new RelayClientError('too-large', `publish(${payloadBytes} bytes)`));
      return false;
    }
    const socket = this.socket;
    if (!socket || socket.readyState !== WS_OPEN) return false;
    socket.send(message);
    return true;
  }

  /** Stops for good: closes the socket, clears every timer, rejects what is pending with 'closed'. */
  close(): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    this.stopConnectionTimers();
    this.failPending('closed');
    for (const waiter of this.readyWaiters.splice(0)) waiter(new RelayClientError('closed', 'waitReady'));
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, 1000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      socket.onclose = done;
      socket.onerror = noop;
      socket.onmessage = noop;
      try {
        socket.close(1000, 'closed');
      } catch {
        done();
      }
    });
  }

  // --- requests ---------------------------------------------------------------------------------

  private allocateId(): number {
    const id = this.nextRequestId;
    this.nextRequestId = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  private request(m: ClientMessage, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const requestId = this.allocateId();
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new RelayClientError('timeout', what));
      }, this.requestTimeoutMs);
      this.pending.set(requestId, { what, timer, resolve, reject });
      this.write({ ...m, requestId } as ClientMessage);
    });
  }

  /**
   * A standing-state change: recorded first (so it is replayed), then sent if logged in. When not
   * logged in it resolves at once and the next login applies it. `undo` removes the record if the
   * relay refuses it.
   */
  private async standing(m: ClientMessage, what: string, undo?: () => void): Promise<void> {
    if (this.stateValue !== 'ready') return;
    try {
      await this.request(m, what);
    } catch (e) {
      if (e instanceof RelayClientError && e.code !== 'disconnected' && e.code !== 'timeout') undo?.();
      throw e;
    }
  }

  private oneOff(m: ClientMessage, what: string): Promise<void> {
    if (this.stateValue !== 'ready') return Promise.reject(new RelayClientError('not-connected', what));
    if ('payload' in m && m.payload.length + MAX_FRAME_OVERHEAD > this.maxMessageBytes) {
      return Promise.reject(new RelayClientError('too-large', what));
    }
    return this.request(m, what);
  }

  private write(m: ClientMessage): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== WS_OPEN) return;
    socket.send(encodeMessage(m));
  }

  private failPending(code: RelayClientErrorCode): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new RelayClientError(code, p.what));
    }
  }

  private emitError(e: RelayClientError): void {
    this.options.onError?.(e);
  }

  // --- connection -------------------------------------------------------------------------------

  private setState(state: RelayClientState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.options.onStateChange?.(state);
  }

  private open(): void {
    this.setState('connecting');
    let socket: WebSocketLike;
    try {
      socket = new this.Ws(this.url);
    } catch (e) {
      this.noteFailure(classifySocketError(e));
      this.urlIndex = (this.urlIndex + 1) % this.urlList.length;
      this.emitError(new RelayClientError('disconnected', 'connect', { cause: e }));
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    this.handshakeTimer = setTimeout(() => {
      this.emitError(new RelayClientError('timeout', 'login'));
      this.drop(socket, { code: 'timeout', message: `no login within ${this.connectTimeoutMs / 1000} s (is this a Vigil relay?)` });
    }, this.connectTimeoutMs);
    let opened = false;
    let socketError: unknown;
    socket.onopen = () => {
      opened = true;
    };
    socket.onmessage = (ev: MessageEventLike) => this.onData(socket, ev.data);
    socket.onclose = (ev: CloseEventLike) => {
      // A relay close code says more than the socket error ws may report with it.
      const reason = socketError !== undefined && relayErrorCodeFromNumber(ev.code) === undefined
        ? classifySocketError(socketError)
        : classifyClose(ev.code, opened);
      this.onClose(socket, ev.code, reason);
    };
    // The close event follows with the code; ws hands the cause over here first (a browser does not).
    socket.onerror = (ev: { error?: unknown }) => {
      socketError = ev?.error ?? socketError;
    };
  }

  /** Abandons a socket and goes on to reconnect. */
  private drop(socket: WebSocketLike, reason: FailureReason): void {
    if (this.socket !== socket) return;
    try {
      socket.close(1000, 'reconnecting');
    } catch {
      // already closing
    }
    this.onClose(socket, 1006, reason);
  }

  /**
   * Records why, and reports it when the reason is new for this URL since the last report (or the
   * last login): per URL, so a cluster whose nodes fail differently is not reported on every move.
   */
  private noteFailure(reason: FailureReason): void {
    const failure: RelayFailure = { ...reason, url: this.url };
    this.failureValue = failure;
    const key = `${failure.code} ${failure.message}`;
    if (this.reported.get(failure.url) === key) return;
    this.reported.set(failure.url, key);
    this.options.onFailure?.(failure);
  }

  private onClose(socket: WebSocketLike, code: number, reason: FailureReason): void {
    if (this.socket !== socket) return;
    // ws throws an 'error' event that has no listener, so the handlers become no-ops, never null.
    socket.onmessage = noop;
    socket.onclose = noop;
    socket.onerror = noop;
    this.socket = undefined;
    this.stopConnectionTimers();
    this.failPending('disconnected');
    if (this.stateValue !== 'closed') this.noteFailure(reason);
    const relayCode = relayErrorCodeFromNumber(code);
    if (relayCode !== undefined) this.emitError(new RelayClientError(relayCode, 'connection'));
    // Another node of the cluster may be up while this one is not. (With one URL this is a no-op.)
    this.urlIndex = (this.urlIndex + 1) % this.urlList.length;
    if (this.stateValue !== 'closed') this.scheduleReconnect();
  }

  private stopConnectionTimers(): void {
    clearTimeout(this.handshakeTimer);
    clearInterval(this.keepaliveTimer);
    this.handshakeTimer = undefined;
    this.keepaliveTimer = undefined;
    this.pingOutstanding = false;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
  }

  private scheduleReconnect(): void {
    this.setState('waiting');
    const delay = this.backoffMs[Math.min(this.attempt, this.backoffMs.length - 1)] as number;
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stateValue !== 'closed') this.open();
    }, delay);
  }

  private onData(socket: WebSocketLike, data: unknown): void {
    if (this.socket !== socket) return;
    let m: ServerMessage;
    try {
      let bytes: Uint8Array;
      if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
      else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      else throw new RelayProtocolError('bad-value', 'text frame');
      m = decodeServerMessage(bytes);
    } catch (e) {
      this.emitError(new RelayClientError('protocol', 'frame', { cause: e }));
      this.drop(socket, e instanceof RelayProtocolError && e.code === 'unsupported-version'
        ? classifyClose(RELAY_ERROR_CODES['unsupported-version'], true)
        : { code: 'protocol', message: `the relay sent a frame that does not decode (${e instanceof RelayProtocolError ? e.code : 'not binary'}): is this a Vigil relay?` });
      return;
    }
    this.onMessage(socket, m);
  }

  private onMessage(socket: WebSocketLike, m: ServerMessage): void {
    const o = this.options;
    switch (m.type) {
      case 'challenge': {
        const host = (this.urlList[this.urlIndex] as { host: string }).host;
        const signature = this.options.sign(loginMessage(m.nonce, m.connectionId, host));
        this.write({ type: 'login', publicKey: this.publicKey, signature });
        return;
      }
      case 'ready':
        if (!bytesEqual(m.relayId, this.publicKey)) {
          this.emitError(new RelayClientError('protocol', 'login'));
          this.drop(socket, { code: 'protocol', message: 'the relay logged this connection in under another key' });
          return;
        }
        // What this relay accepts in one frame: larger ones are refused here, since the relay would
        // close the whole connection (every viewer, for a hub) over one oversized fragment.
        this.maxMessageBytes = m.maxMessageBytes;
        return this.onReady();
      case 'ok':
      case 'error': {
        const p = this.pending.get(m.requestId);
        if (!p) {
          if (m.type === 'error') this.emitError(new RelayClientError(m.code, 'publish'));
          return;
        }
        this.pending.delete(m.requestId);
        clearTimeout(p.timer);
        if (m.type === 'ok') p.resolve();
        else p.reject(new RelayClientError(m.code, p.what));
        return;
      }
      case 'pong':
        this.pingOutstanding = false;
        return;
      case 'message':
        o.onMessage?.(m.from, m.payload);
        return;
      case 'mailbox-message':
        o.onMailboxMessage?.(m.mailboxId, m.from, m.payload);
        return;
      case 'media':
        o.onMedia?.({ hubRelayId: m.hubRelayId, topicId: m.topicId, flags: m.flags, dropped: m.dropped, payload: m.payload });
        return;
      case 'watchers':
        o.onWatchers?.(m.topicId, m.count);
        return;
      case 'unsubscribed':
        this.subscriptions.delete(toHex(m.hubRelayId) + toHex(m.topicId));
        o.onUnsubscribed?.(m.hubRelayId, m.topicId, m.code);
        return;
      default:
        return unreachable(m);
    }
  }

  private onReady(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.attempt = 0;
    this.failureValue = undefined;
    this.reported.clear();
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.keepaliveMs);
    this.setState('ready');
    this.replay();
    for (const waiter of this.readyWaiters.splice(0)) waiter();
  }

  private keepalive(): void {
    const socket = this.socket;
    if (!socket) return;
    if (this.pingOutstanding) {
      this.emitError(new RelayClientError('timeout', 'keepalive'));
      this.drop(socket, { code: 'timeout', message: 'the relay stopped answering (keepalive)' });
      return;
    }
    this.pingOutstanding = true;
    this.write({ type: 'ping', requestId: 0 });
  }

  /** Sends the standing state again; a refusal drops that entry and is reported at onError. */
  private replay(): void {
    const report = (e: unknown): void => {
      if (e instanceof RelayClientError && e.code !== 'disconnected' && e.code !== 'closed') this.emitError(e);
    };
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const [deviceHex, capability] of this.grants) {
      if (capability.expiresAt <= nowSeconds) {
        this.grants.delete(deviceHex);
        continue;
      }
      this.grant(capability).catch(report);
    }
    for (const [key, entry] of this.mailboxes) {
      if (entry.expiresAt <= nowSeconds) {
        this.mailboxes.delete(key);
        continue;
      }
      this.openMailbox(entry.mailboxId, entry.expiresAt).catch(report);
    }
    for (const [key, entry] of this.subscriptions) this.replaySubscription(key, entry, 0);
  }

  /**
   * After a relay restart the hub's grants may arrive after this device's subscriptions, so a
   * replayed subscription refused for 'no-capability' is tried again on the backoff steps, up to
   * REPLAY_RETRIES times, before it is dropped and reported.
   */
  private replaySubscription(key: string, entry: { hubRelayId: Uint8Array; topicId: Uint8Array }, attempt: number): void {
    const what = `subscribe(hub=${short(entry.hubRelayId)})`;
    this.request({ type: 'subscribe', requestId: 0, hubRelayId: entry.hubRelayId, topicId: entry.topicId }, what).catch(
      (e: unknown) => {
        if (!(e instanceof RelayClientError)) throw e;
        if (e.code === 'disconnected' || e.code === 'closed' || e.code === 'timeout') return; // replayed on next login
        if (this.subscriptions.get(key) !== entry) return;
        if (e.code === 'no-capability' && attempt < REPLAY_RETRIES) {
          const delay = this.backoffMs[Math.min(attempt, this.backoffMs.length - 1)] as number;
          const timer = setTimeout(() => {
            this.retryTimers.delete(timer);
            if (this.stateValue === 'ready' && this.subscriptions.get(key) === entry) {
              this.replaySubscription(key, entry, attempt + 1);
            }
          }, delay);
          this.retryTimers.add(timer);
          return;
        }
        this.subscriptions.delete(key);
        this.emitError(e);
      },
    );
  }
}

function noop(): void {}
