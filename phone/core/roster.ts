// What a phone knows of its hub's roster log (crypto/roster-log.ts, PROTOCOL §16): how far it has
// checked the log, the roster it arrives at, and the changes the owner has not seen yet. The phone
// takes a key update only if its roster hash is the log's roster: keys cannot go to a device that
// is not in the log every phone sees.
import { fromHex, toHex } from '../../crypto/bytes.ts';
import type { Role } from '../../crypto/certificate.ts';
import type { HubPublicKeys } from '../../crypto/identity.ts';
import type { KeyUpdate } from '../../crypto/keyupdate.ts';
import { rosterHash, type Scope } from '../../crypto/roster.ts';
import { EMPTY_ROSTER, entryHash, extendRoster, rosterOf, safetyCode, type RosterChange, type RosterView } from '../../crypto/roster-log.ts';
import { CryptoError } from '../../crypto/errors.ts';
import { equalBytes } from '../../crypto/bytes.ts';

/** A guest's or scoped viewer's limits as the log states them (PROTOCOL §16.3): camera ids in hex; Unix ms, 0 for none. */
export interface ScopeState {
  readonly cameras: readonly string[];
  readonly from: number;
  readonly until: number;
}

function scopeState(s: Scope): ScopeState {
  return { cameras: s.cameras.map(toHex), from: s.from, until: s.until };
}

function scopeOf(s: ScopeState): Scope {
  return { cameras: s.cameras.map(fromHex), from: s.from, until: s.until };
}

function scopeFromJson(v: unknown): ScopeState | undefined {
  if (v === undefined || v === null) return undefined;
  const s = v as Record<string, unknown>;
  if (!Array.isArray(s.cameras) || !s.cameras.every((c) => typeof c === 'string' && /^[0-9a-f]{32}$/.test(c))
    || !Number.isSafeInteger(s.from) || !Number.isSafeInteger(s.until)) throw new Error('roster state is malformed');
  return { cameras: s.cameras as string[], from: s.from as number, until: s.until as number };
}

function roleFromJson(v: unknown): Role {
  if (v === 'owner' || v === 'viewer' || v === 'guest') return v;
  throw new Error('roster state is malformed');
}

/** A change of the roster this phone learnt of after it joined: shown until acknowledged. */
export interface RosterAlert {
  readonly seq: number;
  readonly change: RosterChange;
  readonly deviceId: string;
  readonly name: string;
  readonly role: Role;
  /** Who made the change, as the hub's signed entry says. */
  readonly by: string;
  readonly at: number;
  /** A guest's or scoped viewer's cameras and window. */
  readonly scope?: ScopeState;
  /** history-shared: which owner phone (hex id) sealed which recording epochs to this device. */
  readonly history?: { readonly from: string; readonly firstEpoch: number; readonly lastEpoch: number; readonly epochs: number };
  acknowledged: boolean;
}

/**
 * Another owner phone verified a log that is not this phone's (PROTOCOL §16.4): the hub shows phones
 * different logs. Shown until acknowledged, like a roster alert.
 */
export interface SplitAlert {
  readonly type: 'log-split';
  /** The other phone (hex id) and its name on this phone's log. */
  readonly peer: string;
  readonly peerName: string;
  /** When this phone found it (Unix ms). */
  readonly at: number;
  readonly mine: { readonly length: number; readonly head: string };
  readonly theirs: { readonly length: number; readonly head: string };
  readonly why: string;
  acknowledged: boolean;
}

/** The last cross-check taken from another owner phone. */
export interface CrossChecked {
  /** The other phone's time of it (replays must be newer). */
  readonly sentAt: number;
  /** When this phone checked it. */
  readonly checkedAt: number;
  readonly length: number;
  readonly agrees: boolean;
}

/** The part of a phone's profile about the roster log: plain JSON. */
export interface RosterState {
  length: number;
  /** Hex of the head hash. */
  head: string;
  members: { id: string; role: Role; name: string; scope?: ScopeState }[];
  alerts: RosterAlert[];
  /** Splits other owner phones' cross-checks revealed (§16.4). */
  splits?: SplitAlert[];
  /** By other phone's hex id: its last cross-check. */
  crossChecked?: Record<string, CrossChecked>;
}

/** At most this many alerts are kept (oldest acknowledged ones go first). */
const MAX_ALERTS = 200;

