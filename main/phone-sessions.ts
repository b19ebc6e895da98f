// Sessions with paired phones, over any transport that speaks the relay protocol. A phone's
// SESSION_1 is accepted only if its Noise static key belongs to a device on the roster and not
// revoked; the answer carries the phone's current key update. Commands inside a session are
// checked by crypto/command.ts (roster, role, signature, age, sequence) before anything acts on them.
import { authorizeCommand, decodeCommand, type Action, type Command } from '../crypto/command.ts';
import { isCryptoError } from '../crypto/errors.ts';
import { CommandRefused, type Refusal } from '../crypto/phone-commands.ts';
import type { HubIdentity } from '../crypto/identity.ts';
import {
  Envelope, decodeEnvelope, decodeSessionMessage, encodeEnvelope, encodeSessionMessage, type Notice,
} from '../crypto/messages.ts';
import { acceptSession, type Session } from '../crypto/session.ts';
import { bytesToHex, hexToBytes } from './hex.ts';
import type { Device, Store } from './store/db.ts';

export interface SessionTransport {
  send(to: Uint8Array, payload: Uint8Array): Promise<void>;
}

export type CommandHandler = (command: Command, device: Device) => Promise<unknown>;

/** Limits and clock of PhoneSessions; tests inject a clock. */
export interface PhoneSessionOptions {
  /** Milliseconds since the epoch (Date.now by default). */
  readonly now?: () => number;
}

/**
 * A session is refused once it is older than this: a phone re-keys every REKEY_AFTER_MS (2 min,
 * phone/core/hub-link.ts), so a session key that leaks opens at most about 3 minutes of traffic and
 * no key update of a later epoch (at an epoch change every session ends at once). PROTOCOL 6.6.
 */
export const REJECT_AFTER_MS = 180_000;
/**
 * A pending session younger than this survives a message that opens in the current one: a re-key
 * racing a command the phone sent before message 2 came back. An older one was a replayed message 1.
 */
export const PENDING_GRACE_MS = 10_000;

/** A phone gets at most one SESSION_RESET per this long, however many messages open in no session. */
export const RESET_INTERVAL_MS = 1_000;
/** Phones whose last reset time is remembered at once (older entries are swept first). */
const MAX_RESET_ENTRIES = 1024;

// A handshake costs the hub's only thread ~6 ms (X-Wing, four X25519, a key update signed), so
// whoever can send in a phone's name (the relay, or a thief of its relay key) could fill that thread
// with message 1s. Each phone may start HANDSHAKE_BURST at once and one more every
// HANDSHAKE_REFILL_MS: far above what a phone does (one at start and per path change, SESSION_RESET
// or epoch change, and one every REKEY interval), far below a flood (~0.3% of a core per phone). The
// hub-wide bucket bounds a relay that floods in the name of every phone (~6% of a core).
/** Handshakes one phone may start at once (token bucket). */
export const HANDSHAKE_BURST = 10;
/** One more handshake for a phone per this long. */
export const HANDSHAKE_REFILL_MS = 2_000;
/** Handshakes all phones together may start at once, and one more per HUB_HANDSHAKE_REFILL_MS. */
export const HUB_HANDSHAKE_BURST = 64;
export const HUB_HANDSHAKE_REFILL_MS = 100;
/** Message 1 ephemeral keys remembered per phone, so that a replayed copy costs nothing. */
const RECENT_HANDSHAKES = 16;
/** A phone's last-seen time is written at most this often (a database write per message is a flood's lever too). */
export const TOUCH_INTERVAL_MS = 60_000;
/** Bytes of message 1 that identify it: header and the phone's fresh ephemeral key (PROTOCOL 6.3). */
const MESSAGE1_ID_BYTES = 33;

