// The roster hash names exactly which devices, with which roles and scopes, a key epoch was made
// for. Key updates carry it, so a phone can tell two different rosters apart even at the same epoch
// number, and a guest's scope cannot be widened on the hub without every phone seeing another hash.
import { labeledHash } from './hash.ts';
import { compareBytes } from './order.ts';
import { malformed } from './errors.ts';
import { ID_BYTES } from './identity.ts';
import { LABEL_ROSTER } from './labels.ts';
import { roleCode, type Role } from './certificate.ts';
import { Writer, type Reader } from './wire.ts';

/**
 * What a scoped phone may see (PROTOCOL §16.3): these cameras only, live, and only from `from` until
 * `until`. A guest always has one; a viewer may; an owner never does.
 */
export interface Scope {
  /** Camera ids (16 bytes each), 1..MAX_SCOPE_CAMERAS of them, no two alike. */
  readonly cameras: readonly Uint8Array[];
  /** Unix ms; 0: from the moment it joined. */
  readonly from: number;
  /** Unix ms; 0: until it is removed. */
  readonly until: number;
}

export const MAX_SCOPE_CAMERAS = 64;
/** Set in the role byte (of the roster hash and of a roster log entry) when a scope follows it. */
export const SCOPED_ROLE_FLAG = 0x80;
/** Times beyond this (year 275760) are not dates: Date cannot hold them. */
const MAX_TIME_MS = 8.64e15;

export interface RosterEntry {
  readonly deviceId: Uint8Array;
  readonly role: Role;
  /** Absent: every camera, at any time. */
  readonly scope?: Scope;
}

/** Throws RangeError unless `role` may have (or go without) `scope` and the scope is well formed. */
export function checkScope(role: Role, scope: Scope | undefined): void {
  if (role === 'owner' && scope !== undefined) throw new RangeError('an owner has no scope');
  if (role === 'guest' && scope === undefined) throw new RangeError('a guest has a scope');
  if (scope === undefined) return;
  const n = scope.cameras.length;
  if (n < 1 || n > MAX_SCOPE_CAMERAS) throw new RangeError(`a scope names 1..${MAX_SCOPE_CAMERAS} cameras`);
  for (const c of scope.cameras) if (c.length !== ID_BYTES) throw new RangeError('a camera id is 16 bytes');
  const sorted = sortedCameras(scope.cameras);
  for (let i = 1; i < n; i++) if (compareBytes(sorted[i - 1]!, sorted[i]!) === 0) throw new RangeError('a scope names a camera twice');
  for (const t of [scope.from, scope.until]) if (!Number.isSafeInteger(t) || t < 0 || t > MAX_TIME_MS) throw new RangeError('a scope time is Unix ms');
  if (scope.until !== 0 && scope.until <= scope.from) throw new RangeError('a scope ends after it begins');
}

function sortedCameras(cameras: readonly Uint8Array[]): Uint8Array[] {
  return [...cameras].sort(compareBytes);
}

/** u8 n || n x cameraId (ascending) || u64 from || u64 until: one encoding, for the hash and the log. */
export function writeScope(w: Writer, scope: Scope): Writer {
  const cameras = sortedCameras(scope.cameras);
  w.u8(cameras.length);
  for (const c of cameras) w.fixed(c, ID_BYTES);
  return w.u64(BigInt(scope.from)).u64(BigInt(scope.until));
}

/** Reads what writeScope wrote; anything else (unsorted or repeated cameras, times out of order) is malformed. */
export function readScope(r: Reader, where: string): Scope {
  const n = r.u8('scope cameras');
  if (n < 1 || n > MAX_SCOPE_CAMERAS) throw malformed(where, `a scope of ${n} cameras`);
  const cameras: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = r.fixed(ID_BYTES, 'scope camera');
    // Strictly ascending: the one canonical encoding, so no two byte strings mean the same scope.
    if (i > 0 && compareBytes(cameras[i - 1]!, c) >= 0) throw malformed(where, 'scope cameras out of order');
    cameras.push(c);
  }
  const from = r.u64('scope from');
  const until = r.u64('scope until');
  if (from > BigInt(MAX_TIME_MS) || until > BigInt(MAX_TIME_MS)) throw malformed(where, 'scope time out of range');
  const scope = { cameras, from: Number(from), until: Number(until) };
  if (scope.until !== 0 && scope.until <= scope.from) throw malformed(where, 'a scope that ends before it begins');
  return scope;
}

/** The role byte: the role's code, with SCOPED_ROLE_FLAG when a scope follows. */
export function scopedRoleCode(role: Role, scope: Scope | undefined): number {
  checkScope(role, scope);
  return roleCode(role) | (scope === undefined ? 0 : SCOPED_ROLE_FLAG);
}

/**
 * rosterHash = H(LABEL_ROSTER, u32 epoch || u16 n || sorted(deviceId || u8 role [|| scope])...)
 * An unscoped member hashes as before scopes existed; a scoped one sets the role byte's high bit and
 * appends its scope (writeScope).
 */
export function rosterHash(epoch: number, members: readonly RosterEntry[]): Uint8Array {
  const sorted = [...members].sort((a, b) => compareBytes(a.deviceId, b.deviceId));
  const w = new Writer().u32(epoch).u16(sorted.length);
  for (const m of sorted) {
    w.fixed(m.deviceId, ID_BYTES).u8(scopedRoleCode(m.role, m.scope));
    if (m.scope !== undefined) writeScope(w, m.scope);
  }
  return labeledHash(LABEL_ROSTER, 32, w.finish());
}
