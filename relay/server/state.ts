// What the relay server holds, and nothing that acts on it: connections before and after login, and
// per hub relay id its capabilities, mailboxes and topics (HubTable). The bottom of the server's
// chain: state <- connections <- topics, mailboxes, messages <- hubs <- cluster-host; http beside
// them; ../server.ts assembles them.

import type { KeyObject } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Capability } from '../codec.ts';
import type { ClusterLink } from '../cluster.ts';
import type { RelayLimits } from '../limits.ts';
import type { RelayCounters } from '../metrics.ts';

export type LogFields = Record<string, string | number | boolean>;

/**
 * Where the relay's log lines go. Fields hold only short relay ids (8 hex digits), sizes, counts and
 * codes: never payloads, capabilities, mailbox ids, addresses or names.
 */
export interface RelayLogger {
  debug?(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
}

export const silentLogger: RelayLogger = { info() {}, warn() {} };

/** What every part of the server shares. */
export interface RelayContext {
  readonly limits: RelayLimits;
  readonly log: RelayLogger;
  readonly counters: RelayCounters;
  /** Set on a cluster node (README §11). */
  readonly cluster: ClusterLink | undefined;
}

// ---------------------------------------------------------------------------------------------------
// Connections

interface ConnectionBase {
  readonly ws: WebSocket;
  readonly address: string;
  /** Sent a frame or a pong since the last ping. */
  alive: boolean;
  /** Removed from all state: nothing more is sent to it or taken from it. */
  detached: boolean;
}

/** A socket before its login: it may only log in, within authTimeoutMs. */
export interface PendingConnection extends ConnectionBase {
  readonly loggedIn: false;
  readonly connectionId: Uint8Array;
  readonly nonce: Uint8Array;
  /** The hosts its login may sign. */
  readonly hosts: string[];
  readonly authTimer: NodeJS.Timeout;
}

/**
 * A socket after a valid login, speaking for relay id `id`. It replaces its PendingConnection in
 * every table at login; the pending one is not used again.
 */
export interface LoggedInConnection extends ConnectionBase {
  readonly loggedIn: true;
  readonly id: Uint8Array;
  readonly idHex: string;
  readonly key: KeyObject;
  /** When the login succeeded (unix ms); decides which of two nodes' connections for one id stays. */
  readonly loginAt: number;
  readonly subs: Map<string, Sub>;
  /** Rate limit (maxMessagesPerSecond): a token bucket, refilled on use. */
  tokens: number;
  refilledAt: number;
}

export type Connection = PendingConnection | LoggedInConnection;

// ---------------------------------------------------------------------------------------------------
// Hubs and what hangs off them

export interface CapEntry {
  /** As the hub signed it: replicated to other nodes unchanged, and verified there again. */
  capability: Capability;
  rights: number;
  expiresAtMs: number;
  /** Granted on an earlier connection of the hub and not granted again since. */
  stale: boolean;
}

export interface Mailbox {
  key: string;
  hub: HubState;
  expiresAtMs: number;
  posts: number;
  /** Relay ids that posted; the hub may send to them while the mailbox is open. */
  posters: Set<string>;
}

export interface Topic {
  key: string; // hub hex + topic hex
  hub: HubState;
  topicId: Uint8Array;
  subs: Map<LoggedInConnection, Sub>;
}

export interface Sub {
  topic: Topic;
  conn: LoggedInConnection;
  /** Media is being dropped until the next KEYFRAME or INIT. */
  dropping: boolean;
  /** Frames dropped since the last one delivered; told to the viewer with the next one. */
  dropped: number;
}

/** What the hub's node knows of another node's viewers of one topic. */
export interface RemoteWatchers {
  topicId: Uint8Array;
  /** node id hex -> viewers there */
  counts: Map<string, number>;
}

/** Everything the relay holds for one hub relay id; outlives the hub's connection by hubGraceMs. */
export interface HubState {
  idHex: string;
  id: Uint8Array;
  /** The hub's connection when it is on this node. */
  conn: LoggedInConnection | undefined;
  /** The node holding the hub's connection when it is another node (cluster only). */
  home: string | undefined;
  /** Viewers on other nodes, by topic hex; kept only while the hub is connected here. */
  remoteWatchers: Map<string, RemoteWatchers>;
  caps: Map<string, CapEntry>;
  mailboxes: Map<string, Mailbox>;
  topics: Map<string, Topic>;
  /** When stale capabilities are removed; undefined when none are stale. */
  staleDeadlineMs: number | undefined;
}

/** The relay's HubState by hub relay id (hex): created on first use, dropped when nothing hangs off it. */
export class HubTable {
  private readonly hubs = new Map<string, HubState>();

  constructor(private readonly hubGraceMs: number) {}

  get(idHex: string): HubState | undefined {
    return this.hubs.get(idHex);
  }

  values(): IterableIterator<HubState> {
    return this.hubs.values();
  }

  ensure(id: Uint8Array, idHex: string): HubState {
    let hub = this.hubs.get(idHex);
    if (!hub) {
      hub = {
        idHex,
        id: Uint8Array.from(id),
        conn: undefined,
        home: undefined,
        remoteWatchers: new Map(),
        caps: new Map(),
        mailboxes: new Map(),
        topics: new Map(),
        staleDeadlineMs: undefined,
      };
      this.hubs.set(idHex, hub);
    }
    return hub;
  }

  /** The hub state of a logged-in connection acting as a hub (granting, opening a mailbox). */
  hubOf(conn: LoggedInConnection): HubState {
    const hub = this.ensure(conn.id, conn.idHex);
    hub.conn = conn;
    hub.home = undefined;
    return hub;
  }

  forgetIfEmpty(hub: HubState): void {
    if (!hub.conn && hub.caps.size === 0 && hub.topics.size === 0) this.hubs.delete(hub.idHex);
  }

  /** The hub must grant again within hubGraceMs what it still wants; the rest is swept. */
  markStale(hub: HubState, now: number): void {
    if (hub.caps.size === 0) return;
    for (const cap of hub.caps.values()) cap.stale = true;
    hub.staleDeadlineMs = now + this.hubGraceMs;
  }

  /** For stats: hubs, and the capabilities, topics and subscriptions hanging off them. */
  gauges(): { hubs: number; capabilities: number; topics: number; subscriptions: number } {
    let capabilities = 0;
    let topics = 0;
    let subscriptions = 0;
    for (const hub of this.hubs.values()) {
      capabilities += hub.caps.size;
      topics += hub.topics.size;
      for (const topic of hub.topics.values()) subscriptions += topic.subs.size;
    }
    return { hubs: this.hubs.size, capabilities, topics, subscriptions };
  }

  clear(): void {
    this.hubs.clear();
  }
}

/** Whether `hub` holds an unexpired capability for the device with every bit of `right`. */
export function validCap(hub: HubState | undefined, deviceHex: string, right: number, now: number): boolean {
  const cap = hub?.caps.get(deviceHex);
  return cap !== undefined && cap.expiresAtMs > now && (cap.rights & right) === right;
}

/** Lowercase hex for map keys and subjects; the same text as codec's toHex, at native speed. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
