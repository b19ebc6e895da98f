// Builds the certificate known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/certificate.json; test/crypto/kat-certificate.test.ts checks the code against that file.
import { sodium } from '../../../crypto/sodium.ts';
import { concat, fromHex, toHex, utf8 } from '../../../crypto/bytes.ts';
import { CERTIFICATE_BYTES, encodeCertificate, issueCertificate, type DeviceCertificate, type Role } from '../../../crypto/certificate.ts';
import { sign } from '../../../crypto/identity.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { LABEL_CERTIFICATE } from '../../../crypto/labels.ts';
import { CAST, flip, hexSeeds, seq, type Expect, type HexSeeds } from '../kat-support.ts';

export const DESCRIPTION =
  `Vigil device certificate known-answer vectors, docs/PROTOCOL.md section 4 (${CERTIFICATE_BYTES} bytes). For each vector ` +
  'decodeCertificate(certificate, hubSigningKey) must give expect. For success, fields are the decoded certificate (issuedAt in ' +
  'Unix seconds) and the hub made from hubSeeds (Ed25519 and X-Wing seeds, X25519 private key) must issue the same bytes ' +
  '(Ed25519 is deterministic). The phone\'s relay key is the Ed25519 key of seed 05 06 .. 24.';

interface CertificateFields {
  version: number;
  hubId: string;
  deviceId: string;
  signingKey: string;
  exchangeKey: string;
  pqKey: string;
  relayKey: string;
  role: Role;
  issuedAt: number;
  signature: string;
}

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  /** The key decodeCertificate verifies with. */
  hubSigningKey: string;
  certificate: string;
  /** success only: the issuing hub's seeds and the decoded fields (issueCertificate reproduces the bytes). */
  hubSeeds?: HexSeeds;
  fields?: CertificateFields;
}

export function fields(c: DeviceCertificate): CertificateFields {
  return {
    version: c.version, hubId: toHex(c.hubId), deviceId: toHex(c.deviceId), signingKey: toHex(c.signingKey), exchangeKey: toHex(c.exchangeKey),
    pqKey: toHex(c.pqKey), relayKey: toHex(c.relayKey), role: c.role, issuedAt: c.issuedAt, signature: toHex(c.signature),
  };
}

const RELAY_KEY_SEED = seq(32, 0x05);
// Offsets of each field (docs/PROTOCOL.md §4.1).
const AT = { hubId: 1, deviceId: 17, signingKey: 33, exchangeKey: 65, pqKey: 97, relayKey: 1313, role: 1345, issuedAt: 1346, signature: 1354 };

export function buildVectors(): Vector[] {
  const hub = hubIdentityFromSeeds(CAST.hub);
  const otherHub = hubIdentityFromSeeds(CAST.otherHub);
  const relayKey = sodium().crypto_sign_seed_keypair(RELAY_KEY_SEED).publicKey;
  const keysOf = (seeds: typeof CAST.owner) => {
    const d = deviceIdentityFromSeeds(seeds);
    return { deviceId: d.deviceId, signingKey: d.signing.publicKey, exchangeKey: d.exchange.publicKey, pqKey: d.pq.publicKey, relayKey };
  };
  const hubKey = toHex(hub.signing.publicKey);
  const v: Vector[] = [];
  const good = (name: string, comment: string, c: DeviceCertificate) =>
    v.push({ name, comment, expect: 'success', hubSigningKey: hubKey, certificate: toHex(encodeCertificate(c)), hubSeeds: hexSeeds(CAST.hub), fields: fields(c) });
  const bad = (name: string, comment: string, expectCode: Expect, certificate: string, key = hubKey) =>
    v.push({ name, comment, expect: expectCode, hubSigningKey: key, certificate });
  /** A body the hub really signed, for checks that come after the signature. */
  const signedBody = (body: Uint8Array) => toHex(concat(body, sign(hub.signing, concat(utf8(LABEL_CERTIFICATE), body))));

  const owner = issueCertificate(hub, keysOf(CAST.owner), 'owner', 1_800_000_000);
  const viewer = issueCertificate(hub, keysOf(CAST.viewer), 'viewer', 1_800_000_123);
  good('owner', 'the owner\'s certificate', owner);
  good('viewer', 'a viewer\'s certificate', viewer);
  const o = toHex(encodeCertificate(owner));
  const body = fromHex(o).subarray(0, AT.signature);

  for (const [field, at] of Object.entries(AT)) {
    if (field === 'role') continue;
    bad(`${field}-bit`, `owner with the first bit of ${field} flipped`, 'tampered', flip(o, at, 0));
  }
  bad('pqKey-middle-bit', 'owner with a bit in the middle of the X-Wing key flipped', 'tampered', flip(o, AT.pqKey + 600, 5));
  bad('issuedAt-low-bit', 'owner with the low bit of issuedAt flipped', 'tampered', flip(o, AT.issuedAt + 7, 0));
  bad('signature-last-bit', 'owner with the last bit of the signature flipped', 'tampered', flip(o, -1, 7));
  bad('owner-to-viewer', 'owner with role 1 changed to 2: a valid role, not the signed one', 'tampered', flip(flip(o, AT.role, 0), AT.role, 1));
  bad('viewer-to-owner', 'viewer with role 2 changed to 1: a promotion the hub never signed', 'tampered',
    flip(flip(toHex(encodeCertificate(viewer)), AT.role, 0), AT.role, 1));
  bad('wrong-hub-key', 'the owner\'s certificate checked with another hub\'s signing key', 'tampered', o, toHex(otherHub.signing.publicKey));
  bad('other-hub-issued', 'a certificate another hub issued for the same phone, checked with this hub\'s key', 'tampered',
    toHex(encodeCertificate(issueCertificate(otherHub, keysOf(CAST.owner), 'owner', 1_800_000_000))));

  bad('short', 'one byte short (1417)', 'malformed', o.slice(0, -2));
  bad('long', 'one byte appended (1419)', 'malformed', o + '00');
  bad('empty', 'no bytes', 'malformed', '');
  bad('role-0', 'role byte 0 (not signed; refused before the signature)', 'malformed', toHex(concat(fromHex(o).subarray(0, AT.role), Uint8Array.of(0), fromHex(o).subarray(AT.role + 1))));
  bad('authentic-role-4', 'signed by the hub, role 4 (3 is guest since issue 18)', 'malformed', signedBody(concat(body.subarray(0, AT.role), Uint8Array.of(4), body.subarray(AT.role + 1))));
  bad('authentic-device-id-mismatch', 'signed by the hub, but deviceId is not H("vigil v1 device id", 16, signingKey)', 'malformed',
    signedBody(concat(body.subarray(0, AT.deviceId), seq(16, 0x77), body.subarray(AT.signingKey))));

  bad('version-0', 'version byte 0', 'unsupported', toHex(concat(Uint8Array.of(0), fromHex(o).subarray(1))));
  bad('version-2', 'version byte 2', 'unsupported', toHex(concat(Uint8Array.of(2), fromHex(o).subarray(1))));
  bad('authentic-version-2', 'signed by the hub with version 2: refused, never read as version 1', 'unsupported',
    signedBody(concat(Uint8Array.of(2), body.subarray(1))));
  return v;
}
