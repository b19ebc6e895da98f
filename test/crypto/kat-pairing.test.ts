// Known-answer vectors for pairing (docs/PROTOCOL.md §3): test/crypto/vectors/pairing.json.
// With fixed Noise ephemerals (crypto/sodium.testing.ts) the real startPairing / acceptPairing must
// reproduce the whole exchange: PAIR_1, PAIR_2, the handshake hash, the 6-digit code, PAIR_CONFIRM,
// PAIR_RESULT and the certificate in it. A reference built from §3.1-3.2 with noise.testing.ts must
// agree. Negative entries replay the exchange up to one step and feed it a changed or foreign message.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { encodeCertificate } from '../../crypto/certificate.ts';
import { confirmationCode, invitePsk, pairingPrologue } from '../../crypto/pairing.ts';
import { expectKinds, outcome, readVectors } from './kat-support.ts';
import { type Vector, parties, openInvite, phoneStart, hubAccept, run, reference } from './generate/pairing.ts';

beforeAll(async () => {
  await cryptoReady();
});

describe('pairing known-answer vectors (test/crypto/vectors/pairing.json)', () => {
  const vectors = readVectors<Vector>('pairing');
  const transcript = vectors.find((v) => v.transcript !== undefined)?.transcript;

  it('covers success, tampered, unsupported, not-for-me, malformed, replayed, expired, wrong-hub-key and forbidden', () => {
    expectKinds(vectors, ['success', 'tampered', 'unsupported', 'not-for-me', 'malformed', 'replayed', 'expired', 'wrong-hub-key', 'forbidden']);
  });

  it('transcript: the shipped code reproduces every byte', () => {
    if (transcript === undefined) return;
    const t = transcript;
    const { invite, phone, p, h } = run(t);
    expect(toHex(pairingPrologue(invite.hubId, invite.inviteId))).toBe(t.prologue);
    expect(toHex(invitePsk(invite.secret))).toBe(t.psk);
    expect(confirmationCode(fromHex(t.handshakeHash))).toBe(t.code);
    const { certificate, message3 } = h.approve(t.role, t.issuedAt);
    expect(toHex(encodeCertificate(certificate))).toBe(t.certificate);
    expect(toHex(message3)).toBe(t.result);
    const cert = p.readResult(message3);
    expect(toHex(cert.deviceId)).toBe(toHex(phone.deviceId));
    expect(cert.role).toBe(t.role);
    expect(toHex(run(t).h.refuse())).toBe(t.refusal);
  });

  it('transcript: a reference from the spec (noise.testing.ts fixed ephemerals) agrees', () => {
    if (transcript === undefined) return;
    const t = transcript;
    const ref = reference(t);
    expect(toHex(ref.prologue)).toBe(t.prologue);
    expect(toHex(ref.psk)).toBe(t.psk);
    expect(toHex(ref.message1)).toBe(t.message1);
    expect(toHex(ref.message2)).toBe(t.message2);
    expect(toHex(ref.handshakeHash)).toBe(t.handshakeHash);
    expect(ref.code).toBe(t.code);
    expect(toHex(ref.confirmation)).toBe(t.confirmation);
    expect(toHex(ref.result)).toBe(t.result);
  });

  for (const v of vectors.filter((x) => x.step !== undefined)) {
    it(`${v.step} ${v.name}: ${v.expect}`, () => {
      if (transcript === undefined) throw new Error('no transcript vector');
      const t = transcript;
      const input = fromHex(v.input ?? '');
      switch (v.step) {
        case 'hub-read-1': {
          const { hub, invite } = parties(t);
          expect(outcome(() => hubAccept(t, hub, openInvite(invite, v.inviteUsed === true), input, v.hubNow ?? t.now))).toBe(v.expect);
          return;
        }
        case 'phone-read-2': {
          const { phone, relayKey, invite } = parties(t);
          const p = phoneStart(t, invite, phone, relayKey);
          expect(outcome(() => p.readMessage2(input))).toBe(v.expect);
          return;
        }
        case 'hub-read-confirm': {
          const { hub, phone, relayKey, invite } = parties(t);
          const p = phoneStart(t, invite, phone, relayKey);
          const h = hubAccept(t, hub, openInvite(invite), p.message1);
          for (const first of v.readFirst ?? []) h.readConfirmation(fromHex(first));
          expect(outcome(() => h.readConfirmation(input))).toBe(v.expect);
          return;
        }
        case 'phone-read-result': {
          const { p } = run(t);
          expect(outcome(() => p.readResult(input))).toBe(v.expect);
          return;
        }
        default:
          throw new Error(`unknown step ${String(v.step)}`);
      }
    });
  }
});
