// Builds the keyupdate known-answer vectors that `npm run vectors:write` writes to
// test/crypto/vectors/keyupdate.json; test/crypto/kat-keyupdate.test.ts checks the code against that file.
import { sodium } from '../../../crypto/sodium.ts';
import { concat, fromHex, toHex, u16be, utf8 } from '../../../crypto/bytes.ts';
import { deriveKey } from '../../../crypto/hash.ts';
import { sign, type HubPublicKeys } from '../../../crypto/identity.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../../crypto/identity.testing.ts';
import { openKeyUpdate, openKeyUpdateOffline, sealKeyUpdateOffline, signKeyUpdate, type KeyUpdate } from '../../../crypto/keyupdate.ts';
import { LABEL_KEY_UPDATE, LABEL_KEY_UPDATE_OFFLINE } from '../../../crypto/labels.ts';
import { rosterHash } from '../../../crypto/roster.ts';
import { Secret } from '../../../crypto/secret.ts';
import { withFixedRandomness } from '../../../crypto/sodium.testing.ts';
import { CAST, deviceSeedsFrom, flip, hexSeeds, seq, type Expect, type HexSeeds } from '../kat-support.ts';

export const DESCRIPTION =
  'Vigil key update known-answer vectors, docs/PROTOCOL.md section 7. form signed: openKeyUpdate(wire, hub, me) must give ' +
  'expect. form offline: openKeyUpdateOffline(wire, phone from recipientSeeds, hub) must give expect. hub gives the hub id ' +
  'and Ed25519 key the phone holds. For success, update is what opens (issuedAt in Unix ms, content keys in hex); the hub ' +
  'from hubSeeds must sign the same bytes, and for offline, sealKeyUpdateOffline with X-Wing encapsulation seed ' +
  'encapsulationSeed (crypto_kem_xwing_enc_deterministic) must give wire; kem holds that ciphertext, the shared secret and ' +
  'k = KDF(ss, "vigil v1 key update offline", 32, ct || hubId || recipient).';

interface UpdateFields {
  version: number;
  hubId: string;
  epoch: number;
  rosterHash: string;
  recipient: string;
  issuedAt: number;
  cameras: { cameraId: string; cameraNumber: number; key: string }[];
}

export interface Vector {
  name: string;
  comment: string;
  expect: Expect;
  form: 'signed' | 'offline';
  /** The hub the phone was paired with: only its id and signing key are used. */
  hub: { hubId: string; signingKey: string };
  /** signed: the phone's deviceId. */
  me?: string;
  /** offline: the phone's seeds (its X-Wing private key is the pq seed). */
  recipientSeeds?: HexSeeds;
  /** signed: the signed key update; offline: the envelope. */
  wire: string;
  /** success: what opens (and, for offline, the signed update inside). */
  update?: UpdateFields;
  signed?: string;
  /** success: the issuing hub (signKeyUpdate reproduces the signed bytes). */
  hubSeeds?: HexSeeds;
  /** offline success: the 64-byte X-Wing encapsulation seed, and what it gives. */
  encapsulationSeed?: string;
  kem?: { ciphertext: string; sharedSecret: string; key: string };
}

export function fields(u: KeyUpdate): UpdateFields {
  return {
    version: u.version, hubId: toHex(u.hubId), epoch: u.epoch, rosterHash: toHex(u.rosterHash), recipient: toHex(u.recipient), issuedAt: u.issuedAt,
    cameras: u.cameras.map((c) => ({ cameraId: toHex(c.cameraId), cameraNumber: c.cameraNumber, key: toHex(c.key.expose()) })),
  };
}

function hubKeys(h: { hubId: string; signingKey: string }): HubPublicKeys {
  // openKeyUpdate reads hubId and signingKey only; the other keys play no part in a key update.
  const none = new Uint8Array(0);
  return { hubId: fromHex(h.hubId), signingKey: fromHex(h.signingKey), exchangeKey: none, pqKey: none, relayKey: none };
}

export function open(v: Vector): KeyUpdate {
  if (v.form === 'signed') return openKeyUpdate(fromHex(v.wire), hubKeys(v.hub), fromHex(v.me ?? ''));
  if (v.recipientSeeds === undefined) throw new Error(`${v.name}: offline vector without recipientSeeds`);
  return openKeyUpdateOffline(fromHex(v.wire), deviceIdentityFromSeeds(deviceSeedsFrom(v.recipientSeeds)), hubKeys(v.hub));
}

