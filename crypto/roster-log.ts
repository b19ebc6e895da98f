// The roster log (PROTOCOL §16): every change of who holds the keys, in order, hash-chained and
// signed by the hub. Phones fetch it, check that each new entry extends the head they kept, and
// refuse key updates whose roster hash is not the log's roster: so keys cannot reach a device that
// is not in the log every phone sees, and an addition nobody on a phone approved shows there as an
// alert. Two owners comparing the safety code (from the head) in person catch a hub that shows
// them different logs.
import { concat, equalBytes, fromUtf8, toHex, utf8 } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { labeledHash } from './hash.ts';
import { ID_BYTES, sign, verify, type HubIdentity } from './identity.ts';
import { roleFromCode, type Role } from './certificate.ts';
import { LABEL_ROSTER_ENTRY, LABEL_ROSTER_HEAD, PROTOCOL_VERSION } from './labels.ts';
import { SCOPED_ROLE_FLAG, readScope, scopedRoleCode, writeScope, type RosterEntry, type Scope } from './roster.ts';
import { Reader, Writer } from './wire.ts';

const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;
// A device name is 1-64 characters: up to 256 bytes of UTF-8.
const MAX_NAME_BYTES = 256;
const MAX_BY_BYTES = 128;
/** Entries that state a device's role, and so its scope. */
const SCOPE_CHANGES: ReadonlySet<RosterChange> = new Set<RosterChange>(['added', 'removed', 'role-changed']);
/** The hash before the first entry. */
export const GENESIS = new Uint8Array(HASH_BYTES);

export type RosterChange = 'added' | 'removed' | 'role-changed' | 'history-shared' | 'restored';
const CHANGE_CODE: Record<RosterChange, number> = { added: 1, removed: 2, 'role-changed': 3, 'history-shared': 4, restored: 5 };
const CODE_CHANGE = new Map<number, RosterChange>([[1, 'added'], [2, 'removed'], [3, 'role-changed'], [4, 'history-shared'], [5, 'restored']]);
/** A 'restored' entry names no device: its device id is all zeros (PROTOCOL §18.4). */
export const NO_DEVICE = new Uint8Array(ID_BYTES);

/** What a 'history-shared' entry adds: which owner phone sealed which recording epochs to the entry's device. */
export interface SharedHistory {
  /** The owner phone that shared. */
  readonly from: Uint8Array;
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  /** Epochs stored for the device (some in between may be missing: the owner held no key of them). */
  readonly epochs: number;
}

export interface RosterLogEntry {
  /** 0, 1, 2, … with no gap. */
  readonly seq: number;
  /** Hash of the entry before (GENESIS for the first). */
  readonly prev: Uint8Array;
  /** Unix ms, by the hub's clock. */
  readonly at: number;
  readonly change: RosterChange;
  readonly deviceId: Uint8Array;
  /** H(the device's certificate): which keys were added, not only which id. */
  readonly fingerprint: Uint8Array;
  readonly name: string;
  /** The role it has after this change. */
  readonly role: Role;
  /** Which cameras, and when, it may see (a guest always, a viewer maybe; PROTOCOL §16.3). */
  readonly scope?: Scope;
  /** Who made the change, as the hub knows it: e.g. "hub owner (local API)". */
  readonly by: string;
  /** Set exactly when change is 'history-shared'. */
  readonly history?: SharedHistory;
  readonly signature: Uint8Array;
}

