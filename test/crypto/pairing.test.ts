import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { newDeviceIdentity, newHubIdentity, newSigningKeyPair, type HubIdentity } from '../../crypto/identity.ts';
import { newInvite, type Invite } from '../../crypto/invite.ts';
import { acceptPairing, startPairing, type OpenInvite } from '../../crypto/pairing.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { Secret } from '../../crypto/secret.ts';
import { toHex } from '../../crypto/bytes.ts';

let hub: HubIdentity;
let otherHub: HubIdentity;
const NOW = 1_800_000_000;

beforeAll(async () => {
  await cryptoReady();
  hub = newHubIdentity();
  otherHub = newHubIdentity();
});

function freshInvite(): { invite: Invite; open: OpenInvite } {
  const invite = newInvite(hub, { relays: ['ws://127.0.0.1:8787/v1'], now: NOW, ttlSeconds: 600 });
  return { invite, open: { inviteId: invite.inviteId, secret: invite.secret, expiresAt: invite.expiresAt, used: false } };
}

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (!isCryptoError(e)) throw e;
    return e.code;
  }
}

describe('pairing (T11)', () => {
  it('pairs: same code on both sides, a certificate naming this phone and hub', () => {
    const { invite, open } = freshInvite();
    const phone = newDeviceIdentity();
    const relay = newSigningKeyPair('phone relay key');
    const p = startPairing({ invite, device: phone, relayKey: relay.publicKey, name: 'Ana’s phone', now: NOW });
    const h = acceptPairing({ hub, invite: open, message1: p.message1, now: NOW });
    const m2 = p.readMessage2(h.message2);
    const hubCode = h.readConfirmation(m2.confirmation);
    expect(m2.code).toMatch(/^\d{6}$/);
    expect(hubCode).toBe(m2.code);
    expect(h.name).toBe('Ana’s phone');
    expect(toHex(m2.hub.pqKey)).toBe(toHex(hub.pq.publicKey));
    const { certificate, message3 } = h.approve('viewer', NOW);
    const cert = p.readResult(message3);
    expect(cert.role).toBe('viewer');
    expect(toHex(cert.deviceId)).toBe(toHex(phone.deviceId));
    expect(toHex(certificate.signature)).toBe(toHex(cert.signature));
  });

  it('a phone without the invite secret (the relay in the middle) cannot get approved or learn a key', () => {
    const { invite, open } = freshInvite();
    // The attacker knows everything in the QR but the secret.
    const guessed: Invite = { ...invite, secret: new Secret(sodium().randombytes_buf(32), 'guess') };
    const attacker = newDeviceIdentity();
    const p = startPairing({ invite: guessed, device: attacker, relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    const h = acceptPairing({ hub, invite: open, message1: p.message1, now: NOW });
    // Message 2 is keyed with the real PSK: the attacker cannot read it...
    expect(codeOf(() => p.readMessage2(h.message2))).toBe('tampered');
    // ...so it cannot produce a confirmation, and the hub refuses to approve without one.
    expect(codeOf(() => h.approve('owner', NOW))).toBe('forbidden');
    const forgedConfirmation = sodium().randombytes_buf(40);
    expect(codeOf(() => h.readConfirmation(forgedConfirmation))).toBe('tampered');
    expect(codeOf(() => h.approve('owner', NOW))).toBe('forbidden');
  });

  it('the phone aborts when another hub answers (hub key differs from the QR)', () => {
    const { invite } = freshInvite();
    const phone = newDeviceIdentity();
    const p = startPairing({ invite, device: phone, relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    // Another hub that somehow knows the invite secret still cannot read message 1 (IK: es, ss).
    const impostorInvite: OpenInvite = { inviteId: invite.inviteId, secret: invite.secret, expiresAt: invite.expiresAt, used: false };
    expect(codeOf(() => acceptPairing({ hub: otherHub, invite: impostorInvite, message1: p.message1, now: NOW }))).toBe('tampered');
  });

  it('an expired or used invite is refused', () => {
    const { invite, open } = freshInvite();
    const phone = newDeviceIdentity();
    expect(codeOf(() => startPairing({ invite, device: phone, relayKey: new Uint8Array(32), name: 'x', now: invite.expiresAt }))).toBe('expired');
    const p = startPairing({ invite, device: phone, relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    expect(codeOf(() => acceptPairing({ hub, invite: open, message1: p.message1, now: invite.expiresAt + 1 }))).toBe('expired');
    expect(codeOf(() => acceptPairing({ hub, invite: { ...open, used: true }, message1: p.message1, now: NOW }))).toBe('replayed');
  });

  it('a pairing message for another invite is not for me', () => {
    const a = freshInvite();
    const b = freshInvite();
    const p = startPairing({ invite: a.invite, device: newDeviceIdentity(), relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    expect(codeOf(() => acceptPairing({ hub, invite: b.open, message1: p.message1, now: NOW }))).toBe('not-for-me');
  });

  it('a tampered certificate message or a refusal is not accepted as pairing', () => {
    const { invite, open } = freshInvite();
    const p = startPairing({ invite, device: newDeviceIdentity(), relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    const h = acceptPairing({ hub, invite: open, message1: p.message1, now: NOW });
    h.readConfirmation(p.readMessage2(h.message2).confirmation);
    const { message3 } = h.approve('owner', NOW);
    const bad = Uint8Array.from(message3);
    bad[10]! ^= 1;
    expect(codeOf(() => p.readResult(bad))).toBe('tampered');
    expect(codeOf(() => h.approve('owner', NOW))).toBe('replayed');

    const x = freshInvite();
    const q = startPairing({ invite: x.invite, device: newDeviceIdentity(), relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    const g = acceptPairing({ hub, invite: x.open, message1: q.message1, now: NOW });
    g.readConfirmation(q.readMessage2(g.message2).confirmation);
    expect(codeOf(() => q.readResult(g.refuse()))).toBe('forbidden');
  });

  it('downgrade: a message 1 with another protocol version is refused', () => {
    const { invite, open } = freshInvite();
    const p = startPairing({ invite, device: newDeviceIdentity(), relayKey: newSigningKeyPair('r').publicKey, name: 'x', now: NOW });
    const m1 = Uint8Array.from(p.message1);
    m1[0] = 0;
    expect(codeOf(() => acceptPairing({ hub, invite: open, message1: m1, now: NOW }))).toBe('unsupported');
  });

  it('any bytes as message 1 give a CryptoError', () => {
    const { open } = freshInvite();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), (bytes) => {
        const m = Uint8Array.from([1, ...open.inviteId, ...bytes]);
        for (const msg of [bytes, m]) codeOf(() => acceptPairing({ hub, invite: open, message1: msg, now: NOW }));
      }),
      { numRuns: 300 },
    );
  });
});