export function emptyRosterState(): RosterState {
  return { length: 0, head: toHex(EMPTY_ROSTER.head), members: [], alerts: [] };
}

function viewOf(s: RosterState): RosterView {
  return {
    length: s.length,
    head: fromHex(s.head),
    members: new Map(s.members.map((m) => [m.id, { deviceId: fromHex(m.id), role: m.role, name: m.name, ...(m.scope ? { scope: scopeOf(m.scope) } : {}) }])),
  };
}

/** Reads a saved state, or throws on anything that is not one. */
export function rosterStateFromJson(v: unknown): RosterState {
  const s = v as RosterState;
  if (typeof s !== 'object' || s === null || !Number.isSafeInteger(s.length) || s.length < 0 || typeof s.head !== 'string' || !/^[0-9a-f]{64}$/.test(s.head)
    || !Array.isArray(s.members) || !Array.isArray(s.alerts)) throw new Error('roster state is malformed');
  return {
    length: s.length,
    head: s.head,
    members: s.members.map((m) => {
      const scope = scopeFromJson(m.scope);
      return { id: String(m.id), role: roleFromJson(m.role), name: String(m.name), ...(scope ? { scope } : {}) };
    }),
    alerts: s.alerts.slice(-MAX_ALERTS).map((a) => ({ ...a, acknowledged: a.acknowledged === true })),
    ...(Array.isArray(s.splits) ? { splits: s.splits.slice(-MAX_ALERTS).map((a) => ({ ...a, acknowledged: a.acknowledged === true })) } : {}),
    ...(s.crossChecked !== undefined ? { crossChecked: crossCheckedFromJson(s.crossChecked) } : {}),
  };
}

function crossCheckedFromJson(v: unknown): Record<string, CrossChecked> {
  if (typeof v !== 'object' || v === null) throw new Error('roster state is malformed');
  const out: Record<string, CrossChecked> = {};
  for (const [id, c] of Object.entries(v as Record<string, CrossChecked>)) {
    if (!/^[0-9a-f]{32}$/.test(id) || !Number.isSafeInteger(c.sentAt) || !Number.isSafeInteger(c.checkedAt) || !Number.isSafeInteger(c.length) || typeof c.agrees !== 'boolean') throw new Error('roster state is malformed');
    out[id] = { sentAt: c.sentAt, checkedAt: c.checkedAt, length: c.length, agrees: c.agrees };
  }
  return out;
}

export class RosterCheck {
  constructor(
    private readonly hub: HubPublicKeys,
    /** This phone's device id: entries up to its own addition are history, not news. */
    private readonly me: Uint8Array,
    private state: RosterState,
  ) {}

  get saved(): RosterState {
    return this.state;
  }

  get length(): number {
    return this.state.length;
  }

  /** The digits owners compare in person. */
  get safetyCode(): string {
    return safetyCode(this.hub.hubId, viewOf(this.state));
  }

  /**
   * Checks entries that follow what this phone has checked; returns the alerts they raise. Throws
   * CryptoError `tampered` if they do not extend the log it kept (a rewritten or forked log).
   */
  extend(wires: readonly Uint8Array[]): RosterAlert[] {
    if (wires.length === 0) return [];
    const { view, entries } = extendRoster(viewOf(this.state), wires, this.hub);
    // Until this phone has seen its own addition, what came before is the hub's history.
    let joined = this.state.length > 0 && this.state.members.some((m) => m.id === toHex(this.me));
    const alerts: RosterAlert[] = [];
    for (const e of entries) {
      const mine = equalBytes(e.deviceId, this.me);
      if (joined && !(mine && e.change === 'added')) {
        const history = e.history && { from: toHex(e.history.from), firstEpoch: e.history.firstEpoch, lastEpoch: e.history.lastEpoch, epochs: e.history.epochs };
        alerts.push({
          seq: e.seq, change: e.change, deviceId: toHex(e.deviceId), name: e.name, role: e.role, by: e.by, at: e.at,
          ...(e.scope ? { scope: scopeState(e.scope) } : {}), ...(history ? { history } : {}), acknowledged: false,
        });
      }
      if (mine && e.change === 'added') joined = true;
    }
    this.state = {
      length: view.length,
      head: toHex(view.head),
      members: [...view.members.values()].map((m) => ({ id: toHex(m.deviceId), role: m.role, name: m.name, ...(m.scope ? { scope: scopeState(m.scope) } : {}) })),
      alerts: [...this.state.alerts, ...alerts].slice(-MAX_ALERTS),
      ...(this.state.splits ? { splits: this.state.splits } : {}),
      ...(this.state.crossChecked ? { crossChecked: this.state.crossChecked } : {}),
    };
    return alerts;
  }

