// T3 (join): a phone added at epoch e must not read what cameras sent before it joined. It is given
// only epoch e's key update; the attack hands it frames captured at epoch e-1 (a relay keeps every
// byte), then, maliciously, the epoch e-1 key update the hub made for another phone, in both forms
// (inside a session and as an offline X-Wing envelope). It opens no frame and no update.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { concat } from '../../crypto/bytes.ts';
import { FrameOpener, FrameSealer, frameKeyId, type FrameKeyParams } from '../../crypto/frame.ts';
import { hubPublicKeys, newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { newContentKey, openKeyUpdate, openKeyUpdateOffline, sealKeyUpdateOffline, signKeyUpdate, type CameraKey } from '../../crypto/keyupdate.ts';
import { rosterHash, type RosterEntry } from '../../crypto/roster.ts';
import { decodeSframeHeader, encodeSframeHeader } from '../../crypto/sframe.ts';
import { outcome } from './kat-support.ts';

let hub: HubIdentity;
let owner: DeviceIdentity;
let joiner: DeviceIdentity;
const E = 5;
const CAMERAS: { number: number; id: Uint8Array }[] = [{ number: 1, id: new Uint8Array(16) }, { number: 2, id: new Uint8Array(16) }];

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  owner = newDeviceIdentity();
  joiner = newDeviceIdentity();
  for (const c of CAMERAS) c.id = sodium().randombytes_buf(16);
});

/** The hub's content keys for one epoch, and each phone's signed update for it. */
function epoch(n: number, members: RosterEntry[]) {
  const cameras: CameraKey[] = CAMERAS.map((c) => ({ cameraId: c.id, cameraNumber: c.number, key: newContentKey() }));
  const hash = rosterHash(n, members);
  const updateFor = (d: DeviceIdentity) => signKeyUpdate(hub, { epoch: n, rosterHash: hash, recipient: d.deviceId, issuedAt: 1_800_000_000_000 + n, cameras });
  const params = (c: CameraKey): FrameKeyParams => ({ hubId: hub.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: n, key: c.key });
  return { cameras, updateFor, params };
}

/** What a phone does with a key update it opened: each camera key to its frame opener. */
function install(opener: FrameOpener, cameras: readonly CameraKey[], n: number): void {
  for (const c of cameras) opener.addKey({ hubId: hub.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: n, key: c.key });
}

describe('T3 join: a phone added at epoch e reads nothing of epoch e-1', () => {
  it('frames captured before it joined, and the old key update for another phone, stay closed', () => {
    const before = epoch(E - 1, [{ deviceId: owner.deviceId, role: 'owner' }]);
    const after = epoch(E, [{ deviceId: owner.deviceId, role: 'owner' }, { deviceId: joiner.deviceId, role: 'viewer' }]);
    const frame = { track: 'video', captureTime: 1_800_000_000_000, frameType: 'keyframe', payload: sodium().randombytes_buf(64) } as const;

    // Frames the cameras sent at epoch e-1, as the relay recorded them.
    const sealedBefore = before.cameras.flatMap((c, i) => {
      const sealer = new FrameSealer(before.params(c));
      return [sealer.seal(frame), sealer.seal({ ...frame, frameType: 'delta' }), sealer.seal({ ...frame, frameType: 'delta' })].map((wire) => ({ camera: i, wire }));
    });
    const captured = sealedBefore.map((c) => c.wire);
    const owners = new FrameOpener();
    install(owners, openKeyUpdate(before.updateFor(owner), hubPublicKeys(hub), owner.deviceId).cameras, E - 1);
    for (const wire of captured) expect(outcome(() => owners.open(wire))).toBe('success'); // the frames are real

    // The joiner, enrolled but before its first key update: nothing is for it.
    const joiners = new FrameOpener();
    for (const wire of captured) expect(outcome(() => joiners.open(wire))).toBe('not-for-me');

    // It gets epoch e's update, addressed to it, and opens epoch e's frames.
    const mine = openKeyUpdate(after.updateFor(joiner), hubPublicKeys(hub), joiner.deviceId);
    expect(mine.epoch).toBe(E);
    install(joiners, mine.cameras, E);
    for (const c of after.cameras) expect(outcome(() => joiners.open(new FrameSealer(after.params(c)).seal(frame)))).toBe('success');

    // Epoch e-1 frames still open nowhere. Their key ids are of keys it never held: not for it
    // (key ids are opaque, docs/PROTOCOL.md §9.3, so nothing says they are older frames of its cameras).
    for (const wire of captured) expect(outcome(() => joiners.open(wire))).toBe('not-for-me');
    // Re-labelled by the relay as epoch e frames of the same camera: the epoch e key does not open them.
    for (const { camera, wire } of sealedBefore) {
      const h = decodeSframeHeader(wire);
      const relabelled = concat(encodeSframeHeader(frameKeyId(after.params(after.cameras[camera]!)), h.ctr + 1000n), wire.subarray(h.headerLength));
      expect(outcome(() => joiners.open(relabelled))).toBe('tampered');
    }

    // The malicious step: the relay hands the joiner the owner's epoch e-1 key update.
    const ownersOld = before.updateFor(owner);
    expect(outcome(() => openKeyUpdate(ownersOld, hubPublicKeys(hub), joiner.deviceId))).toBe('not-for-me');
    const ownersOldOffline = sealKeyUpdateOffline(hub.hubId, { deviceId: owner.deviceId, pqKey: owner.pq.publicKey }, ownersOld);
    expect(outcome(() => openKeyUpdateOffline(ownersOldOffline, joiner, hubPublicKeys(hub)))).toBe('not-for-me');
    // Re-addressed to the joiner, the envelope does not decrypt under its X-Wing key.
    const readdressed = concat(ownersOldOffline.subarray(0, 17), joiner.deviceId, ownersOldOffline.subarray(33));
    expect(outcome(() => openKeyUpdateOffline(readdressed, joiner, hubPublicKeys(hub)))).toBe('tampered');
    // Re-sealed to the joiner's key by someone who has the signed bytes: the inner recipient still says owner.
    const resealed = sealKeyUpdateOffline(hub.hubId, { deviceId: joiner.deviceId, pqKey: joiner.pq.publicKey }, ownersOld);
    expect(outcome(() => openKeyUpdateOffline(resealed, joiner, hubPublicKeys(hub)))).toBe('not-for-me');

    // Nothing changed: the epoch e-1 frames still open for nobody but the owner.
    for (const wire of captured) expect(outcome(() => joiners.open(wire))).not.toBe('success');
    const fresh = new FrameOpener();
    install(fresh, mine.cameras, E);
    for (const wire of captured) expect(['not-for-me', 'replayed']).toContain(outcome(() => fresh.open(wire)));
  });
});
