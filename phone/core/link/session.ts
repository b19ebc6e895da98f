// The link's Noise session with the hub: the handshake and its retries, the scheduled re-key, a
// fresh handshake when the hub lost ours (SESSION_RESET, or commands it stops answering), the
// link's state, and those waiting for a session.
import { Envelope, decodeSessionMessage, encodeSessionMessage, type SessionMessage } from '../../../crypto/messages.ts';
import { CryptoError, isCryptoError } from '../../../crypto/errors.ts';
import { startSession, type Session } from '../../../crypto/session.ts';
import { CommandError, type HubLinkOptions, type LinkState } from './api.ts';
import type { Paths } from './paths.ts';
import type { LinkTimers, Timer } from './timers.ts';

const HANDSHAKE_RETRY_MS = [500, 1000, 2000, 5000];
/** Added to each retry delay: how long message 2 may take. */
const HANDSHAKE_ANSWER_MS = 2000;
/**
 * Commands in a row the hub does not answer before we handshake again: it may no longer read our
 * session (it restarted, and a relay kept its SESSION_RESET from us).
 */
export const REHANDSHAKE_AFTER_TIMEOUTS = 2;
/**
 * A new handshake this long after the last one, so a session key that leaks opens little: the hub
 * refuses a session after 3 minutes (main/phone-sessions.ts REJECT_AFTER_MS). PROTOCOL 6.6.
 */
export const REKEY_AFTER_MS = 120_000;
/**
 * How long the session a new handshake replaced still opens what the hub sealed in it before it
 * saw the new one (messages in flight): those are counted stale and dropped, not taken for
 * tampering. After this, or on close, its keys are wiped.
 */
export const PREVIOUS_SESSION_MS = 10_000;

export interface SessionEvents {
  /** The key update the hub sent with message 2 (sealed to this phone); empty from no hub today. */
  keyUpdate(signed: Uint8Array): void;
  /** A handshake completed; `rekeyed` when it replaced a working session (a scheduled re-key). */
  began(rekeyed: boolean): void;
}

export class HubSession {
  private session: Session | undefined;
  /** The session the last handshake replaced, until `until` (performance.now()). */
  private previous: { session: Session; until: number } | undefined;
  private handshake: { finish(message2: Uint8Array): { session: Session; payload: Uint8Array } } | undefined;
  private waiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private current: LinkState = 'connecting';
  private handshakeTimer: Timer | undefined;
  private handshakeAttempt = 0;
  /** Commands that timed out since the hub last answered one. */
  private missedAnswers = 0;
  private rekeyTimer: Timer | undefined;
  private closed = false;

  constructor(
    private readonly opts: HubLinkOptions,
    private readonly timers: LinkTimers,
    private readonly paths: Paths,
    private readonly events: SessionEvents,
  ) {}

  get state(): LinkState {
    return this.current;
  }