  /** Keeps another owner phone's cross-check (PROTOCOL §16.4), and the split it revealed if any. */
  crossChecked(peer: string, seen: CrossChecked, split?: SplitAlert): void {
    this.state.crossChecked = { ...this.state.crossChecked, [peer]: seen };
    if (split !== undefined) this.state.splits = [...(this.state.splits ?? []), split].slice(-MAX_ALERTS);
  }

  /** Throws `tampered` unless this entry is the last one this phone checked, unchanged. */
  sameHead(wire: Uint8Array | undefined): void {
    if (wire === undefined || toHex(entryHash(wire)) !== this.state.head) {
      throw new CryptoError('tampered', 'RosterCheck', `entry ${this.state.length - 1} is not the one this phone checked`);
    }
  }

  /** Whether the roster a key update was made for is the one the log arrives at. */
  matches(update: KeyUpdate): boolean {
    return equalBytes(update.rosterHash, rosterHash(update.epoch, rosterOf(viewOf(this.state))));
  }

  /** Marks every split alert as seen. Returns how many changed. */
  acknowledgeSplits(): number {
    let n = 0;
    for (const a of this.state.splits ?? []) {
      if (!a.acknowledged) {
        a.acknowledged = true;
        n++;
      }
    }
    return n;
  }

  /** Marks alerts as seen (all, or those up to `seq`). Returns how many changed. */
  acknowledge(seq = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    for (const a of this.state.alerts) {
      if (!a.acknowledged && a.seq <= seq) {
        a.acknowledged = true;
        n++;
      }
    }
    return n;
  }
}

/** A scope for people: `cameras "Front door" from … until …, live only` (names where this phone knows them). */
export function describeScope(s: ScopeState, nameOf: (id: string) => string | undefined = () => undefined): string {
  const cameras = s.cameras.map((id) => {
    const name = nameOf(id);
    return name === undefined ? id.slice(0, 8) : `"${name}"`;
  });
  const from = s.from !== 0 ? ` from ${new Date(s.from).toISOString()}` : '';
  const until = s.until !== 0 ? ` until ${new Date(s.until).toISOString()}` : '';
  return `cameras ${cameras.join(', ')}${from}${until}, live only`;
}

/** One line for people about a split another owner phone revealed. */
export function describeSplit(a: SplitAlert): string {
  return `LOG SPLIT: phone "${a.peerName}" (${a.peer.slice(0, 8)}) verified another roster log than this phone (theirs: ${a.theirs.length} entries, head ${a.theirs.head.slice(0, 16)}; this phone's: ${a.mine.length}, head ${a.mine.head.slice(0, 16)}): ${a.why}; found at ${new Date(a.at).toISOString()}`;
}

/** One line for people: "New phone 'Pixel 8' added as viewer by … at …". */
export function describeAlert(a: RosterAlert, nameOf?: (id: string) => string | undefined): string {
  const at = new Date(a.at).toISOString();
  const who = `"${a.name}" (${a.deviceId.slice(0, 8)})`;
  const scope = a.scope ? ` (${describeScope(a.scope, nameOf)})` : '';
  switch (a.change) {
    case 'added':
      return `new phone ${who} added as ${a.role}${scope} by ${a.by} at ${at}`;
    case 'removed':
      return `phone ${who} removed by ${a.by} at ${at}`;
    case 'role-changed':
      // A scope change is a role-changed entry too (PROTOCOL §16.3): say what it may see now.
      return `phone ${who} is now ${a.role}${scope || (a.role === 'owner' ? '' : ' (every camera)')}, changed by ${a.by} at ${at}`;
    case 'history-shared': {
      const h = a.history;
      const epochs = h === undefined ? 'past recordings' : `${h.epochs} recording epoch${h.epochs === 1 ? '' : 's'} (${h.firstEpoch}..${h.lastEpoch})`;
      return `phone ${who} was given ${epochs} recorded before, shared by ${a.by} at ${at}`;
    }
    case 'restored':
      return `the hub was restored from its backup on another machine, by ${a.by} at ${at}`;
  }
}

/** 0, or 1 when the hub's log does not extend the one this phone checked (said on stderr). */
