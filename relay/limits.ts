// Every limit of the relay, with its default. All are finite: a relay started with no options is
// bounded in memory, connections and time. relay/README.md lists them; keep the two in step.

import { MAX_FRAME_OVERHEAD } from './codec.ts';

export interface RelayLimits {
  /** Largest frame accepted (ws maxPayload); a bigger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Outgoing bytes one connection may have queued before media to it is dropped. */
  queueBytes: number;
  /** Extra room above queueBytes for control frames; past it the connection is closed (slow-consumer). */
  controlSlackBytes: number;
  /** Time from TCP connect to a complete HTTP upgrade request (slow-loris guard: answered 408). */
  handshakeTimeoutMs: number;
  /**
   * TCP connections from one address that have not finished their HTTP request yet. Above
   * maxConnectionsPerAddress by default, so that a burst of fast clients still reaches the WebSocket
   * limit and its documented close code (4006); only sockets past this are closed without one.
   */
  maxHandshakesPerAddress: number;
  /** Time from connect to a valid login. */
  authTimeoutMs: number;
  /** A connection that answers no ping for this long is terminated. Pings go every idleTimeoutMs / 2. */
  idleTimeoutMs: number;
  /** Open WebSocket connections in total. */
  maxConnections: number;
  /** Open WebSocket connections from one remote address. */
  maxConnectionsPerAddress: number;
  /** Topics one connection may subscribe to. */
  maxSubscriptionsPerConnection: number;
  /** Capabilities one hub may have granted at once. */
  maxCapabilitiesPerHub: number;
  /** Mailboxes one hub may have open at once. */
  maxMailboxesPerHub: number;
  /** Mailboxes open on the relay in total. */
  maxMailboxes: number;
  /** Posts a mailbox accepts over its life. */
  maxMailboxPosts: number;
  /** How far in the future a mailbox expiry may be. */
  maxMailboxTtlMs: number;
  /** Frames per second one connection may send (token bucket, burst of the same size). */
  maxMessagesPerSecond: number;
  /** How long a hub's capabilities outlive its connection, so a reconnect does not cut viewers off. */
  hubGraceMs: number;
  /** How often expired capabilities, mailboxes and hub state are swept. */
  sweepIntervalMs: number;
}

export const DEFAULT_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  queueBytes: 8 * 1024 * 1024,
  controlSlackBytes: 256 * 1024,
  handshakeTimeoutMs: 10_000,
  maxHandshakesPerAddress: 128,
  authTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 64,
  maxSubscriptionsPerConnection: 64,
  maxCapabilitiesPerHub: 256,
  maxMailboxesPerHub: 8,
  maxMailboxes: 10_000,
  maxMailboxPosts: 16,
  maxMailboxTtlMs: 60 * 60 * 1000,
  maxMessagesPerSecond: 2_000,
  hubGraceMs: 15_000,
  sweepIntervalMs: 1_000,
});

/** The smallest frame limit that still carries a login and a capability. */
const MIN_MESSAGE_BYTES = 1024;
/** The longest timer Node can arm (2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Merges options over the defaults; throws on an unknown key, a non-finite value or a conflict. */
export function resolveLimits(options: Partial<RelayLimits> = {}): RelayLimits {
  const limits: RelayLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(options)) {
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`relay limits: unknown option ${key}`);
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`relay limits: ${key} must be a positive integer`);
    }
    limits[key as keyof RelayLimits] = value;
  }
  const fail = (why: string): never => {
    throw new RangeError(`relay limits: ${why}`);
  };
  if (limits.maxMessageBytes < MIN_MESSAGE_BYTES) fail(`maxMessageBytes must be at least ${MIN_MESSAGE_BYTES}`);
  if (limits.maxMessageBytes > 0xffff_ffff) fail('maxMessageBytes must fit in 32 bits');
  // A relay frame is bigger than the client frame it carries; a queue that cannot hold one full
  // frame would drop every large fragment, forever.
  if (limits.queueBytes < limits.maxMessageBytes + MAX_FRAME_OVERHEAD) {
    fail('queueBytes must be at least maxMessageBytes + 59 (one full frame)');
  }
  if (limits.maxConnectionsPerAddress > limits.maxConnections) {
    fail('maxConnectionsPerAddress must not exceed maxConnections');
  }
  if (limits.maxMailboxesPerHub > limits.maxMailboxes) fail('maxMailboxesPerHub must not exceed maxMailboxes');
  if (limits.maxHandshakesPerAddress > limits.maxConnections) {
    fail('maxHandshakesPerAddress must not exceed maxConnections');
  }
  for (const key of ['handshakeTimeoutMs', 'authTimeoutMs', 'idleTimeoutMs', 'hubGraceMs', 'sweepIntervalMs', 'maxMailboxTtlMs'] as const) {
    if (limits[key] > MAX_TIMER_MS) fail(`${key} must be at most ${MAX_TIMER_MS}`);
  }
  if (limits.authTimeoutMs >= limits.idleTimeoutMs) fail('authTimeoutMs must be shorter than idleTimeoutMs');
  if (limits.idleTimeoutMs < 20) fail('idleTimeoutMs must be at least 20');
  return limits;
}
