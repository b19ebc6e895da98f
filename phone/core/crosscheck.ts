// Owner phones cross-check the roster log's head with each other (PROTOCOL §16.4). Each owner phone
// keeps a relay mailbox named from the hub id and its device id, and after verifying the log posts
// to every other owner on it a cross-check sealed to that phone's key (its certificate checked
// against the log) and signed with its own. The receiver compares the head with its own verified
// log: the same entry at that length, or a split, which it keeps as an alert. It answers once, so
// two phones online at the same time both learn. The hub never sees these; the relay carries opaque
// fixed-size blobs. Either can drop them: the phone shows when it last cross-checked with whom.
import { equalBytes, fromBase64url, fromHex, toHex } from '../../crypto/bytes.ts';
import { decodeCertificate } from '../../crypto/certificate.ts';
import { crossCheckMailbox, openCrossCheck, sealCrossCheck, type OpenedCrossCheck } from '../../crypto/crosscheck.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { newSigningKeyPair, sign } from '../../crypto/identity.ts';
import type { ArgsOf, ResultOf } from '../../crypto/phone-commands.ts';
import { EMPTY_ROSTER, certificateFingerprint, entryHash, extendRoster, type RosterLogEntry } from '../../crypto/roster-log.ts';
import { encodeCertificate } from '../../crypto/certificate.ts';
import type { RelayClient } from '../../relay/client.ts';
import type { RelayFactory } from './pair.ts';
import type { PhoneProfile } from './profile.ts';
import type { RosterCheck, RosterState, SplitAlert } from './roster.ts';

/** What the cross-check needs of the hub link (HubLink has it all). */
export interface CrossCheckLink {
  command(action: 'roster-log', args: ArgsOf<'roster-log'>): Promise<ResultOf<'roster-log'>>;
  command(action: 'device-certificate', args: ArgsOf<'device-certificate'>): Promise<ResultOf<'device-certificate'>>;
  syncRoster(): Promise<void>;
  readonly rosterLog: RosterCheck;
}

export interface CrossCheckOptions {
  readonly link: CrossCheckLink;
  readonly profile: PhoneProfile;
  readonly relayFactory: RelayFactory;
  /** The relay every owner phone of the hub keeps its mailbox on (crossCheckRelay in crosscheck-runner.ts). */
  readonly relayUrl: string;
  readonly now?: () => number;
  /** A split found: show it (it is kept in the roster state too). */
  readonly onSplit?: (alert: SplitAlert) => void;
  /** Another phone's cross-check was taken (agreeing or not): save the profile. */
  readonly onChecked?: (peer: string, agrees: boolean) => void;
  /** A cross-check refused (forged, replayed, from a removed phone) or one that could not be sent. */
  readonly onProblem?: (why: string) => void;
}

/** Pages of the log fetched for a check (100 entries each). */
const MAX_LOG_PAGES = 200;
/** A mailbox takes 16 posts over its life (relay maxMailboxPosts): opened anew after this many. */
const REOPEN_AFTER_POSTS = 12;
/** A relay keeps a mailbox at most an hour: it is opened again this often while the phone runs. */
const REOPEN_EVERY_MS = 30 * 60_000;
const MAILBOX_TTL_S = 3500;

/** This phone's verified log, whole: entries up to the length it kept, whose last hashes to its head. */
interface LogCopy {
  readonly length: number;
  readonly head: string;
  readonly wires: readonly Uint8Array[];
  readonly entries: readonly RosterLogEntry[];
}

export class CrossChecker {
  readonly counters = { sent: 0, offline: 0, taken: 0, refused: 0, splits: 0 };
  #client: RelayClient | undefined;
  #posts = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #mailbox: Uint8Array;
  #busy: Promise<void> = Promise.resolve();
  /** Woken after each cross-check taken (answered() waits on them). */
  #waiters: (() => void)[] = [];

  constructor(private readonly opts: CrossCheckOptions) {
    this.#mailbox = crossCheckMailbox(opts.profile.hub.hubId, opts.profile.device.deviceId);
  }

