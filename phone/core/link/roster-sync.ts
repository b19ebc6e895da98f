// The link's side of the roster log (PROTOCOL §16): at each new session, and when the hub says the
// log grew, the phone fetches the entries it has not checked and extends its view; a key update is
// taken only when its roster hash is the log's roster. One that does not match is held while the
// log is fetched, then taken or refused: keys cannot reach a device missing from the log.
import { fromBase64url } from '../../../crypto/bytes.ts';
import { CryptoError, isCryptoError } from '../../../crypto/errors.ts';
import type { KeyUpdate } from '../../../crypto/keyupdate.ts';
import { RosterCheck, emptyRosterState } from '../roster.ts';
import type { HubLinkOptions } from './api.ts';
import type { Rpc } from './rpc.ts';
import type { LinkTimers, Timer } from './timers.ts';

/** Key updates held while the log is fetched; the newest are kept. */
const MAX_HELD = 4;
/** Pages fetched in one sync (100 entries each): a log longer than this is fetched over several. */
const MAX_PAGES = 20;

export interface RosterCounters {
  /** Key updates refused: their roster is not the log's. */
  rosterMismatch: number;
  /** Log entries refused: they do not extend the log this phone checked (a rewritten or forked log). */
  rosterForked: number;
}

export class RosterSync {
  readonly check: RosterCheck;
  readonly counters: RosterCounters = { rosterMismatch: 0, rosterForked: 0 };
  #held: KeyUpdate[] = [];
  #syncing: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly opts: HubLinkOptions,
    private readonly rpc: Pick<Rpc, 'command'>,
    private readonly take: (update: KeyUpdate) => void,
  ) {
    this.check = new RosterCheck(opts.profile.hub, opts.profile.device.deviceId, opts.profile.roster ?? emptyRosterState());
  }

  /** A key update from the hub: taken now if the log this phone holds names its roster. */
  keyUpdate(update: KeyUpdate): void {
    if (this.check.matches(update)) {
      this.take(update);
      return;
    }
    this.#held = [...this.#held, update].slice(-MAX_HELD);
    void this.sync();
  }

  /**
   * Resolves once a fetch under way (the one every new session starts) is done, or after
   * `timeoutMs`: what is watched next then opens with the key update that fetch let through.
   */
  async settled(timeoutMs: number, timers: LinkTimers): Promise<void> {
    const syncing = this.#syncing;
    if (syncing === undefined) return;
    let timer: Timer | undefined;
    await Promise.race([syncing, new Promise<void>((resolve) => {
      timer = timers.after(timeoutMs, resolve);
    })]);
    timer?.cancel();
  }

  /** Fetches what the log gained; at most one fetch runs, and one more follows if asked meanwhile. */
  sync(): Promise<void> {
    if (this.#syncing !== undefined) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      do {
        this.#again = false;
        await this.#fetch();
      } while (this.#again);
    })().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #fetch(): Promise<void> {
    let fetched = false;
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        // From the last entry this phone checked: it must be the same entry still (its hash is the
        // head kept), so a log rewritten without growing is caught too.
        const since = Math.max(0, this.check.length - 1);
        const { entries, length } = await this.rpc.command('roster-log', { since });
        const wires = entries.map((e) => fromBase64url(e));
        if (this.check.length > 0) this.check.sameHead(wires.shift());
        if (wires.length === 0) {
          if (length < this.check.length) throw new CryptoError('tampered', 'RosterSync', `the hub's log is shorter (${length}) than this phone checked (${this.check.length})`);
          break;
        }
        const alerts = this.check.extend(wires);
        fetched = true;
        if (alerts.length > 0) this.opts.onRosterAlerts?.(alerts);
        if (this.check.length >= length) break;
      }
    } catch (e) {
      if (isCryptoError(e, 'tampered')) {
        this.counters.rosterForked++;
        this.opts.onRosterProblem?.(`the hub's roster log does not extend the one this phone checked: ${e.message}`);
      }
      // Not answered (offline, an older hub): held updates wait for the next sync.
      return;
    } finally {
      if (fetched) {
        this.opts.profile.roster = this.check.saved;
        this.opts.onProfileChanged?.(this.opts.profile);
      }
    }
    const held = this.#held;
    this.#held = [];
    for (const update of held) {
      if (this.check.matches(update)) this.take(update);
      else {
        this.counters.rosterMismatch++;
        this.opts.onRosterProblem?.(`a key update for epoch ${update.epoch} names a roster that is not the log's: refused`);
      }
    }
  }
}
