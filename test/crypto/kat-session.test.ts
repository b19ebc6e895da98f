// Known-answer vectors for phone↔hub sessions (docs/PROTOCOL.md §6): test/crypto/vectors/session.json.
// With fixed ephemerals and a fixed X-Wing encapsulation seed (crypto/sodium.testing.ts), the real
// startSession / acceptSession / Session must reproduce a whole transcript: message 1, message 2,
// the handshake hash and each transport message. A reference built from the spec's pseudocode with
// noise.testing.ts (createHandshakeWithFixedEphemeral) must agree. The negative entries replay the
// transcript up to one step and feed that step a changed, replayed or misdirected message.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { deviceIdentityFromSeeds, hubIdentityFromSeeds } from '../../crypto/identity.testing.ts';
import { acceptSession, sessionPrologue } from '../../crypto/session.ts';
import { withFixedRandomness } from '../../crypto/sodium.testing.ts';
import { CAST, expectKinds, hubSeedsFrom, outcome, readVectors, seq } from './kat-support.ts';
import { type Vector, parties, startFixed, run, reference } from './generate/session.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('session known-answer vectors (test/crypto/vectors/session.json)', () => {
  const vectors = readVectors<Vector>('session');
  const transcript = vectors.find((v) => v.transcript !== undefined)?.transcript;

  it('covers success, tampered, replayed, unsupported, malformed and forbidden', () => {
    expectKinds(vectors, ['success', 'tampered', 'replayed', 'unsupported', 'malformed', 'forbidden', 'not-for-me']);
  });

  it('transcript: the shipped code reproduces every byte', () => {
    if (transcript === undefined) return;
    const t = transcript;
    const { hub, phoneSession, hubSession } = run(t);
    expect(toHex(sessionPrologue(hub.hubId))).toBe(t.prologue);
    for (const m of t.transport) {
      const [sender, receiver] = m.from === 'phone' ? [phoneSession, hubSession] : [hubSession, phoneSession];
      expect(sender.nextSequence).toBe(BigInt(m.seq));
      expect(toHex(sender.seal(fromHex(m.plaintext)))).toBe(m.wire);
      expect(toHex(receiver.open(fromHex(m.wire)))).toBe(m.plaintext);
    }
  });

  it('transcript: a reference from the spec (noise.testing.ts fixed ephemerals) agrees', () => {
    if (transcript === undefined) return;
    const t = transcript;
    const ref = reference(t);
    expect(toHex(ref.prologue)).toBe(t.prologue);
    expect(toHex(ref.kem.ciphertext)).toBe(t.xwingCiphertext);
    expect(toHex(ref.kem.sharedSecret)).toBe(t.xwingSharedSecret);
    expect(toHex(ref.psk)).toBe(t.psk);
    expect(toHex(ref.message1)).toBe(t.message1);
    expect(toHex(ref.message2)).toBe(t.message2);
    expect(toHex(ref.handshakeHash)).toBe(t.handshakeHash);
    expect(ref.transport).toEqual(t.transport.map((m) => m.wire));
  });

  for (const v of vectors.filter((x) => x.step !== undefined)) {
    it(`${v.step} ${v.name}: ${v.expect}`, () => {
      if (transcript === undefined) throw new Error('no transcript vector');
      const t = transcript;
      const input = fromHex(v.input ?? '');
      const { hub, phone } = parties(t);
      switch (v.step) {
        case 'hub-read-1': {
          const reader = v.readerSeeds === undefined ? hub : hubIdentityFromSeeds(hubSeedsFrom(v.readerSeeds));
          const enrolled = v.enrolled === false ? undefined : phone.exchange.publicKey;
          expect(outcome(() => acceptSession({ hub: reader, message1: input, lookupDevice: (k) => (enrolled !== undefined && toHex(k) === toHex(enrolled) ? 1 : undefined) }))).toBe(v.expect);
          return;
        }
        case 'phone-read-2': {
          const started = startFixed(t, phone, hub);
          expect(outcome(() => started.finish(input))).toBe(v.expect);
          return;
        }
        case 'hub-open':
        case 'phone-open': {
          const r = run(t);
          const session = v.step === 'hub-open' ? r.hubSession : r.phoneSession;
          for (const first of v.openFirst ?? []) session.open(fromHex(first));
          expect(outcome(() => session.open(input))).toBe(v.expect);
          return;
        }
        default:
          throw new Error(`unknown step ${String(v.step)}`);
      }
    });
  }
});

describe('test-only hooks', () => {
  it('fixed randomness and seeded identities are refused outside tests, and libsodium is restored', () => {
    const keypair = sodium().crypto_box_keypair;
    vi.stubEnv('VITEST', '');
    try {
      expect(outcome(() => withFixedRandomness({}, () => 0))).toBe('forbidden');
      expect(outcome(() => hubIdentityFromSeeds(CAST.hub))).toBe('forbidden');
      expect(outcome(() => deviceIdentityFromSeeds(CAST.owner))).toBe('forbidden');
    } finally {
      vi.unstubAllEnvs();
    }
    expect(() => withFixedRandomness({ ephemerals: [seq(32, 1)] }, () => { throw new Error('inside'); })).toThrow('inside');
    expect(sodium().crypto_box_keypair).toBe(keypair);
    expect(() => withFixedRandomness({ ephemerals: [seq(32, 1)] }, () => 0)).toThrow(/left unused/);
    expect(() => withFixedRandomness({}, () => sodium().crypto_box_keypair())).toThrow(/more X25519 key pairs/);
    expect(sodium().crypto_box_keypair).toBe(keypair);
  });
});