function body(e: Omit<RosterLogEntry, 'signature'>, hubId: Uint8Array): Uint8Array {
  const name = utf8(e.name);
  const by = utf8(e.by);
  if (name.length > MAX_NAME_BYTES || by.length > MAX_BY_BYTES) throw new RangeError('roster entry text too long');
  if ((e.change === 'history-shared') !== (e.history !== undefined)) throw new RangeError('history goes with a history-shared entry, and only there');
  if (e.scope !== undefined && !SCOPE_CHANGES.has(e.change)) throw new RangeError('a scope goes with an added, removed or role-changed entry');
  const w = new Writer().u8(PROTOCOL_VERSION).fixed(hubId, ID_BYTES).u64(BigInt(e.seq)).fixed(e.prev, HASH_BYTES).u64(BigInt(e.at))
    .u8(CHANGE_CODE[e.change]).fixed(e.deviceId, ID_BYTES).fixed(e.fingerprint, HASH_BYTES).bytes16(name).u8(scopedRoleCode(e.role, e.scope));
  // An entry without a scope is byte for byte what it was before scopes existed (old logs verify).
  if (e.scope !== undefined) writeScope(w, e.scope);
  w.bytes16(by);
  const h = e.history;
  if (h !== undefined) w.fixed(h.from, ID_BYTES).u32(h.firstEpoch).u32(h.lastEpoch).u32(h.epochs);
  return w.finish();
}

export function certificateFingerprint(certificate: Uint8Array): Uint8Array {
  return labeledHash(LABEL_ROSTER_ENTRY, HASH_BYTES, utf8('certificate'), certificate);
}

/** Appends one entry after `prev` (the head hash): what the hub stores and sends. */
export function signRosterEntry(hub: HubIdentity, e: Omit<RosterLogEntry, 'signature'>): Uint8Array {
  const b = body(e, hub.hubId);
  return concat(b, sign(hub.signing, concat(utf8(LABEL_ROSTER_ENTRY), b)));
}