/** A token bucket on an injected clock; whole tokens. */
class TokenBucket {
  #tokens: number;
  #at: number;
  constructor(private readonly burst: number, private readonly refillMs: number, now: number) {
    this.#tokens = burst;
    this.#at = now;
  }
  take(now: number): boolean {
    const earned = Math.floor((now - this.#at) / this.refillMs);
    if (earned > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + earned);
      this.#at = this.#tokens === this.burst ? now : this.#at + earned * this.refillMs;
    } else if (now < this.#at) this.#at = now; // the clock went back: start counting again from now
    if (this.#tokens === 0) return false;
    this.#tokens--;
    return true;
  }
}

interface PhoneSession {
  readonly device: Device;
  readonly relayKey: Uint8Array;
  /** The link (cloud relay or LAN endpoint) the phone last reached us on: replies go there. */
  via: SessionTransport;
  current: Session;
  /** When the current session's handshake was accepted. */
  currentAt: number;
  /** A newer handshake not yet confirmed by a message from the phone (a relay may replay SESSION_1). */
  pending?: Session;
  pendingAt?: number;
}

export class PhoneSessions {
  readonly #sessions = new Map<string, PhoneSession>();
  readonly #now: () => number;
  /** When each phone was last sent a SESSION_RESET. */
  readonly #lastReset = new Map<string, number>();
  /** Per phone on the roster: its handshake allowance and its recent message 1s. */
  readonly #handshakes = new Map<string, { bucket: TokenBucket; recent: string[] }>();
  readonly #hubHandshakes: TokenBucket;
  /** When each phone's last-seen time was last written. */
  readonly #touched = new Map<string, number>();

  constructor(
    private readonly hub: HubIdentity,
    private readonly store: Store,
    private readonly transport: SessionTransport,
    private readonly keyUpdateFor: (deviceId: Uint8Array) => Uint8Array,
    private readonly handle: CommandHandler,
    private readonly log: (line: string) => void = () => undefined,
    /** Called when a phone completed a handshake (the hub tells it its LAN endpoints). */
    private readonly onSessionStarted: (deviceId: string) => void = () => undefined,
    options: PhoneSessionOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#hubHandshakes = new TokenBucket(HUB_HANDSHAKE_BURST, HUB_HANDSHAKE_REFILL_MS, this.#now());
  }

  /** Phones with a live session now. */
  get online(): number {
    return this.#sessions.size;
  }

  onMessage(from: Uint8Array, payload: Uint8Array, via: SessionTransport = this.transport): void {
    const fromHex = bytesToHex(from);
    const device = this.store.findDeviceByRelayKey(fromHex, { includeRevoked: true });
    // The relay only forwards from phones we granted, but we do not rely on it: a removed phone, or
    // a phone of another hub that a relay misroutes here, is refused here too, and written down.
    if (device === undefined || device.revokedAt !== null) {
      if (device === undefined) this.#refused('hub', 'a phone not on this hub\'s roster', { relay: fromHex.slice(0, 16) });
      else this.#refused(device.id, 'removed from this hub');
      return;
    }
    let env;
    try {
      env = decodeEnvelope(payload);
    } catch {
      return;
    }
    try {
      if (env.kind === Envelope.SESSION_1) {
        if (this.#mayHandshake(device, env.body)) this.#onHandshake(device, from, env.body, via);
      }
      else if (env.kind === Envelope.SESSION_DATA) this.#onData(device, from, env.body, via);
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      this.log(`session with ${device.id.slice(0, 8)}: ${e.code}`);
      if (env.kind === Envelope.SESSION_1) this.#refused(device.id, `handshake refused (${e.code})`);
    }
  }

  readonly #lastRefusal = new Map<string, number>();

  /**
   * Audits a refusal, at most once a minute per sender and for at most 256 senders at a time, so a
   * flood (a hostile relay can send anything) cannot fill the audit log.
   */
  #refused(actor: string, reason: string, detail: Record<string, string> = {}): void {
    const now = this.#now();
    const key = `${actor}/${detail.relay ?? ''}`;
    const last = this.#lastRefusal.get(key);
    if (last !== undefined && now - last < 60_000) return;
    if (last === undefined && this.#lastRefusal.size >= 256) {
      for (const [k, t] of this.#lastRefusal) if (now - t >= 60_000) this.#lastRefusal.delete(k);
      if (this.#lastRefusal.size >= 256) return;
    }
    this.#lastRefusal.set(key, now);
    this.store.audit(actor, 'command-refused', { reason, ...detail });
  }

  /**
   * Whether a message 1 is worth a handshake, decided before any costly work and with no database
   * write: a byte-identical copy of a recent one is dropped (the relay replays; the phone never
   * sends the same ephemeral twice), and the phone's and the hub's allowances must not be spent.
   */
  #mayHandshake(device: Device, message1: Uint8Array): boolean {
    const now = this.#now();
    let h = this.#handshakes.get(device.id);
    if (h === undefined) {
      h = { bucket: new TokenBucket(HANDSHAKE_BURST, HANDSHAKE_REFILL_MS, now), recent: [] };
      this.#handshakes.set(device.id, h);
    }
    const id = bytesToHex(message1.subarray(0, MESSAGE1_ID_BYTES));
    if (h.recent.includes(id)) return false;
    if (!h.bucket.take(now) || !this.#hubHandshakes.take(now)) {
      this.#refused(device.id, 'too many handshakes');
      return false;
    }
    h.recent.push(id);
    if (h.recent.length > RECENT_HANDSHAKES) h.recent.shift();
    return true;
  }

  /** Writes a phone's last-seen time, at most once per TOUCH_INTERVAL_MS. */
  #touch(deviceId: string): void {
    const now = this.#now();
    const last = this.#touched.get(deviceId);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS && now >= last) return;
    this.#touched.set(deviceId, now);
    this.store.touchDevice(deviceId);
  }

  #onHandshake(device: Device, from: Uint8Array, message1: Uint8Array, via: SessionTransport): void {
    const accepted = acceptSession({
      hub: this.hub,
      message1,
      lookupDevice: (exchangeKey) => {
        const d = this.store.findDeviceByExchangeKey(bytesToHex(exchangeKey));
        // The Noise static key must be the same device the relay login says it is.
        return d !== undefined && d.id === device.id && d.revokedAt === null ? d : undefined;
      },
    });
    const { message2, session } = accepted.respond(this.keyUpdateFor(hexToBytes(device.id)));
    const existing = this.#sessions.get(device.id);
    const now = this.#now();
    if (existing === undefined) this.#sessions.set(device.id, { device, relayKey: from, current: session, currentAt: now, via });
    else {
      existing.pending?.close();
      existing.pending = session;
      existing.pendingAt = now;
    }
    this.#touch(device.id);
    void via.send(from, encodeEnvelope(Envelope.SESSION_2, message2)).catch(() => undefined);
    this.onSessionStarted(device.id);
  }

  #onData(device: Device, from: Uint8Array, body: Uint8Array, via: SessionTransport): void {
    let s = this.#sessions.get(device.id);
    if (s !== undefined && this.#retireExpired(s)) s = this.#sessions.get(device.id);
    if (s === undefined) {
      // We restarted, never had one, or it was too old: tell the phone to handshake again.
      this.#reset(device.id, from, via);
      return;
    }
    let plain: Uint8Array;
    try {
      plain = this.#open(s, body);
    } catch (e) {
      // Opens in no session we hold: the phone speaks in one we lost (we restarted, and a relay
      // replayed an old message 1 before the phone spoke) or a relay sent garbage. Only a new
      // handshake can tell; the phone cannot know by itself, and would show "connected" while
      // nothing it sends is read. A message we have already opened is only a relay's duplicate.
      if (!(isCryptoError(e) && e.code === 'replayed')) this.#reset(device.id, from, via);
      throw e;
    }
    const moved = s.via !== via;
    s.via = via;
    // The phone changed paths (LAN endpoint <-> relay): what we sent it on the old one since it
    // left may be lost, and the one thing it cannot go on without is the current key update.
    if (moved) {
      this.#sendInSession(s, encodeSessionMessage({ kind: 'key-update', signed: this.keyUpdateFor(hexToBytes(s.device.id)) }));
    }
    const message = decodeSessionMessage(plain);
    if (message.kind !== 'command') return;
    this.#runCommand(s, message.signed);
  }

  /**
   * Opens a phone's message in the pending session (which it promotes: the phone took the new
   * handshake's keys) or else the current one (the pending one then came from a replayed message 1,
   * and is dropped). Throws the current session's error when neither opens it.
   */
  #open(s: PhoneSession, body: Uint8Array): Uint8Array {
    if (s.pending !== undefined) {
      try {
        const plain = s.pending.open(body);
        this.#promote(s);
        return plain;
      } catch {
        // not in the new session: try the one in use
      }
    }
    const plain = s.current.open(body);
    if (s.pending !== undefined && this.#now() - (s.pendingAt ?? 0) >= PENDING_GRACE_MS) {
      s.pending.close();
      s.pending = undefined;
      s.pendingAt = undefined;
    }
    return plain;
  }

  /** The pending session becomes the current one. */
  #promote(s: PhoneSession): void {
    s.current.close();
    s.current = s.pending!;
    s.currentAt = s.pendingAt ?? this.#now();
    s.pending = undefined;
    s.pendingAt = undefined;
  }

