// The link between relay nodes: one NATS connection per node, the subjects the nodes use, and the
// binary messages they exchange. It carries only what a single relay already sees (relay ids,
// mailbox and topic ids, signed capabilities, sealed payloads, sizes and timing); it never holds a
// key. relay/README.md §11 is the spec; the relay state that reacts to these messages is in
// server.ts (the Relay class implements ClusterHost).

import { randomBytes } from 'node:crypto';
import { ErrorCode, connect, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { concat } from '../lib/bytes.ts';
import { unreachable } from '../lib/unreachable.ts';
import {
  CAPABILITY_BYTES,
  MAILBOX_ID_BYTES,
  RELAY_ERROR_CODES,
  RELAY_ID_BYTES,
  TOPIC_ID_BYTES,
  decodeCapability,
  encodeCapability,
  relayErrorCodeFromNumber,
  toHex,
  type Capability,
  type RelayErrorCode,
} from './codec.ts';

/** The subject prefix; several clusters may share one NATS by choosing different ones. */
export const DEFAULT_SUBJECT_PREFIX = 'vigil.relay.v1';
export const NODE_ID_BYTES = 16;

/** Every node publishes a heartbeat this often; one silent for PEER_TIMEOUT_BEATS beats is gone. */
export const DEFAULT_HEARTBEAT_MS = 2_000;
export const PEER_TIMEOUT_BEATS = 3;
/** How long a node waits for another node to answer a forwarded send, post or mailbox query. */
export const DEFAULT_CLUSTER_REQUEST_TIMEOUT_MS = 2_000;
/** Bytes of cluster envelope around a client payload (kind + node/ids); frames must fit NATS max_payload. */
export const CLUSTER_OVERHEAD_BYTES = 128;

/** Broadcast events on `<prefix>.ctl`, each `kind:u8 || node:16 || body`. */
export const CONTROL_KINDS = {
  hello: 1, // a node (re)joined: every node announces its hubs and grants again
  heartbeat: 2,
  bye: 3, // a node is stopping
  online: 4, // relay id logged in on the sender: others close theirs (replaced); the hub lives there now
  announce: 5, // the hub lives on the sender (a re-announcement after hello: nobody is replaced)
  offline: 6, // relay id left the sender
  grant: 7, // a capability the hub granted on the sender (signed by the hub; every node verifies it)
  revoke: 8, // hubRelayId || deviceRelayId
} as const;
export type ControlKind = keyof typeof CONTROL_KINDS;

export type ControlEvent =
  | { kind: 'hello' | 'heartbeat' | 'bye'; node: string }
  | { kind: 'announce' | 'offline'; node: string; id: Uint8Array }
  /** `at`: login time (unix ms) on the sender; only an older connection elsewhere is replaced. */
  | { kind: 'online'; node: string; id: Uint8Array; at: number }
  | { kind: 'grant'; node: string; capability: Capability }
  | { kind: 'revoke'; node: string; hubRelayId: Uint8Array; deviceRelayId: Uint8Array };

/** Messages on `<prefix>.id.<relayIdHex>`, to the node holding that relay id's connection. */
const ID_KINDS = { direct: 1, watchers: 2 } as const;
/** Messages on `<prefix>.mbox.<mailboxIdHex>`, to the node holding the hub that opened it. */
const MAILBOX_KINDS = { post: 1, query: 2 } as const;

/** What the relay state must do with what other nodes send. Every method is synchronous. */
export interface ClusterHost {
  onControl(event: ControlEvent): void;
  /** Deliver `message { from, payload }` to the local connection of `toHex`: 'ok', 'offline' or 'queue-full'. */
  onDirect(toHex: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode;
  /** Node `node` has `count` viewers of (hub, topic). */
  onWatchersReport(hubHex: string, node: string, topicId: Uint8Array, count: number): void;
  onMailboxPost(mailboxHex: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode;
  /** Is this mailbox open here for another hub than `hubHex`? */
  onMailboxQuery(mailboxHex: string, hubHex: string): 'free' | 'taken';
  /** A `media` frame (dropped = 0) published by the hub's node. */
  onMedia(hubHex: string, topicHex: string, frame: Uint8Array): void;
  /** A node stopped or went silent. */
  onPeerGone(node: string): void;
  /** The NATS connection came back after a loss: re-announce. */
  onResync(): void;
}

export interface ClusterOptions {
  /** NATS server URLs, e.g. ['nats://127.0.0.1:4222']. */
  servers: string[];
  prefix?: string;
  heartbeatMs?: number;
  requestTimeoutMs?: number;
  /** NATS connection name (shows in the NATS server's monitoring). */
  name?: string;
}

export interface ClusterStats {
  connected: boolean;
  peers: number;
  natsBytesIn: number;
  natsBytesOut: number;
  natsMessagesIn: number;
  natsMessagesOut: number;
  /** Cluster messages that did not decode (a bug or a foreign publisher on our subjects). */
  badMessages: number;
}

// --- encoding -------------------------------------------------------------------------------------

function u8(n: number): Uint8Array {
  return Uint8Array.of(n);
}
function u16(n: number): Uint8Array {
  return Uint8Array.of(n >>> 8, n & 0xff);
}
function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

class ClusterDecodeError extends Error {}

function need(b: Uint8Array, n: number): void {
  if (b.length !== n) throw new ClusterDecodeError(`cluster message: want ${n} bytes, have ${b.length}`);
}

export function encodeControl(e: ControlEvent): Uint8Array {
  const head = [u8(CONTROL_KINDS[e.kind]), fromHex(e.node)];
  switch (e.kind) {
    case 'hello':
    case 'heartbeat':
    case 'bye':
      return concat(...head);
    case 'online': {
      const at = new Uint8Array(8);
      new DataView(at.buffer).setBigUint64(0, BigInt(e.at));
      return concat(...head, e.id, at);
    }
    case 'announce':
    case 'offline':
      return concat(...head, e.id);
    case 'grant':
      return concat(...head, encodeCapability(e.capability));
    case 'revoke':
      return concat(...head, e.hubRelayId, e.deviceRelayId);
    default:
      return unreachable(e);
  }
}

export function decodeControl(b: Uint8Array): ControlEvent {
  if (b.length < 1 + NODE_ID_BYTES) throw new ClusterDecodeError('cluster control: short');
  const kind = (Object.keys(CONTROL_KINDS) as ControlKind[]).find((k) => CONTROL_KINDS[k] === b[0]);
  const node = toHex(b.subarray(1, 1 + NODE_ID_BYTES));
  const body = b.subarray(1 + NODE_ID_BYTES);
  switch (kind) {
    case 'hello':
    case 'heartbeat':
    case 'bye':
      need(body, 0);
      return { kind, node };
    case 'online': {
      need(body, RELAY_ID_BYTES + 8);
      const at = Number(new DataView(body.buffer, body.byteOffset + RELAY_ID_BYTES, 8).getBigUint64(0));
      return { kind, node, id: body.slice(0, RELAY_ID_BYTES), at };
    }
    case 'announce':
    case 'offline':
      need(body, RELAY_ID_BYTES);
      return { kind, node, id: body.slice() };
    case 'grant':
      need(body, CAPABILITY_BYTES);
      return { kind, node, capability: decodeCapability(body.slice()) };
    case 'revoke':
      need(body, 2 * RELAY_ID_BYTES);
      return { kind, node, hubRelayId: body.slice(0, 32), deviceRelayId: body.slice(32) };
    default:
      throw new ClusterDecodeError('cluster control: unknown kind');
  }
}

/** A status answer: u16 0 for ok, else the relay error number. */
function encodeStatus(s: 'ok' | RelayErrorCode): Uint8Array {
  return u16(s === 'ok' ? 0 : RELAY_ERROR_CODES[s]);
}
function decodeStatus(b: Uint8Array): 'ok' | RelayErrorCode {
  if (b.length !== 2) throw new ClusterDecodeError('cluster status: bad length');
  const n = ((b[0] as number) << 8) | (b[1] as number);
  if (n === 0) return 'ok';
  const code = relayErrorCodeFromNumber(n);
  if (code === undefined) throw new ClusterDecodeError('cluster status: unknown code');
  return code;
}

// --- the link -------------------------------------------------------------------------------------

/**
 * One node's NATS connection. Subjects: `<p>.ctl` (broadcast events), `<p>.id.<relayIdHex>` (to the
 * node holding that connection), `<p>.mbox.<mailboxIdHex>` (to the node holding that mailbox's hub),
 * `<p>.media.<hubHex>.<topicHex>` (a topic's frames, published only while another node has viewers).
 */
export class ClusterLink {
  readonly node: string;
  private host: ClusterHost | undefined;
  private readonly prefix: string;
  private readonly heartbeatMs: number;
  private readonly requestTimeoutMs: number;
  private readonly idSubs = new Map<string, Subscription>();
  private readonly mailboxSubs = new Map<string, Subscription>();
  private readonly mediaSubs = new Map<string, Subscription>();
  private readonly peers = new Map<string, number>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connected = true;
  private badMessages = 0;
  private closing = false;

  private constructor(
    private readonly nc: NatsConnection,
    options: ClusterOptions,
  ) {
    this.node = toHex(randomBytes(NODE_ID_BYTES));
    this.prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(this.prefix)) {
      throw new TypeError('cluster: prefix must be dot-separated tokens of letters, digits, _ and -');
    }
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_CLUSTER_REQUEST_TIMEOUT_MS;
  }

  /** Connects to NATS (failing if no server answers); call start() once the relay state exists. */
  static async connect(options: ClusterOptions): Promise<ClusterLink> {
    if (options.servers.length === 0) throw new TypeError('cluster: no NATS server given');
    for (const s of options.servers) {
      if (!/^(nats|tls):\/\//.test(s)) throw new TypeError(`cluster: NATS server must be nats:// or tls://, got ${JSON.stringify(s)}`);
    }
    const nc = await connect({
      servers: options.servers,
      name: options.name ?? 'vigil-relay',
      noEcho: true, // a node never hears itself: its own media and events are already applied
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 5_000,
      maxPingOut: 2,
    });
    return new ClusterLink(nc, options);
  }

  /** The largest message NATS accepts; client frames are held below it minus our envelope. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  start(host: ClusterHost): void {
    this.host = host;
    this.nc.subscribe(`${this.prefix}.ctl`, { callback: (err, msg) => this.onControlMsg(err, msg) });
    this.heartbeatTimer = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
    void this.watchStatus();
    this.broadcast({ kind: 'hello', node: this.node });
  }

  stats(): ClusterStats {
    const s = this.nc.stats();
    return {
      connected: this.connected && !this.nc.isClosed(),
      peers: this.peers.size,
      natsBytesIn: s.inBytes,
      natsBytesOut: s.outBytes,
      natsMessagesIn: s.inMsgs,
      natsMessagesOut: s.outMsgs,
      badMessages: this.badMessages,
    };
  }

  get isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      if (s.type === 'reconnect') {
        this.connected = true;
        this.broadcast({ kind: 'hello', node: this.node });
        this.host?.onResync();
      }
    }
  }

  private beat(): void {
    this.broadcast({ kind: 'heartbeat', node: this.node });
    const deadline = Date.now() - this.heartbeatMs * PEER_TIMEOUT_BEATS;
    for (const [node, seen] of [...this.peers]) {
      if (seen < deadline) {
        this.peers.delete(node);
        this.host?.onPeerGone(node);
      }
    }
  }

  // --- control ----------------------------------------------------------------------------------

  broadcast(e: ControlEvent): void {
    if (this.closing && e.kind !== 'bye') return;
    this.publish(`${this.prefix}.ctl`, encodeControl(e));
  }

  private onControlMsg(err: NatsError | null, msg: Msg): void {
    if (err || !this.host) return;
    let e: ControlEvent;
    try {
      e = decodeControl(msg.data);
    } catch (x) {
      return this.bad(x);
    }
    if (e.node === this.node) return;
    if (e.kind === 'bye') {
      if (this.peers.delete(e.node)) this.host.onPeerGone(e.node);
      return;
    }
    const known = this.peers.has(e.node);
    this.peers.set(e.node, Date.now());
    // A node we did not know (new, or back after we gave it up) may hold hubs we forgot: ask all.
    if (!known && e.kind !== 'hello') this.broadcast({ kind: 'hello', node: this.node });
    this.host.onControl(e);
  }

  private bad(x: unknown): void {
    if (!(x instanceof ClusterDecodeError) && !(x instanceof Error)) throw x;
    this.badMessages += 1;
  }

  // --- relay ids (direct messages and watcher reports) ---------------------------------------------

  /**
   * This node holds `idHex`'s connection: take what other nodes route to it. Resolves once the NATS
   * server has the subscription, so a message another node routes right after cannot miss it.
   */
  claimId(idHex: string): Promise<void> {
    if (!this.idSubs.has(idHex)) {
      const sub = this.nc.subscribe(`${this.prefix}.id.${idHex}`, { callback: (err, msg) => this.onIdMsg(idHex, err, msg) });
      this.idSubs.set(idHex, sub);
    }
    return this.flush();
  }

  /** Resolves when the NATS server has processed everything sent so far (or at once when it is down). */
  private async flush(): Promise<void> {
    if (this.nc.isClosed() || !this.connected) return;
    try {
      await this.nc.flush();
    } catch {
      // lost meanwhile: the state is re-announced on reconnect
    }
  }

  releaseId(idHex: string): void {
    this.idSubs.get(idHex)?.unsubscribe();
    this.idSubs.delete(idHex);
  }

  private onIdMsg(idHex: string, err: NatsError | null, msg: Msg): void {
    if (err || !this.host) return;
    const b = msg.data;
    try {
      if (b[0] === ID_KINDS.direct && b.length >= 1 + RELAY_ID_BYTES) {
        const status = this.host.onDirect(idHex, b.slice(1, 33), b.subarray(33));
        if (msg.reply) msg.respond(encodeStatus(status));
        return;
      }
      if (b[0] === ID_KINDS.watchers && b.length === 1 + NODE_ID_BYTES + TOPIC_ID_BYTES + 4) {
        const node = toHex(b.subarray(1, 17));
        const count = new DataView(b.buffer, b.byteOffset + 33, 4).getUint32(0);
        this.host.onWatchersReport(idHex, node, b.slice(17, 33), count);
        return;
      }
      throw new ClusterDecodeError('cluster id message: unknown');
    } catch (x) {
      this.bad(x);
    }
  }

  /** Routes a direct message to the node holding `toHex`: 'offline' when none does (or none answers). */
  sendDirect(toHex_: string, from: Uint8Array, payload: Uint8Array): Promise<'ok' | RelayErrorCode> {
    return this.requestStatus(`${this.prefix}.id.${toHex_}`, concat(u8(ID_KINDS.direct), from, payload), 'offline');
  }

  /** Tells the hub's node how many viewers this node has for one of its topics (no answer). */
  reportWatchers(hubHex: string, topicId: Uint8Array, count: number): void {
    this.publish(`${this.prefix}.id.${hubHex}`, concat(u8(ID_KINDS.watchers), fromHex(this.node), topicId, u32(count)));
  }

  // --- mailboxes --------------------------------------------------------------------------------

  /** Resolves once the NATS server has the subscription (see claimId). */
  claimMailbox(mailboxHex: string): Promise<void> {
    if (!this.mailboxSubs.has(mailboxHex)) {
      const sub = this.nc.subscribe(`${this.prefix}.mbox.${mailboxHex}`, {
        callback: (err, msg) => this.onMailboxMsg(mailboxHex, err, msg),
      });
      this.mailboxSubs.set(mailboxHex, sub);
    }
    return this.flush();
  }

  releaseMailbox(mailboxHex: string): void {
    this.mailboxSubs.get(mailboxHex)?.unsubscribe();
    this.mailboxSubs.delete(mailboxHex);
  }

  private onMailboxMsg(mailboxHex: string, err: NatsError | null, msg: Msg): void {
    if (err || !this.host || !msg.reply) return;
    const b = msg.data;
    try {
      if (b[0] === MAILBOX_KINDS.post && b.length >= 1 + RELAY_ID_BYTES) {
        msg.respond(encodeStatus(this.host.onMailboxPost(mailboxHex, b.slice(1, 33), b.subarray(33))));
        return;
      }
      if (b[0] === MAILBOX_KINDS.query && b.length === 1 + RELAY_ID_BYTES) {
        const answer = this.host.onMailboxQuery(mailboxHex, toHex(b.subarray(1)));
        msg.respond(encodeStatus(answer === 'taken' ? 'mailbox-taken' : 'ok'));
        return;
      }
      throw new ClusterDecodeError('cluster mailbox message: unknown');
    } catch (x) {
      this.bad(x);
    }
  }

  /** Posts to a mailbox open on another node: 'mailbox-closed' when no node holds it. */
  postMailbox(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array): Promise<'ok' | RelayErrorCode> {
    if (mailboxId.length !== MAILBOX_ID_BYTES) throw new TypeError('cluster: mailbox id length');
    return this.requestStatus(
      `${this.prefix}.mbox.${toHex(mailboxId)}`,
      concat(u8(MAILBOX_KINDS.post), from, payload),
      'mailbox-closed',
    );
  }

  /** 'taken' when another node holds this mailbox for another hub. */
  async queryMailbox(mailboxHex: string, hubId: Uint8Array): Promise<'free' | 'taken'> {
    const s = await this.requestStatus(`${this.prefix}.mbox.${mailboxHex}`, concat(u8(MAILBOX_KINDS.query), hubId), 'ok');
    return s === 'mailbox-taken' ? 'taken' : 'free';
  }

  // --- media ------------------------------------------------------------------------------------

  /** Receive a remote hub's topic while this node has viewers of it. */
  watchTopic(hubHex: string, topicHex: string): void {
    const key = hubHex + topicHex;
    if (this.mediaSubs.has(key)) return;
    const sub = this.nc.subscribe(`${this.prefix}.media.${hubHex}.${topicHex}`, {
      callback: (err, msg) => {
        if (!err && this.host) this.host.onMedia(hubHex, topicHex, msg.data);
      },
    });
    this.mediaSubs.set(key, sub);
  }

  unwatchTopic(hubHex: string, topicHex: string): void {
    const key = hubHex + topicHex;
    this.mediaSubs.get(key)?.unsubscribe();
    this.mediaSubs.delete(key);
  }

  publishMedia(hubHex: string, topicHex: string, frame: Uint8Array): void {
    // While NATS is away the client would buffer every frame until it returns: live video is
    // worthless late, so it is dropped here and viewers resume at the next keyframe.
    if (!this.connected) return;
    this.publish(`${this.prefix}.media.${hubHex}.${topicHex}`, frame);
  }

  // --- plumbing ---------------------------------------------------------------------------------

  private publish(subject: string, data: Uint8Array): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, data);
    } catch {
      // closed or draining: cluster traffic is best-effort; state is re-announced on reconnect
    }
  }

  /** A request answered by a status; `none` when no node listens, the answer is late, or NATS is down. */
  private async requestStatus(subject: string, data: Uint8Array, none: RelayErrorCode | 'ok'): Promise<'ok' | RelayErrorCode> {
    if (this.nc.isClosed() || !this.connected) return none;
    try {
      const reply = await this.nc.request(subject, data, { timeout: this.requestTimeoutMs });
      return decodeStatus(reply.data);
    } catch (e) {
      const code = (e as NatsError).code;
      if (code !== ErrorCode.NoResponders && code !== ErrorCode.Timeout) this.bad(e);
      return none;
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeatTimer);
    this.broadcast({ kind: 'bye', node: this.node });
    // Let the bye out, but never wait on a NATS that is away: stopping must not hang.
    await Promise.race([this.flush(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    await this.nc.close();
  }
}
