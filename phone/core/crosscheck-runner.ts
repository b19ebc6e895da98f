// Keeps an owner phone cross-checking the roster log with the other owner phones while its hub link
// is up (PROTOCOL §16.4): the phone app all the time it is connected, `vigil-phone` during its
// long-running commands and in `vigil-phone roster`. It sends a round when it starts, when the
// link comes back, when the log it verified grows, and every 15 min; between rounds its mailbox
// stays open, so another owner's round is compared and answered at once. A phone with no other
// owner on its log opens no mailbox until one is added.
import { CrossChecker, otherOwners, type CrossCheckLink, type CrossCheckOptions } from './crosscheck.ts';
import type { LinkState } from './link/api.ts';
import type { PhoneProfile } from './profile.ts';

export interface CrossCheckRunnerOptions extends Omit<CrossCheckOptions, 'relayUrl' | 'link'> {
  readonly link: CrossCheckLink & { ready(): Promise<void>; readonly linkState: LinkState };
  /** The relay to keep the mailbox on; default: crossCheckRelay(profile). */
  readonly relayUrl?: string;
  /** A round at least this often while the link is up (default 15 min). */
  readonly roundEveryMs?: number;
}

/** A round: how many other owners the log lists, whom it reached (hex ids), who was offline, who answered in time. */
export interface Round {
  readonly others: number;
  readonly sent: readonly string[];
  readonly offline: readonly string[];
  readonly answered: readonly string[];
}

/** How often the runner looks whether the log grew or a round is due. */
const TICK_MS = 60_000;
const ROUND_EVERY_MS = 15 * 60_000;

export class CrossCheckRunner {
  #checker: CrossChecker | undefined;
  #opening: Promise<CrossChecker | undefined> | undefined;
  #started: Promise<Round | undefined> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** The log length and time of the last round; a round at a time. */
  #roundLength = -1;
  #roundAt = 0;
  #round: Promise<Omit<Round, 'answered'>> | undefined;
  #state: LinkState | undefined;

  constructor(private readonly opts: CrossCheckRunnerOptions) {}

  get isOwner(): boolean {
    return this.opts.profile.certificate.role === 'owner';
  }

  /**
   * Owner phones only (viewers and guests may not fetch other phones' certificates): once the link
   * is up, sends a first round and keeps going. Resolves with that round (whom it reached, who was
   * offline), or undefined for other roles or when the link never came up (said through onProblem).
   */
  start(): Promise<Round | undefined> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<Round | undefined> {
    if (!this.isOwner) return undefined;
    try {
      await this.opts.link.ready();
    } catch (e) {
      this.#problem(`cross-check not started: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    if (this.#closed) return undefined;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    (this.#timer as { unref?: () => void }).unref?.();
    return await this.round();
  }

  /**
   * The hub link's state changed: back up after a break, a round (the other phones may have moved
   * on meanwhile); removed from the hub, it stops (its certificate no longer speaks for an owner).
   */
  linkChanged(state: LinkState): void {
    const was = this.#state;
    this.#state = state;
    if (state === 'removed') void this.close();
    else if (state === 'live' && was !== undefined && was !== 'live' && this.#started !== undefined) void this.round();
  }

  /**
   * Sends this phone's head to every other owner now (opening the mailbox first if need be) and,
   * with `waitMs`, waits that long at most for those it reached to answer. Never throws: what went
   * wrong is said through onProblem.
   */
  async round(waitMs = 0): Promise<Round> {
    const none = { others: 0, sent: [], offline: [], answered: [] };
    if (!this.isOwner || this.#closed) return none;
    // One round at a time: a second caller shares the one under way.
    this.#round ??= this.#sendRound().finally(() => {
      this.#round = undefined;
    });
    const since = Date.now();
    const r = await this.#round;
    const checker = this.#checker;
    const answered = waitMs > 0 && checker !== undefined && r.sent.length > 0 ? await checker.answered(r.sent, since, waitMs) : [];
    return { ...r, answered };
  }

  async #sendRound(): Promise<Omit<Round, 'answered'>> {
    const { link, profile } = this.opts;
    let others = 0;
    try {
      await link.syncRoster();
      this.#roundLength = link.rosterLog.length;
      this.#roundAt = Date.now();
      others = otherOwners(link.rosterLog, profile).length;
      if (others === 0) return { others, sent: [], offline: [] };
      const checker = await this.#open();
      if (checker === undefined) return { others, sent: [], offline: [] };
      return { others, ...await checker.round() };
    } catch (e) {
      this.#problem(`no cross-check round: ${e instanceof Error ? e.message : String(e)}`);
      return { others, sent: [], offline: [] };
    }
  }

  /** Opens the mailbox, once (a failed open is tried again at the next round). */
  #open(): Promise<CrossChecker | undefined> {
    if (this.#checker !== undefined) return Promise.resolve(this.#checker);
    this.#opening ??= (async () => {
      const { roundEveryMs: _every, relayUrl, ...rest } = this.opts;
      const checker = new CrossChecker({ ...rest, relayUrl: relayUrl ?? crossCheckRelay(this.opts.profile), onProblem: (why) => this.#problem(why) });
      try {
        await checker.start();
      } catch (e) {
        await checker.close();
        this.#problem(`cross-check mailbox not opened: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      }
      if (this.#closed) {
        await checker.close();
        return undefined;
      }
      this.#checker = checker;
      return checker;
    })().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  #tick(): void {
    if (this.#closed || this.opts.link.linkState !== 'live') return;
    const every = this.opts.roundEveryMs ?? ROUND_EVERY_MS;
    if (this.opts.link.rosterLog.length !== this.#roundLength || Date.now() - this.#roundAt >= every) void this.round();
  }

  #problem(why: string): void {
    if (!this.#closed) this.opts.onProblem?.(why);
  }

  /** Stops: the mailbox closes with its relay connection; a cross-check being handled gets up to `ms` to finish. */
  async close(ms = 2000): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const checker = this.#checker ?? await this.#opening;
    this.#checker = undefined;
    if (checker === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([checker.idle(), new Promise<void>((r) => {
      timer = setTimeout(r, ms);
    })]);
    clearTimeout(timer);
    await checker.close();
  }
}

/**
 * The relay the cross-check mailbox is kept on: every owner phone of a hub must pick the same one
 * (or nodes of one cluster, which share mailboxes). The profile's relays are the invite's: the
 * hub's own LAN endpoint first when it has one (a phone away from home cannot post there), then its
 * relays. So the last one that is not a LAN endpoint this phone knows of; a phone whose profile does
 * not know its LAN endpoint yet still picks the same.
 */
export function crossCheckRelay(profile: PhoneProfile): string {
  const lan = new Set(profile.lanUrls ?? []);
  return [...profile.relays].reverse().find((u) => !lan.has(u)) ?? profile.relays.at(-1) ?? '';
}
