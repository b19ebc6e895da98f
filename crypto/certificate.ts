// A device certificate: the hub's signed statement that a phone (its ids and keys) is on the roster
// with a role. The hub issues one at the end of pairing; the phone keeps it to show which hub it
// belongs to, and the hub's roster is the list of certificates not revoked.
import { CryptoError, malformed } from './errors.ts';
import { concat, utf8, equalBytes } from './bytes.ts';
import {
  DH_BYTES, ID_BYTES, SIGN_PUBLIC_BYTES, XWING_PUBLIC_BYTES, deviceIdFor, sign, verify,
  type HubIdentity,
} from './identity.ts';
import { LABEL_CERTIFICATE, PROTOCOL_VERSION } from './labels.ts';
import { Reader, Writer } from './wire.ts';

/** A guest watches live only, some cameras, often for a window of time (PROTOCOL §16.3). */
export type Role = 'owner' | 'viewer' | 'guest';
const ROLE_CODES: Record<Role, number> = { owner: 1, viewer: 2, guest: 3 };

export function roleFromCode(code: number, where: string): Role {
  if (code === 1) return 'owner';
  if (code === 2) return 'viewer';
  if (code === 3) return 'guest';
  throw malformed(where, `unknown role ${code}`);
}

export function roleCode(role: Role): number {
  return ROLE_CODES[role];
}

export interface DevicePublicKeys {
  readonly deviceId: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly exchangeKey: Uint8Array;
  readonly pqKey: Uint8Array;
  /** The Ed25519 key this phone logs in to relays with, for this hub only. */
  readonly relayKey: Uint8Array;
}

export interface DeviceCertificate extends DevicePublicKeys {
  readonly version: number;
  readonly hubId: Uint8Array;
  readonly role: Role;
  /** Unix seconds. */
  readonly issuedAt: number;
  readonly signature: Uint8Array;
}

export const CERTIFICATE_BYTES = 1 + ID_BYTES * 2 + SIGN_PUBLIC_BYTES * 2 + DH_BYTES + XWING_PUBLIC_BYTES + 1 + 8 + 64;

function body(c: Omit<DeviceCertificate, 'signature'>): Uint8Array {
  return new Writer()
    .u8(c.version)
    .fixed(c.hubId, ID_BYTES)
    .fixed(c.deviceId, ID_BYTES)
    .fixed(c.signingKey, SIGN_PUBLIC_BYTES)
    .fixed(c.exchangeKey, DH_BYTES)
    .fixed(c.pqKey, XWING_PUBLIC_BYTES)
    .fixed(c.relayKey, SIGN_PUBLIC_BYTES)
    .u8(roleCode(c.role))
    .u64(BigInt(c.issuedAt))
    .finish();
}

export function issueCertificate(hub: HubIdentity, device: DevicePublicKeys, role: Role, now: number): DeviceCertificate {
  const unsigned = { version: PROTOCOL_VERSION, hubId: hub.hubId, ...device, role, issuedAt: Math.floor(now) };
  const signature = sign(hub.signing, concat(utf8(LABEL_CERTIFICATE), body(unsigned)));
  return { ...unsigned, signature };
}

export function encodeCertificate(c: DeviceCertificate): Uint8Array {
  return concat(body(c), c.signature);
}

/** Decodes and verifies against the hub's signing key; the device id must be the hash of its key. */
export function decodeCertificate(bytes: Uint8Array, hubSigningKey: Uint8Array): DeviceCertificate {
  const where = 'decodeCertificate';
  if (bytes.length !== CERTIFICATE_BYTES) throw malformed(where, `length ${bytes.length}, expected ${CERTIFICATE_BYTES}`);
  const r = new Reader(bytes, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `certificate version ${version}`);
  const cert = {
    version,
    hubId: r.fixed(ID_BYTES, 'hubId'),
    deviceId: r.fixed(ID_BYTES, 'deviceId'),
    signingKey: r.fixed(SIGN_PUBLIC_BYTES, 'signingKey'),
    exchangeKey: r.fixed(DH_BYTES, 'exchangeKey'),
    pqKey: r.fixed(XWING_PUBLIC_BYTES, 'pqKey'),
    relayKey: r.fixed(SIGN_PUBLIC_BYTES, 'relayKey'),
    role: roleFromCode(r.u8('role'), where),
    issuedAt: Number(r.u64('issuedAt')),
    signature: r.fixed(64, 'signature'),
  };
  r.end();
  if (!verify(hubSigningKey, concat(utf8(LABEL_CERTIFICATE), bytes.subarray(0, bytes.length - 64)), cert.signature)) {
    throw new CryptoError('tampered', where, 'bad hub signature');
  }
  if (!equalBytes(deviceIdFor(cert.signingKey), cert.deviceId)) throw malformed(where, 'device id does not match its key');
  return cert;
}
