import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cryptoReady } from '../../crypto/sodium.ts';
import { newDeviceIdentity, newHubIdentity, type DeviceIdentity, type HubIdentity } from '../../crypto/identity.ts';
import { authorizeCommand, signCommand, type CommandContext, type RosterDevice } from '../../crypto/command.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { toHex } from '../../crypto/bytes.ts';

let hub: HubIdentity;
let otherHub: HubIdentity;
let owner: DeviceIdentity;
let viewer: DeviceIdentity;
let revoked: DeviceIdentity;
let stranger: DeviceIdentity;
const NOW = 1_800_000_000_000;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  otherHub = newHubIdentity();
  owner = newDeviceIdentity();
  viewer = newDeviceIdentity();
  revoked = newDeviceIdentity();
  stranger = newDeviceIdentity();
});

function context(extra: Partial<CommandContext> = {}): CommandContext {
  const roster = new Map<string, RosterDevice>([
    [toHex(owner.deviceId), { signingKey: owner.signing.publicKey, role: 'owner', revoked: false }],
    [toHex(viewer.deviceId), { signingKey: viewer.signing.publicKey, role: 'viewer', revoked: false }],
    [toHex(revoked.deviceId), { signingKey: revoked.signing.publicKey, role: 'owner', revoked: true }],
  ]);
  return {
    hubId: hub.hubId,
    lookupDevice: (id) => roster.get(toHex(id)),
    lastSeq: () => 4n,
    now: NOW,
    ...extra,
  };
}

const code = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (!isCryptoError(e)) throw e;
    return e.code;
  }
};

describe('commands (T9)', () => {
  it('an owner may move the camera; a viewer may watch but not move it', () => {
    const ptz = (d: DeviceIdentity) => signCommand(d, { hubId: hub.hubId, seq: 5n, issuedAt: NOW, action: 'ptz', args: { pan: 0.5 } });
    expect(authorizeCommand(ptz(owner), context()).args).toEqual({ pan: 0.5 });
    expect(code(() => authorizeCommand(ptz(viewer), context()))).toBe('forbidden');
    const watch = signCommand(viewer, { hubId: hub.hubId, seq: 5n, issuedAt: NOW, action: 'watch', args: { camera: 'x' } });
    expect(authorizeCommand(watch, context()).action).toBe('watch');
  });

  it('a revoked phone is refused, even with a valid signature', () => {
    const c = signCommand(revoked, { hubId: hub.hubId, seq: 9n, issuedAt: NOW, action: 'watch' });
    expect(code(() => authorizeCommand(c, context()))).toBe('forbidden');
  });

  it('a stranger not on the roster is refused', () => {
    const c = signCommand(stranger, { hubId: hub.hubId, seq: 9n, issuedAt: NOW, action: 'list-cameras' });
    expect(code(() => authorizeCommand(c, context()))).toBe('forbidden');
  });

  it('a command for another hub is not for me (cross-hub delivery by the relay)', () => {
    const c = signCommand(owner, { hubId: otherHub.hubId, seq: 9n, issuedAt: NOW, action: 'ptz' });
    expect(code(() => authorizeCommand(c, context()))).toBe('not-for-me');
  });

  it('the relay cannot forge one: a command re-signed by another key under the owner id fails', () => {
    const forged = signCommand({ ...stranger, deviceId: owner.deviceId }, { hubId: hub.hubId, seq: 9n, issuedAt: NOW, action: 'ptz' });
    expect(code(() => authorizeCommand(forged, context()))).toBe('tampered');
  });

  it('a replayed or stale command is refused', () => {
    const c = signCommand(owner, { hubId: hub.hubId, seq: 4n, issuedAt: NOW, action: 'snapshot' });
    expect(code(() => authorizeCommand(c, context()))).toBe('replayed');
    const old = signCommand(owner, { hubId: hub.hubId, seq: 50n, issuedAt: NOW - 120_000, action: 'snapshot' });
    expect(code(() => authorizeCommand(old, context()))).toBe('expired');
    const future = signCommand(owner, { hubId: hub.hubId, seq: 51n, issuedAt: NOW + 120_000, action: 'snapshot' });
    expect(code(() => authorizeCommand(future, context()))).toBe('expired');
  });

  it('a command signed by one phone inside another phone\'s session is refused', () => {
    const c = signCommand(owner, { hubId: hub.hubId, seq: 9n, issuedAt: NOW, action: 'ptz' });
    expect(code(() => authorizeCommand(c, context({ sessionDeviceId: viewer.deviceId })))).toBe('forbidden');
  });

  it('every flipped bit is refused', () => {
    const c = signCommand(owner, { hubId: hub.hubId, seq: 9n, issuedAt: NOW, action: 'ptz', args: { x: 1 } });
    for (let i = 0; i < c.length * 8; i++) {
      const bad = Uint8Array.from(c);
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(code(() => authorizeCommand(bad, context())), `bit ${i}`).not.toBe('accepted');
    }
  });

  it('any bytes give a command or a CryptoError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        code(() => authorizeCommand(bytes, context()));
      }),
      { numRuns: 2000 },
    );
  });
});
