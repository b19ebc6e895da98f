// The roster hash names exactly which devices, with which roles, a key epoch was made for. Key
// updates carry it, so a phone can tell two different rosters apart even at the same epoch number.
import { labeledHash } from './hash.ts';
import { compareBytes } from './order.ts';
import { ID_BYTES } from './identity.ts';
import { LABEL_ROSTER } from './labels.ts';
import { roleCode, type Role } from './certificate.ts';
import { Writer } from './wire.ts';

export interface RosterEntry {
  readonly deviceId: Uint8Array;
  readonly role: Role;
}

/** rosterHash = H(LABEL_ROSTER, u32 epoch || u16 n || sorted(deviceId || u8 role)...) */
export function rosterHash(epoch: number, members: readonly RosterEntry[]): Uint8Array {
  const sorted = [...members].sort((a, b) => compareBytes(a.deviceId, b.deviceId));
  const w = new Writer().u32(epoch).u16(sorted.length);
  for (const m of sorted) w.fixed(m.deviceId, ID_BYTES).u8(roleCode(m.role));
  return labeledHash(LABEL_ROSTER, 32, w.finish());
}