/** Offsets in a signed update (docs/PROTOCOL.md §7.1): header 79 bytes, then 52 per camera. */
const AT = { version: 0, hubId: 1, epoch: 17, rosterHash: 21, recipient: 53, issuedAt: 69, count: 77, cameras: 79 };
const OFFLINE_PREFIX = 1 + 16 + 16 + 1120;

export function buildVectors(): Vector[] {
  const hub = hubIdentityFromSeeds(CAST.hub);
  const otherHub = hubIdentityFromSeeds(CAST.otherHub);
  const owner = deviceIdentityFromSeeds(CAST.owner);
  const viewer = deviceIdentityFromSeeds(CAST.viewer);
  const H = { hubId: toHex(hub.hubId), signingKey: toHex(hub.signing.publicKey) };
  const other = { hubId: toHex(otherHub.hubId), signingKey: toHex(otherHub.signing.publicKey) };
  const roster = (epoch: number) => rosterHash(epoch, [{ deviceId: owner.deviceId, role: 'owner' }, { deviceId: viewer.deviceId, role: 'viewer' }]);
  const camera = (n: number, keySeed: number) => ({ cameraId: seq(16, 0x30 + n), cameraNumber: n, key: new Secret(seq(32, keySeed), 'content key') });
  const update = (recipient: Uint8Array, epoch = 7, cameras = [camera(1, 0x90), camera(2, 0xb0)], issuer = hub) =>
    signKeyUpdate(issuer, { epoch, rosterHash: roster(epoch), recipient, issuedAt: 1_800_000_000_000 + epoch, cameras });
  const v: Vector[] = [];
  const me = toHex(owner.deviceId);
  const signed = (name: string, comment: string, expectCode: Expect, wire: Uint8Array | string, h = H, to = me) => {
    const w = typeof wire === 'string' ? wire : toHex(wire);
    const entry: Vector = { name, comment, expect: expectCode, form: 'signed', hub: h, me: to, wire: w };
    if (expectCode === 'success') Object.assign(entry, { update: fields(openKeyUpdate(fromHex(w), hubKeys(h), fromHex(to))), hubSeeds: hexSeeds(CAST.hub) });
    v.push(entry);
  };
  /** A body this hub really signed, for checks that come after the signature. */
  const authentic = (body: Uint8Array) => concat(body, sign(hub.signing, concat(utf8(LABEL_KEY_UPDATE), body)));

  const two = toHex(update(owner.deviceId));
  signed('two-cameras', 'epoch 7, cameras 1 and 2, for the owner', 'success', two);
  signed('no-cameras', 'epoch 8 with no camera yet', 'success', update(owner.deviceId, 8, []));
  signed('largest-numbers', 'camera number 2^31-1 at epoch 2^32-1', 'success', update(owner.deviceId, 0xffff_ffff, [camera(0x7fff_ffff, 0xd0)]));

  signed('other-recipient', 'the owner\'s update at the viewer (the Eufy case)', 'not-for-me', two, H, toHex(viewer.deviceId));
  signed('other-hub', 'the update at a phone of another hub', 'not-for-me', two, other);
  signed('signed-by-other-hub', 'another hub\'s update for the same phone', 'not-for-me', update(owner.deviceId, 7, undefined, otherHub));
  signed('recipient-bit', 'recipient with its first bit flipped: addressed elsewhere', 'not-for-me', flip(two, AT.recipient));
  signed('hubId-bit', 'hubId with its first bit flipped', 'not-for-me', flip(two, AT.hubId));

  signed('epoch-bit', 'epoch 7 changed to 6', 'tampered', flip(two, AT.epoch + 3, 0));
  signed('rosterHash-bit', 'a bit of the roster hash flipped', 'tampered', flip(two, AT.rosterHash + 5, 2));
  signed('issuedAt-bit', 'a bit of issuedAt flipped', 'tampered', flip(two, AT.issuedAt + 7, 1));
  signed('cameraNumber-bit', 'camera 1 re-labelled as camera 3', 'tampered', flip(two, AT.cameras + 16 + 3, 1));
  signed('content-key-bit', 'a bit of camera 2\'s content key flipped', 'tampered', flip(two, AT.cameras + 52 + 20 + 9, 4));
  signed('signature-bit', 'the last bit of the signature flipped', 'tampered', flip(two, -1, 7));
  signed('wrong-signing-key', 'checked against another key under the same hub id', 'tampered', two, { hubId: H.hubId, signingKey: other.signingKey });
  const body = fromHex(two).subarray(0, fromHex(two).length - 64);
  signed('forged-by-other-key', 'this hub\'s id and body, signed by another hub\'s key', 'tampered',
    concat(body, sign(otherHub.signing, concat(utf8(LABEL_KEY_UPDATE), body))));

  signed('short', '64 bytes: a signature and nothing else', 'malformed', fromHex(two).subarray(0, 64));
  signed('truncated-header', 'header cut inside issuedAt, then a signature', 'malformed', concat(body.subarray(0, AT.issuedAt + 3), fromHex(two).subarray(-64)));
  signed('count-257', 'camera count 257, over the limit of 256', 'malformed',
    concat(body.subarray(0, AT.count), u16be(257), body.subarray(AT.cameras), fromHex(two).subarray(-64)));
  signed('authentic-count-3', 'signed by the hub, count 3 with two cameras', 'malformed',
    authentic(concat(body.subarray(0, AT.count), u16be(3), body.subarray(AT.cameras))));
  signed('authentic-trailing-byte', 'signed by the hub, one byte after the last camera', 'malformed', authentic(concat(body, Uint8Array.of(0))));
  signed('authentic-camera-number-2^31', 'signed by the hub, camera number 2^31', 'malformed',
    authentic(concat(body.subarray(0, AT.cameras + 16), Uint8Array.of(0x80, 0, 0, 0), body.subarray(AT.cameras + 20))));
  signed('version-0', 'version byte 0', 'unsupported', concat(Uint8Array.of(0), fromHex(two).subarray(1)));
  signed('version-2', 'version byte 2: refused, no fallback', 'unsupported', concat(Uint8Array.of(2), fromHex(two).subarray(1)));

  // Offline envelopes.
  const seed = seq(64, 0x50);
  const seal = (to: typeof owner, inner: string, s = seed) =>
    toHex(withFixedRandomness({ encapsulationSeeds: [s] }, () => sealKeyUpdateOffline(hub.hubId, { deviceId: to.deviceId, pqKey: to.pq.publicKey }, fromHex(inner))));
  const offline = (name: string, comment: string, expectCode: Expect, wire: string, to = CAST.owner, h = H) => {
    const entry: Vector = { name, comment, expect: expectCode, form: 'offline', hub: h, recipientSeeds: hexSeeds(to), wire };
    v.push(entry);
    return entry;
  };
  const env = seal(owner, two);
  const kem = sodium().crypto_kem_xwing_enc_deterministic(owner.pq.publicKey, seed);
  const good = offline('offline', 'the two-camera update sealed to the owner\'s X-Wing key', 'success', env);
  Object.assign(good, {
    update: fields(openKeyUpdate(fromHex(two), hubKeys(H), owner.deviceId)), signed: two, hubSeeds: hexSeeds(CAST.hub), encapsulationSeed: toHex(seed),
    kem: {
      ciphertext: toHex(kem.ciphertext), sharedSecret: toHex(kem.sharedSecret),
      key: toHex(deriveKey(kem.sharedSecret, LABEL_KEY_UPDATE_OFFLINE, 32, kem.ciphertext, hub.hubId, owner.deviceId)),
    },
  });
  offline('offline-at-other-phone', 'the owner\'s envelope at the viewer', 'not-for-me', env, CAST.viewer);
  offline('offline-at-other-hub', 'the envelope at a phone of another hub', 'not-for-me', env, CAST.owner, other);
  offline('offline-inner-for-other-phone', 'sealed to the owner, but holding the viewer\'s update', 'not-for-me', seal(owner, toHex(update(viewer.deviceId)), seq(64, 0x51)));
  const forViewer = seal(viewer, toHex(update(viewer.deviceId)), seq(64, 0x52));
  offline('offline-readdressed', 'the viewer\'s envelope with its recipient field rewritten to the owner', 'tampered',
    toHex(concat(fromHex(forViewer).subarray(0, 17), owner.deviceId, fromHex(forViewer).subarray(33))));
  offline('offline-ciphertext-bit', 'a bit of the X-Wing ciphertext flipped (decapsulation gives another secret)', 'tampered', flip(env, 33 + 500, 3));
  offline('offline-body-bit', 'a bit of the encrypted update flipped', 'tampered', flip(env, OFFLINE_PREFIX + 10, 0));
  offline('offline-tag-bit', 'the last bit of the tag flipped', 'tampered', flip(env, -1, 7));
  offline('offline-version-2', 'version byte 2', 'unsupported', toHex(concat(Uint8Array.of(2), fromHex(env).subarray(1))));
  offline('offline-short', 'prefix and 15 bytes: shorter than a tag', 'malformed', env.slice(0, 2 * (OFFLINE_PREFIX + 15)));
  return v;
}