/** Checks one entry's hub signature and reads it. */
export function openRosterEntry(wire: Uint8Array, hub: { hubId: Uint8Array; signingKey: Uint8Array }): RosterLogEntry {
  const where = 'openRosterEntry';
  if (wire.length < SIGNATURE_BYTES + 1) throw malformed(where, 'too short');
  const b = wire.subarray(0, wire.length - SIGNATURE_BYTES);
  const signature = wire.subarray(wire.length - SIGNATURE_BYTES);
  const r = new Reader(b, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  if (!equalBytes(r.fixed(ID_BYTES, 'hubId'), hub.hubId)) throw new CryptoError('not-for-me', where, 'another hub\'s roster log');
  const seq = Number(r.u64('seq'));
  const prev = r.fixed(HASH_BYTES, 'prev');
  const at = Number(r.u64('at'));
  const change = CODE_CHANGE.get(r.u8('change'));
  if (change === undefined) throw malformed(where, 'unknown change');
  const deviceId = r.fixed(ID_BYTES, 'deviceId');
  const fingerprint = r.fixed(HASH_BYTES, 'fingerprint');
  const name = fromUtf8(r.bytes16('name', MAX_NAME_BYTES));
  const roleByte = r.u8('role');
  const role = roleFromCode(roleByte & ~SCOPED_ROLE_FLAG, where);
  let scope: Scope | undefined;
  if ((roleByte & SCOPED_ROLE_FLAG) !== 0) {
    if (!SCOPE_CHANGES.has(change)) throw malformed(where, `a scope on a ${change} entry`);
    if (role === 'owner') throw malformed(where, 'an owner with a scope');
    scope = readScope(r, where);
  } else if (role === 'guest' && SCOPE_CHANGES.has(change)) throw malformed(where, 'a guest without a scope');
  const by = fromUtf8(r.bytes16('by', MAX_BY_BYTES));
  let history: SharedHistory | undefined;
  if (change === 'history-shared') {
    history = { from: r.fixed(ID_BYTES, 'from'), firstEpoch: r.u32('firstEpoch'), lastEpoch: r.u32('lastEpoch'), epochs: r.u32('epochs') };
    if (history.firstEpoch > history.lastEpoch || history.epochs < 1 || history.epochs > history.lastEpoch - history.firstEpoch + 1) throw malformed(where, 'shared epoch range');
  }
  // A restore is the hub's own event: it names no device, so it can never add one unseen.
  if (change === 'restored' && !equalBytes(deviceId, NO_DEVICE)) throw malformed(where, 'a restored entry names a device');
  r.end();
  if (!verify(hub.signingKey, concat(utf8(LABEL_ROSTER_ENTRY), b), signature)) throw new CryptoError('tampered', where, 'bad hub signature');
  return { seq, prev, at, change, deviceId, fingerprint, name, role, ...(scope ? { scope } : {}), by, ...(history ? { history } : {}), signature };
}

/** The hash the next entry names as `prev`. */
export function entryHash(wire: Uint8Array): Uint8Array {
  return labeledHash(LABEL_ROSTER_HEAD, HASH_BYTES, wire);
}

/** What a phone keeps of the log: how far it checked it, and the roster it arrives at. */
export interface RosterView {
  /** Entries checked so far (the next seq). */
  readonly length: number;
  readonly head: Uint8Array;
  /** By device id (hex): role, name. */
  readonly members: ReadonlyMap<string, { readonly deviceId: Uint8Array; readonly role: Role; readonly name: string; readonly scope?: Scope }>;
}

export const EMPTY_ROSTER: RosterView = { length: 0, head: GENESIS, members: new Map() };

/**
 * Extends a view with entries that must follow it exactly: seq in order from `view.length`, each
 * naming the previous entry's hash. A rewritten, removed or reordered entry after the phone saw
 * it breaks the chain (`tampered`); a hub that forks the log cannot extend both views.
 */
export function extendRoster(view: RosterView, wires: readonly Uint8Array[], hub: { hubId: Uint8Array; signingKey: Uint8Array }): { view: RosterView; entries: RosterLogEntry[] } {
  const where = 'extendRoster';
  const members = new Map(view.members);
  let head = view.head;
  let length = view.length;
  const entries: RosterLogEntry[] = [];
  for (const wire of wires) {
    const e = openRosterEntry(wire, hub);
    if (e.seq !== length) throw new CryptoError('tampered', where, `entry ${e.seq} where ${length} was next`);
    if (!equalBytes(e.prev, head)) throw new CryptoError('tampered', where, `entry ${e.seq} does not extend the log this phone checked`);
    const id = toHex(e.deviceId);
    if (e.history !== undefined) {
      // History goes from an owner on the roster to a device on the roster; it changes no membership.
      const from = members.get(toHex(e.history.from));
      if (!members.has(id) || from?.role !== 'owner') throw new CryptoError('tampered', where, `entry ${e.seq} shares history between phones not on the roster as owner and member`);
    } else if (e.change === 'restored') {
      // The hub came back from a backup on another machine (PROTOCOL §18.4): no membership changes.
    } else if (e.change === 'removed') members.delete(id);
    else members.set(id, { deviceId: e.deviceId, role: e.role, name: e.name, ...(e.scope ? { scope: e.scope } : {}) });
    head = entryHash(wire);
    length++;
    entries.push(e);
  }
  return { view: { length, head, members }, entries };
}

/** The roster a log arrives at, as key updates name it (crypto/roster.ts). */
export function rosterOf(view: RosterView): RosterEntry[] {
  return [...view.members.values()].map((m) => ({ deviceId: m.deviceId, role: m.role, ...(m.scope ? { scope: m.scope } : {}) }));
}

/** 30 digits in six groups from the head: what two owners compare in person. */
export function safetyCode(hubId: Uint8Array, view: Pick<RosterView, 'length' | 'head'>): string {
  const h = labeledHash(LABEL_ROSTER_HEAD, 30, utf8('safety code'), hubId, new Writer().u64(BigInt(view.length)).finish(), view.head);
  const groups: string[] = [];
  for (let g = 0; g < 6; g++) {
    // 5 bytes → a number below 2^40, reduced to 5 digits (bias under 1e-6).
    let n = 0;
    for (let i = 0; i < 5; i++) n = n * 256 + h[g * 5 + i]!;
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}