  /**
   * Retires a current session older than REJECT_AFTER_MS: a newer pending one takes its place, or
   * the phone has no session left. True if it did; nothing more is opened or sealed in it.
   */
  #retireExpired(s: PhoneSession): boolean {
    if (this.#now() - s.currentAt <= REJECT_AFTER_MS) return false;
    if (s.pending !== undefined) this.#promote(s);
    else {
      s.current.close();
      this.#sessions.delete(s.device.id);
    }
    return true;
  }

  /** Tells a phone we hold no session it speaks in, at most once per RESET_INTERVAL_MS. */
  #reset(deviceId: string, to: Uint8Array, via: SessionTransport, always = false): void {
    const now = this.#now();
    const last = this.#lastReset.get(deviceId);
    if (!always && last !== undefined && now - last < RESET_INTERVAL_MS) return;
    if (last === undefined && this.#lastReset.size >= MAX_RESET_ENTRIES) {
      for (const [id, t] of this.#lastReset) if (now - t >= RESET_INTERVAL_MS) this.#lastReset.delete(id);
      if (this.#lastReset.size >= MAX_RESET_ENTRIES) return;
    }
    this.#lastReset.set(deviceId, now);
    void via.send(to, encodeEnvelope(Envelope.SESSION_RESET, new Uint8Array(0))).catch(() => undefined);
  }

  #runCommand(s: PhoneSession, signed: Uint8Array): void {
    let command: Command;
    const fresh = this.store.getDevice(s.device.id);
    try {
      command = authorizeCommand(signed, {
        hubId: this.hub.hubId,
        lookupDevice: (id) => {
          const d = this.store.getDevice(bytesToHex(id));
          return d === undefined ? undefined : { signingKey: hexToBytes(d.signingKey), role: d.role, revoked: d.revokedAt !== null };
        },
        lastSeq: (id) => this.store.lastCommandSeq(bytesToHex(id)),
        sessionDeviceId: hexToBytes(s.device.id),
        now: Date.now(),
      });
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      this.store.audit(s.device.id, 'command-refused', { reason: e.code });
      // Answer inside the session, so the phone learns why at once instead of timing out.
      let seq: bigint | undefined;
      try {
        seq = decodeCommand(signed).command.seq;
      } catch {
        seq = undefined;
      }
      if (seq !== undefined) this.#reply(s, seq, false, { code: e.code, message: `refused: ${e.code}` } satisfies Refusal);
      return;
    }
    // Another process (or a replay racing this one) took this sequence number: do nothing.
    if (!this.store.setLastCommandSeq(s.device.id, command.seq)) return;
    this.#touch(s.device.id);
    const device = fresh ?? s.device;
    this.handle(command, device).then(
      (value) => this.#reply(s, command.seq, true, value),
      (e: unknown) => this.#reply(s, command.seq, false, (e instanceof CommandRefused
        ? { code: e.code, message: e.message }
        : { code: 'failed', message: 'the hub could not do that' }) satisfies Refusal),
    );
  }

  #reply(s: PhoneSession, seq: bigint, ok: boolean, value: unknown): void {
    if (!this.#sessions.has(s.device.id)) return;
    this.#sendInSession(s, encodeSessionMessage({ kind: 'result', seq, ok, value }));
  }

  #sendInSession(s: PhoneSession, plain: Uint8Array): void {
    // Until the phone speaks in a newer handshake's session we cannot tell which one it holds: a
    // real new handshake, or message 1 replayed by the relay. So news goes in both; the phone opens
    // the one it has and counts the other as not its own. (Results answer in the session the
    // command came in, which is `current` by then.)
    if (this.#retireExpired(s) && !this.#sessions.has(s.device.id)) {
      this.#reset(s.device.id, s.relayKey, s.via);
      return;
    }
    for (const session of s.pending ? [s.current, s.pending] : [s.current]) {
      void s.via.send(s.relayKey, encodeEnvelope(Envelope.SESSION_DATA, session.seal(plain))).catch(() => undefined);
    }
  }

  /**
   * Sends every phone with a session its key update for the current epoch, and returns those phones.
   * After an epoch change (`epochChanged`) the update goes into no session begun before it: every
   * session ends and its phone is sent SESSION_RESET, so the update reaches it in the message 2 of
   * its next handshake, which a key taken from the old session cannot open.
   */
  sendKeyUpdates(options: { epochChanged?: boolean } = {}): Set<string> {
    const reached = new Set<string>();
    if (options.epochChanged === true) {
      for (const s of [...this.#sessions.values()]) {
        this.end(s.device.id);
        this.#reset(s.device.id, s.relayKey, s.via, true);
        reached.add(s.device.id);
      }
      return reached;
    }
    for (const s of this.#sessions.values()) {
      this.#sendInSession(s, encodeSessionMessage({ kind: 'key-update', signed: this.keyUpdateFor(hexToBytes(s.device.id)) }));
      reached.add(s.device.id);
    }
    return reached;
  }

  notify(deviceId: string, notice: Notice): void {
    const s = this.#sessions.get(deviceId);
    if (s !== undefined) this.#sendInSession(s, encodeSessionMessage({ kind: 'notice', value: notice }));
  }

  /** Tells every phone with a session (or those `only` picks: a camera's news to the phones that may see it). */
  notifyAll(notice: Notice, only: (deviceId: string) => boolean = () => true): void {
    for (const id of this.#sessions.keys()) if (only(id)) this.notify(id, notice);
  }

  /** Ends a phone's session (after telling it why, if `notice` is given). */
  end(deviceId: string, notice?: Notice): void {
    if (notice !== undefined) this.notify(deviceId, notice);
    const s = this.#sessions.get(deviceId);
    if (s === undefined) return;
    s.current.close();
    s.pending?.close();
    this.#sessions.delete(deviceId);
  }

  /** The link a phone with a session last reached us on. */
  linkOf(deviceId: string): SessionTransport | undefined {
    return this.#sessions.get(deviceId)?.via;
  }

  closeAll(): void {
    for (const id of [...this.#sessions.keys()]) this.end(id);
  }
}

export type { Action };