  private get now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Opens this phone's mailbox (owner phones only: viewers and guests may not fetch other phones'
   * certificates, §16.4). A separate relay key of its own, so this connection never replaces the
   * hub link's.
   */
  async start(): Promise<boolean> {
    if (this.opts.profile.certificate.role !== 'owner') return false;
    const key = newSigningKeyPair('crosscheck relay key');
    this.#client = this.opts.relayFactory({
      url: this.opts.relayUrl,
      publicKey: key.publicKey,
      sign: (message) => sign(key, message),
      onMailboxMessage: (mailbox, _from, payload) => {
        if (!equalBytes(mailbox, this.#mailbox)) return;
        this.#posts++;
        // One at a time: each may fetch the log and answer.
        this.#busy = this.#busy.then(() => this.receive(payload)).catch(() => undefined);
        if (this.#posts >= REOPEN_AFTER_POSTS) void this.reopen();
      },
    });
    await this.#client.waitReady();
    await this.#client.openMailbox(this.#mailbox, Math.floor(this.now / 1000) + MAILBOX_TTL_S);
    this.#timer = setInterval(() => void this.reopen(), REOPEN_EVERY_MS);
    this.#timer.unref?.();
    return true;
  }

  /** Waits until every cross-check received so far is handled. */
  async idle(): Promise<void> {
    await this.#busy;
  }

  /**
   * Resolves, with those of `peers` cross-checked at or after `since` (this phone's clock), once
   * all of them are or after `ms`: a phone reached by a round answers within a relay round trip.
   */
  async answered(peers: readonly string[], since: number, ms: number): Promise<string[]> {
    const done = () => peers.filter((p) => (this.opts.link.rosterLog.saved.crossChecked?.[p]?.checkedAt ?? -Infinity) >= since);
    const deadline = Date.now() + ms;
    for (;;) {
      const left = deadline - Date.now();
      if (done().length === peers.length || left <= 0 || this.#client === undefined) return done();
      await new Promise<void>((resolve) => {
        const waiter = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve();
        }, left);
        this.#waiters.push(waiter);
      });
    }
  }

  private async reopen(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    this.#posts = 0;
    try {
      await client.closeMailbox(this.#mailbox);
      await client.openMailbox(this.#mailbox, Math.floor(this.now / 1000) + MAILBOX_TTL_S);
    } catch (e) {
      this.opts.onProblem?.(`cross-check mailbox not reopened: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Sends this phone's head to every other owner on its log. Returns who got it and who was not
   * online (their mailbox closed: they check with this phone when they next connect, if it is).
   */
  async round(): Promise<{ sent: string[]; offline: string[] }> {
    const sent: string[] = [];
    const offline: string[] = [];
    if (this.#client === undefined) return { sent, offline };
    await this.opts.link.syncRoster();
    const others = otherOwners(this.opts.link.rosterLog, this.opts.profile);
    if (others.length === 0) return { sent, offline };
    const log = await this.logCopy();
    for (const m of others) {
      try {
        const exchangeKey = await this.exchangeKeyOf(log, m.id);
        await this.post(m.id, exchangeKey, log, true);
        sent.push(m.id);
        this.counters.sent++;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code === 'mailbox-closed') {
          offline.push(m.id);
          this.counters.offline++;
        } else this.opts.onProblem?.(`no cross-check sent to "${m.name}": ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { sent, offline };
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const w of this.#waiters.splice(0)) w();
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }

  // ---------------------------------------------------------------------------------------------

  private async post(to: string, exchangeKey: Uint8Array, log: LogCopy, answer: boolean): Promise<void> {
    const { profile } = this.opts;
    const sealed = sealCrossCheck(profile.device, encodeCertificate(profile.certificate), exchangeKey, {
      hubId: profile.hub.hubId, to: fromHex(to), at: this.now, answer, length: log.length, head: fromHex(log.head),
    });
    await this.#client?.postMailbox(crossCheckMailbox(profile.hub.hubId, fromHex(to)), sealed);
  }

  /** The other owner's exchange key: from the certificate the hub hands out, checked against the log. */
  private async exchangeKeyOf(log: LogCopy, id: string): Promise<Uint8Array> {
    const listed = listedFingerprint(log, id);
    if (listed === undefined) throw new Error('not on the log this phone verified');
    const bytes = fromBase64url((await this.opts.link.command('device-certificate', { device: id })).certificate);
    const cert = decodeCertificate(bytes, this.opts.profile.hub.signingKey);
    if (toHex(cert.deviceId) !== id || !equalBytes(certificateFingerprint(bytes), listed)) {
      throw new Error('the hub sent keys the roster log does not list for that phone');
    }
    return cert.exchangeKey;
  }

  /** The log this phone verified, fetched whole again: its entry `length − 1` MUST hash to the head kept. */
  private async logCopy(): Promise<LogCopy> {
    const kept = this.opts.link.rosterLog.saved;
    const wires: Uint8Array[] = [];
    for (let page = 0; page < MAX_LOG_PAGES && wires.length < kept.length; page++) {
      const { entries } = await this.opts.link.command('roster-log', { since: wires.length });
      if (entries.length === 0) break;
      wires.push(...entries.map((e) => fromBase64url(e)));
    }
    const mine = wires.slice(0, kept.length);
    const at = mine[kept.length - 1];
    if (at === undefined || toHex(entryHash(at)) !== kept.head) throw new Error('the hub\'s roster log is not the one this phone verified');
    return { length: kept.length, head: kept.head, wires: mine, entries: extendRoster(EMPTY_ROSTER, mine, this.opts.profile.hub).entries };
  }

  /** One cross-check from another phone: checked, compared with this phone's log, kept, answered. */
  private async receive(payload: Uint8Array): Promise<void> {
    const check = this.opts.link.rosterLog;
    let c: OpenedCrossCheck;
    try {
      c = openCrossCheck(payload, this.opts.profile.device, this.opts.profile.hub, this.now, (from) => check.saved.crossChecked?.[toHex(from)]?.sentAt);
    } catch (e) {
      if (isCryptoError(e, 'not-for-me')) return;
      this.counters.refused++;
      this.opts.onProblem?.(`cross-check refused: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const peer = toHex(c.from);
    // A longer log may only mean the hub appended since this phone looked: look again first.
    if (c.length > check.length) await this.opts.link.syncRoster();
    const log = await this.logCopy();
    const listed = listedFingerprint(log, peer);
    const member = check.saved.members.find((m) => m.id === peer);
    const everListed = log.entries.some((e) => toHex(e.deviceId) === peer);
    if (everListed && member === undefined) {
      this.counters.refused++;
      this.opts.onProblem?.(`cross-check from a phone removed from the log (${peer.slice(0, 8)}): ignored`);
      return;
    }
    const why = !everListed ? 'it holds a certificate of this hub but is not on the log this phone verified'
      : listed === undefined || !equalBytes(listed, certificateFingerprint(c.certificateBytes)) ? 'its keys are not the ones this phone\'s log lists for it'
        : c.length > log.length ? `its log has ${c.length - log.length} more entries than the hub gives this phone`
          : toHex(entryHash(log.wires[c.length - 1]!)) !== toHex(c.head) ? `entry ${c.length - 1} differs`
            : undefined;
    const split: SplitAlert | undefined = why === undefined ? undefined : {
      type: 'log-split', peer, peerName: member?.name ?? c.certificate.role, at: this.now,
      mine: { length: log.length, head: log.head }, theirs: { length: c.length, head: toHex(c.head) }, why, acknowledged: false,
    };
    check.crossChecked(peer, { sentAt: c.at, checkedAt: this.now, length: Math.min(c.length, log.length), agrees: split === undefined }, split);
    this.opts.profile.roster = check.saved;
    if (split !== undefined) {
      this.counters.splits++;
      this.opts.onSplit?.(split);
    }
    this.opts.onChecked?.(peer, split === undefined);
    for (const w of this.#waiters.splice(0)) w();
    // Answer once, to a phone whose keys this log lists: it learns this phone's head too.
    if (c.answer && listed !== undefined && equalBytes(listed, certificateFingerprint(c.certificateBytes))) {
      try {
        await this.post(peer, c.certificate.exchangeKey, log, false);
        this.counters.sent++;
      } catch (e) {
        this.opts.onProblem?.(`no cross-check answer sent: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}

/** The owners on this phone's verified log other than itself: the phones it cross-checks with. */
export function otherOwners(check: RosterCheck, profile: PhoneProfile): RosterState['members'] {
  const me = toHex(profile.device.deviceId);
  return check.saved.members.filter((m) => m.id !== me && m.role === 'owner');
}

/** The fingerprint of the device's latest 'added' or 'role-changed' entry, unless its last entry removed it. */
function listedFingerprint(log: LogCopy, id: string): Uint8Array | undefined {
  const last = log.entries.filter((e) => toHex(e.deviceId) === id && e.change !== 'history-shared').at(-1);
  return last === undefined || last.change === 'removed' ? undefined : last.fingerprint;
}
