// The hub's side of the roster log (crypto/roster-log.ts, PROTOCOL §16): every phone added or
// removed is an entry, appended before the new epoch's keys go out, so the roster hash in those key
// updates is the roster the log arrives at, and phones that check it can refuse anything else.
import {
  EMPTY_ROSTER, certificateFingerprint, entryHash, extendRoster, GENESIS, safetyCode, signRosterEntry, type RosterChange, type SharedHistory,
} from '../../crypto/roster-log.ts';
import { hubPublicKeys, type HubIdentity } from '../../crypto/identity.ts';
import { toHex } from '../../crypto/bytes.ts';
import type { RosterReport } from '../../contract/hub-ui.ts';
import { hexToBytes } from '../hex.ts';
import type { Device, Store } from '../store/db.ts';
import { rosterScope } from './scope.ts';

/** The most entries one `roster-log` answer carries (each under 300 bytes; a session message holds 60 kB of JSON). */
export const MAX_ROSTER_ENTRIES_SENT = 100;

/** Who changes the roster on a hub: whoever holds its local API token (its UI, its command line). */
export const BY_HUB_OWNER = 'the hub\'s owner (local API)';

export class HubRosterLog {
  constructor(
    private readonly hub: HubIdentity,
    private readonly store: Pick<Store, 'rosterLog' | 'rosterLogLength' | 'appendRosterEntry' | 'listDevices'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A hub that had phones before the log existed starts it with them, marked so. */
  start(): void {
    if (this.store.rosterLogLength() > 0) return;
    for (const d of this.store.listDevices()) this.append('added', d, 'paired before the roster log');
  }

  append(change: RosterChange, device: Device, by: string, history?: SharedHistory): number {
    return this.store.appendRosterEntry((last) => signRosterEntry(this.hub, {
      seq: last === undefined ? 0 : last.seq + 1,
      prev: last === undefined ? GENESIS : entryHash(last.entry),
      at: this.now(),
      change,
      deviceId: hexToBytes(device.id),
      fingerprint: certificateFingerprint(device.certificate),
      name: device.name,
      role: device.role,
      // A guest's or scoped viewer's cameras and window, on its 'added' and 'removed' entries alike.
      ...(device.scope !== null && change !== 'history-shared' && change !== 'restored' ? { scope: rosterScope(device.scope) } : {}),
      by,
      ...(history ? { history } : {}),
    }));
  }

  /** How many entries the log holds. */
  length(): number {
    return this.store.rosterLogLength();
  }

  /**
   * A phone joined or left: into the log first, then `newEpoch` (whose key updates name the roster
   * the log now arrives at), then `tell` the phones the log grew.
   */
  changed(change: RosterChange, device: Device, newEpoch: () => void, tell: (length: number) => void): void {
    this.append(change, device, BY_HUB_OWNER);
    newEpoch();
    tell(this.length());
  }

  /** Entries from `since` on, oldest first (a bounded page: ask again from where it ends). */
  since(since: number): Uint8Array[] {
    return this.store.rosterLog(since, MAX_ROSTER_ENTRIES_SENT).map((r) => r.entry);
  }
}

/** The whole log as the hub holds it, checked as a phone checks it, with its safety code. */
export function rosterReport(hub: HubIdentity, store: Pick<Store, 'rosterLog' | 'rosterLogLength'>): RosterReport {
  const wires: Uint8Array[] = [];
  for (let since = 0; since < store.rosterLogLength();) {
    const page = store.rosterLog(since, 1000).map((r) => r.entry);
    if (page.length === 0) break;
    wires.push(...page);
    since += page.length;
  }
  const { view, entries } = extendRoster(EMPTY_ROSTER, wires, hubPublicKeys(hub));
  return {
    safetyCode: safetyCode(hub.hubId, view),
    length: view.length,
    entries: entries.map((e) => ({
      seq: e.seq, at: e.at, change: e.change, deviceId: toHex(e.deviceId), name: e.name, role: e.role, by: e.by,
      ...(e.scope ? { scope: { cameras: e.scope.cameras.map(toHex), from: e.scope.from, until: e.scope.until } } : {}),
      ...(e.history ? { history: { from: toHex(e.history.from), firstEpoch: e.history.firstEpoch, lastEpoch: e.history.lastEpoch, epochs: e.history.epochs } } : {}),
    })),
  };
}
