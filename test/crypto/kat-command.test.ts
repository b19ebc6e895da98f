// Known-answer vectors for commands (docs/PROTOCOL.md §10): test/crypto/vectors/command.json.
// Each entry is a command as it reaches the hub plus the hub's state (roster, last sequence per
// device, the device the session authenticated, the time); authorizeCommand must accept exactly the
// good ones, with the recorded fields, and refuse the others with their `expect` code, in the order
// of §10.3. Signatures are deterministic, so signCommand must reproduce every good entry.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { authorizeCommand, signCommand } from '../../crypto/command.ts';
import { deviceIdentityFromSeeds } from '../../crypto/identity.testing.ts';
import { deviceSeedsFrom, expectKinds, outcome, readVectors } from './kat-support.ts';
import { type Vector, contextOf, fields } from './generate/command.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('command known-answer vectors (test/crypto/vectors/command.json)', () => {
  const vectors = readVectors<Vector>('command');

  it('covers success, forbidden, tampered, replayed, expired, not-for-me, malformed and unsupported', () => {
    expectKinds(vectors, ['success', 'forbidden', 'tampered', 'replayed', 'expired', 'not-for-me', 'malformed', 'unsupported']);
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.expect}`, () => {
      expect(outcome(() => authorizeCommand(fromHex(v.wire), contextOf(v.context)))).toBe(v.expect);
      if (v.expect !== 'success' || v.command === undefined || v.signerSeeds === undefined) return;
      const c = v.command;
      expect(fields(authorizeCommand(fromHex(v.wire), contextOf(v.context)))).toEqual(c);
      const device = deviceIdentityFromSeeds(deviceSeedsFrom(v.signerSeeds));
      expect(toHex(device.deviceId)).toBe(c.deviceId);
      expect(toHex(signCommand(device, { hubId: fromHex(c.hubId), seq: BigInt(c.seq), issuedAt: c.issuedAt, action: c.action, args: c.args }))).toBe(v.wire);
    });
  }
});