  /** Resolves when a session with the hub is up; a typed error says why not within `timeoutMs`. */
  async up(timeoutMs: number): Promise<void> {
    if (this.session !== undefined) return;
    this.throwIfRefused();
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          timer.cancel();
          resolve();
        },
        reject: (e: Error) => {
          timer.cancel();
          reject(e);
        },
      };
      const timer = this.timers.after(timeoutMs, () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const f = this.paths.failure();
        reject(new CommandError(this.current === 'hub-offline' ? 'the hub is offline'
          : f !== undefined ? `cannot reach the hub: ${f.url}: ${f.message} [${f.code}]` : 'no session with the hub (timed out)'));
      });
      this.waiters.push(waiter);
    });
  }

  /** Seals a message in the session in use (the caller waited for up()). */
  seal(message: SessionMessage): Uint8Array {
    if (this.session === undefined) throw new CommandError('no session with the hub');
    return this.session.seal(encodeSessionMessage(message));
  }

  /**
   * Opens a SESSION_DATA body: undefined without a session; throws what the crypto throws. A
   * message whose tag names the session the last handshake replaced is opened there and thrown as
   * `expired` (stale, in flight when we re-keyed); one naming no session of ours is `not-for-me`
   * (the hub seals into a session it still holds for this phone as well, e.g. an earlier process's
   * while our handshake is not yet confirmed; PROTOCOL 6.5); a changed bit is `tampered`.
   */
  open(body: Uint8Array): SessionMessage | undefined {
    if (this.session === undefined) return undefined;
    let opened: Uint8Array;
    try {
      opened = this.session.open(body);
    } catch (e) {
      if (isCryptoError(e, 'not-for-me')) this.openInPrevious(body);
      throw e;
    }
    const message = decodeSessionMessage(opened);
    this.paths.heard();
    return message;
  }

  /**
   * A message of the replaced session (within PREVIOUS_SESSION_MS): throws `expired` when it opens
   * there, what opening threw when it does not; returns when the tag names no session of ours.
   */
  private openInPrevious(body: Uint8Array): void {
    const p = this.previous;
    if (p === undefined) return;
    if (performance.now() > p.until) {
      this.dropPrevious();
      return;
    }
    if (!p.session.sealedHere(body)) return;
    p.session.open(body);
    throw new CryptoError('expired', 'session.open(phone)', 'a message of the session the last handshake replaced');
  }

  /** Keeps `session` (being replaced) a moment for messages in flight. */
  private keepPrevious(session: Session | undefined): void {
    this.dropPrevious();
    if (session !== undefined) this.previous = { session, until: performance.now() + PREVIOUS_SESSION_MS };
  }

  private dropPrevious(): void {
    this.previous?.session.close();
    this.previous = undefined;
  }

  private throwIfRefused(): void {
    if (this.current === 'removed') throw new CommandError('this phone was removed from the hub');
    if (this.current === 'refused') throw new CommandError('the relay refuses to connect this phone to the hub: was it removed from the hub?');
  }

  setState(state: LinkState, detail?: string): void {
    if (this.current === state || (this.current === 'removed' && state !== 'closed')) return;
    this.current = state;
    this.opts.onState?.(state, detail);
    if (state === 'removed' || state === 'refused' || state === 'closed') {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) {
        try {
          this.throwIfRefused();
          w.reject(new CommandError('closed'));
        } catch (e) {
          w.reject(e as Error);
        }
      }
    }
  }

  /**
   * The path is up. Sessions are end to end: a new path or a relay reconnect needs no new
   * handshake, only a new one when we have none. True when the session we hold goes on (the
   * caller then says something on the new path).
   */
  pathUp(): boolean {
    if (this.session === undefined) {
      this.start();
      return false;
    }
    this.setState('live');
    return true;
  }

  pathDown(): void {
    if (this.current !== 'connecting') this.setState('reconnecting');
  }

  /** The hub says this phone was removed (authenticated, inside the session). */
  removed(): void {
    this.session = undefined;
    this.dropPrevious();
    this.setState('removed', 'this phone was removed from the hub');
  }

  start(): void {
    if (this.closed || this.current === 'removed') return;
    this.handshakeTimer?.cancel();
    const { message1, finish } = startSession({ device: this.opts.profile.device, hub: this.opts.profile.hub });
    this.handshake = { finish };
    const client = this.paths.client;
    this.paths.send(Envelope.SESSION_1, message1).catch((e: unknown) => {
      const code = (e as { code?: string } | undefined)?.code;
      // What an unconfirmed LAN endpoint says is not the hub's word: any host there can say it.
      if (this.paths.unconfirmedLan(client)) {
        if (code === 'offline' || code === 'no-capability') this.paths.leaveLan(`it says the hub is not there (${code})`);
        return;
      }
      if (code === 'offline') this.setState('hub-offline');
      // The relay holds no capability for us: the hub withdrew it (removed), or never re-granted it.
      // Only the hub can say "removed" authentically, so this is a hint shown as such, not a verdict.
      else if (code === 'no-capability') this.setState('refused', 'the relay says this phone may not reach the hub (removed from it?)');
    });
    // If no answer comes (hub offline, message lost), try again with backoff.
    const delay = HANDSHAKE_RETRY_MS[Math.min(this.handshakeAttempt++, HANDSHAKE_RETRY_MS.length - 1)]!;
    this.handshakeTimer = this.timers.after(delay + HANDSHAKE_ANSWER_MS, () => {
      if (this.handshake !== undefined) this.start(); // no message 2 came
    });
  }

  /** SESSION_RESET: the hub does not know our session. */
  onReset(): void {
    // Unauthenticated, so it can only make us do a fresh handshake, nothing worse. One under
    // way already answers it (and a relay repeating resets must not restart it forever).
    if (this.handshake !== undefined) return;
    this.keepPrevious(this.session);
    this.session = undefined;
    this.start();
  }

  onMessage2(message2: Uint8Array): void {
    if (this.handshake === undefined) return;
    const { session, payload } = this.handshake.finish(message2);
    this.handshake = undefined;
    this.paths.heard();
    // The hub answers a handshake with this phone's current key update.
    if (payload.length > 0) this.events.keyUpdate(payload);
    // A scheduled re-key: the hub still holds our watches, and this session replaces a working one.
    const rekeyed = this.session !== undefined;
    if (rekeyed) this.keepPrevious(this.session);
    this.session = session;
    this.handshakeAttempt = 0;
    this.handshakeTimer?.cancel();
    this.rekeyTimer?.cancel();
    this.rekeyTimer = this.timers.after(this.opts.rekeyAfterMs ?? REKEY_AFTER_MS, () => this.rekey());
    this.setState('live');
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    this.events.began(rekeyed);
  }

  /** The session is REKEY_AFTER_MS old: handshake again, using it until the new one is up. */
  private rekey(): void {
    if (this.closed || this.current === 'removed' || this.handshake !== undefined || this.session === undefined) return;
    this.start();
  }

  /** The hub answered a command: it reads our session. */
  answered(): void {
    this.missedAnswers = 0;
  }

  /**
   * A command timed out: after a few in a row we take the session for lost and handshake again;
   * commands wait for the new one rather than go where nobody reads them.
   */
  commandTimedOut(): void {
    if (++this.missedAnswers < REHANDSHAKE_AFTER_TIMEOUTS || this.handshake !== undefined || this.closed) return;
    this.missedAnswers = 0;
    this.session = undefined;
    this.start();
  }

  /** Stops the timers; the caller sets the state to 'closed' once what waits on commands is told. */
  close(): void {
    this.closed = true;
    this.dropPrevious();
    this.handshakeTimer?.cancel();
    this.rekeyTimer?.cancel();
  }
}
