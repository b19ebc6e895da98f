// crypto/session.ts: phone↔hub sessions, attacked the way a malicious relay would (replay, reorder,
// misroute, flip bits, downgrade) and by phones the hub does not know.
import { inspect } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { concat, equalBytes, toHex, u8, utf8 } from '../../crypto/bytes.ts';
import { CryptoError, isCryptoError } from '../../crypto/errors.ts';
import type { CryptoErrorCode } from '../../crypto/errors.ts';
import { deriveKey } from '../../crypto/hash.ts';
import { XWING_CIPHERTEXT_BYTES, hubPublicKeys, newDeviceIdentity, newHubIdentity } from '../../crypto/identity.ts';
import type { DeviceIdentity, HubIdentity } from '../../crypto/identity.ts';
import { LABEL_SESSION_PROLOGUE, LABEL_SESSION_PSK, PROTOCOL_VERSION } from '../../crypto/labels.ts';
import { createHandshake } from '../../crypto/noise.ts';
import type { NoisePattern } from '../../crypto/noise.ts';
import {
  MAX_MESSAGE1_PAYLOAD,
  MAX_SESSION_PLAINTEXT,
  Session,
  SessionMessageType,
  acceptSession,
  sessionHeaderByte,
  sessionPrologue,
  startSession,
} from '../../crypto/session.ts';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';

beforeAll(async () => {
  await cryptoReady();
});

function expectCryptoError(fn: () => unknown, code: CryptoErrorCode): CryptoError {
  try {
    fn();
  } catch (e) {
    if (!isCryptoError(e)) throw new Error(`expected CryptoError(${code}), got ${String(e)}`, { cause: e });
    expect(e.code, e.message).toBe(code);
    return e;
  }
  throw new Error(`expected CryptoError(${code}), nothing was thrown`);
}

interface Phone {
  name: string;
}

interface World {
  hub: HubIdentity;
  device: DeviceIdentity;
  lookups: Uint8Array[];
  lookupDevice: (exchangeKey: Uint8Array) => Phone | undefined;
}

let shared: { hub: HubIdentity; device: DeviceIdentity; otherHub: HubIdentity } | undefined;

/** Identities are slow-ish (X-Wing key generation); tests share one hub and phone. */
function world(): World & { otherHub: HubIdentity } {
  shared ??= { hub: newHubIdentity(), device: newDeviceIdentity(), otherHub: newHubIdentity() };
  const { hub, device, otherHub } = shared;
  const lookups: Uint8Array[] = [];
  return {
    hub,
    device,
    otherHub,
    lookups,
    lookupDevice: (exchangeKey) => {
      lookups.push(exchangeKey);
      return equalBytes(exchangeKey, device.exchange.publicKey) ? { name: 'kitchen phone' } : undefined;
    },
  };
}

function connect(w: World, payloads: { phone?: Uint8Array; hub?: Uint8Array } = {}) {
  const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub), ...(payloads.phone ? { payload: payloads.phone } : {}) });
  const accepted = acceptSession({ hub: w.hub, message1: started.message1, lookupDevice: w.lookupDevice });
  const { message2, session: hubSession } = accepted.respond(payloads.hub);
  const { session: phoneSession, payload } = started.finish(message2);
  return { started, accepted, message2, hubSession, phoneSession, hubPayload: payload };
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('session handshake', () => {
  it('round-trips payloads in both handshake messages and transport messages both ways', () => {
    const w = world();
    const c = connect(w, { phone: utf8('hello hub'), hub: utf8('hello phone') });
    expect(c.started.message1[0]).toBe(0x11);
    expect(c.message2[0]).toBe(0x12);
    expect(c.started.message1.length).toBe(1 + 32 + 48 + XWING_CIPHERTEXT_BYTES + 'hello hub'.length + 16);
    expect(c.accepted.device).toEqual({ name: 'kitchen phone' });
    expect(toHex(c.accepted.exchangeKey)).toBe(toHex(w.device.exchange.publicKey));
    expect(text(c.accepted.payload)).toBe('hello hub');
    expect(text(c.hubPayload)).toBe('hello phone');
    expect(toHex(c.phoneSession.handshakeHash)).toBe(toHex(c.hubSession.handshakeHash));
    expect(c.phoneSession.confirmed).toBe(true);
    expect(c.hubSession.confirmed).toBe(false);

    for (let i = 0; i < 3; i++) {
      const up = c.phoneSession.seal(utf8(`command ${i}`));
      expect(up[0]).toBe(0x13);
      expect(up.length).toBe(13 + `command ${i}`.length + 16);
      expect(text(c.hubSession.open(up))).toBe(`command ${i}`);
      expect(text(c.phoneSession.open(c.hubSession.seal(utf8(`result ${i}`))))).toBe(`result ${i}`);
    }
    expect(c.hubSession.confirmed).toBe(true);
    expect(c.phoneSession.nextSequence).toBe(3n);
    expect(c.phoneSession.seal(new Uint8Array(0)).length).toBe(29);
  });

  it('every handshake gives a new session (fresh ephemerals and X-Wing secret)', () => {
    const w = world();
    const a = connect(w);
    const b = connect(w);
    expect(toHex(a.phoneSession.handshakeHash)).not.toBe(toHex(b.phoneSession.handshakeHash));
    // Each names its session (the tag): a message of the other is not for it, not a changed one.
    expectCryptoError(() => b.hubSession.open(a.phoneSession.seal(utf8('for A'))), 'not-for-me');
    expectCryptoError(() => a.phoneSession.open(b.hubSession.seal(utf8('for B'))), 'not-for-me');
  });

  it('a replayed message 1 yields a different, unconfirmed session the relay cannot read or use', () => {
    const w = world();
    const c = connect(w);
    // The relay replays message 1: the hub cannot tell (no state in IK) and answers again.
    const replayed = acceptSession({ hub: w.hub, message1: c.started.message1, lookupDevice: w.lookupDevice });
    const { message2: message2b, session: hubB } = replayed.respond(utf8('secret for the phone'));
    expect(toHex(hubB.handshakeHash)).not.toBe(toHex(c.hubSession.handshakeHash));
    expect(hubB.confirmed).toBe(false);
    // Even an attacker holding the phone's static key but not its ephemeral cannot finish it.
    const attacker = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
    expectCryptoError(() => attacker.finish(message2b), 'tampered');
    // Nothing sealed in B opens in the phone's real session, and nothing of A confirms B.
    const fromB = hubB.seal(utf8('video key'));
    expectCryptoError(() => c.phoneSession.open(fromB), 'not-for-me');
    expectCryptoError(() => hubB.open(c.phoneSession.seal(utf8('command'))), 'not-for-me');
    // Nor with the tag rewritten to the other session's: the keys differ.
    const retagged = fromB.slice();
    retagged.set(c.phoneSession.seal(utf8('x')).subarray(1, 5), 1);
    expectCryptoError(() => c.phoneSession.open(retagged), 'tampered');
    expect(hubB.confirmed).toBe(false);
    // The real session keeps working.
    expect(text(c.hubSession.open(c.phoneSession.seal(utf8('still here'))))).toBe('still here');
  });

  it('a phone that addresses another hub fails there; a wrong hub id or key fails too', () => {
    const w = world();
    const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
    // Misrouted to another hub (the Eufy case).
    expectCryptoError(() => acceptSession({ hub: w.otherHub, message1: started.message1, lookupDevice: w.lookupDevice }), 'tampered');
    // Right hub key, wrong hub id: the prologue differs.
    const wrongId = startSession({ device: w.device, hub: { ...hubPublicKeys(w.hub), hubId: w.otherHub.hubId } });
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: wrongId.message1, lookupDevice: w.lookupDevice }), 'tampered');
    // Right hub id, another hub's static key.
    const wrongKey = startSession({ device: w.device, hub: { ...hubPublicKeys(w.hub), exchangeKey: w.otherHub.exchange.publicKey } });
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: wrongKey.message1, lookupDevice: w.lookupDevice }), 'tampered');
    expect(w.lookups).toHaveLength(0); // nothing unauthenticated reaches the roster lookup
  });

  it('an impostor hub answering with its own keys is refused by the phone', () => {
    const w = world();
    const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
    // The impostor knows the hub's public keys only; it answers a handshake it started itself.
    const decoy = startSession({ device: w.device, hub: hubPublicKeys(w.otherHub) });
    const { message2 } = acceptSession({ hub: w.otherHub, message1: decoy.message1, lookupDevice: w.lookupDevice }).respond();
    expectCryptoError(() => started.finish(message2), 'tampered');
  });

  it('the hub refuses a phone that is not on its roster, after authenticating it', () => {
    const w = world();
    const stranger = newDeviceIdentity();
    const started = startSession({ device: stranger, hub: hubPublicKeys(w.hub) });
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: started.message1, lookupDevice: w.lookupDevice }), 'forbidden');
    expect(w.lookups.map(toHex)).toEqual([toHex(stranger.exchange.publicKey)]);
  });

  it('an altered X-Wing ciphertext makes the handshake fail (tampered)', () => {
    const w = world();
    // A phone (or a bug) that sends a ciphertext other than the one its PSK came from; the relay
    // cannot alter it at all, since it travels inside Noise encryption (see the bit-flip test).
    const kem = sodium().crypto_kem_xwing_enc(w.hub.pq.publicKey);
    const psk = deriveKey(kem.sharedSecret, LABEL_SESSION_PSK, 32);
    const phone = createHandshake({
      pattern: 'IKpsk2',
      initiator: true,
      prologue: sessionPrologue(w.hub.hubId),
      staticKeyPair: w.device.exchange,
      remoteStatic: w.hub.exchange.publicKey,
      psk,
    });
    const altered = flipBit(kem.ciphertext, 77);
    const message1 = concat(u8(0x11), phone.writeMessage(altered));
    const accepted = acceptSession({ hub: w.hub, message1, lookupDevice: w.lookupDevice }); // implicit rejection
    const { message2 } = accepted.respond();
    expectCryptoError(() => phone.readMessage(message2.subarray(1)), 'tampered');

    // Control: the same construction with the true ciphertext succeeds, so only the alteration failed.
    const kem2 = sodium().crypto_kem_xwing_enc(w.hub.pq.publicKey);
    const phone2 = createHandshake({
      pattern: 'IKpsk2',
      initiator: true,
      prologue: sessionPrologue(w.hub.hubId),
      staticKeyPair: w.device.exchange,
      remoteStatic: w.hub.exchange.publicKey,
      psk: deriveKey(kem2.sharedSecret, LABEL_SESSION_PSK, 32),
    });
    const ok = acceptSession({ hub: w.hub, message1: concat(u8(0x11), phone2.writeMessage(kem2.ciphertext)), lookupDevice: w.lookupDevice });
    phone2.readMessage(ok.respond().message2.subarray(1));
    expect(phone2.isComplete).toBe(true);
  });

  it('message 1 from an enrolled phone without a whole X-Wing ciphertext is malformed', () => {
    const w = world();
    const phone = createHandshake({
      pattern: 'IKpsk2',
      initiator: true,
      prologue: sessionPrologue(w.hub.hubId),
      staticKeyPair: w.device.exchange,
      remoteStatic: w.hub.exchange.publicKey,
      psk: new Uint8Array(32),
    });
    const message1 = concat(u8(0x11), phone.writeMessage(new Uint8Array(XWING_CIPHERTEXT_BYTES - 1)));
    expectCryptoError(() => acceptSession({ hub: w.hub, message1, lookupDevice: w.lookupDevice }), 'malformed');
  });

  it('downgrades fail: version byte, prologue version, another Noise pattern', () => {
    const w = world();
    const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
    const v2 = started.message1.slice();
    v2[0] = ((PROTOCOL_VERSION + 1) << 4) | SessionMessageType.HANDSHAKE_1;
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: v2, lookupDevice: w.lookupDevice }), 'unsupported');
    const v0 = started.message1.slice();
    v0[0] = SessionMessageType.HANDSHAKE_1;
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: v0, lookupDevice: w.lookupDevice }), 'unsupported');

    // A phone whose prologue names another version, under the current header byte.
    const prologueV2 = concat(utf8(LABEL_SESSION_PROLOGUE), u8(PROTOCOL_VERSION + 1), w.hub.hubId);
    expect(toHex(sessionPrologue(w.hub.hubId))).toBe(toHex(concat(utf8(LABEL_SESSION_PROLOGUE), u8(PROTOCOL_VERSION), w.hub.hubId)));
    const kem = sodium().crypto_kem_xwing_enc(w.hub.pq.publicKey);
    const makePhone = (pattern: NoisePattern, prologue: Uint8Array) =>
      createHandshake({
        pattern,
        initiator: true,
        prologue,
        staticKeyPair: w.device.exchange,
        remoteStatic: w.hub.exchange.publicKey,
        ...(pattern === 'IKpsk2' ? { psk: deriveKey(kem.sharedSecret, LABEL_SESSION_PSK, 32) } : {}),
      });
    const badPrologue = concat(u8(0x11), makePhone('IKpsk2', prologueV2).writeMessage(kem.ciphertext));
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: badPrologue, lookupDevice: w.lookupDevice }), 'tampered');
    // Plain IK (no PQ PSK): the protocol name is hashed in, so the hub's IKpsk2 refuses it.
    const noPsk = concat(u8(0x11), makePhone('IK', sessionPrologue(w.hub.hubId)).writeMessage(kem.ciphertext));
    expectCryptoError(() => acceptSession({ hub: w.hub, message1: noPsk, lookupDevice: w.lookupDevice }), 'tampered');

    // Transport header version.
    const c = connect(w);
    const sealed = c.phoneSession.seal(utf8('x'));
    const downgraded = sealed.slice();
    downgraded[0] = ((PROTOCOL_VERSION + 1) << 4) | SessionMessageType.TRANSPORT;
    expectCryptoError(() => c.hubSession.open(downgraded), 'unsupported');
    expect(text(c.hubSession.open(sealed))).toBe('x');
  });

  it('a flipped bit anywhere in message 1 is refused (tampered past the header byte)', () => {
    const w = world();
    const { message1 } = startSession({ device: w.device, hub: hubPublicKeys(w.hub), payload: utf8('hi') });
    for (let bit = 0; bit < message1.length * 8; bit++) {
      const expected: CryptoErrorCode = bit >= 8 ? 'tampered' : bit >= 4 ? 'unsupported' : 'malformed';
      expectCryptoError(() => acceptSession({ hub: w.hub, message1: flipBit(message1, bit), lookupDevice: w.lookupDevice }), expected);
    }
    expect(w.lookups).toHaveLength(0);
  });

  it('a flipped bit anywhere in message 2 is refused (tampered past the header byte)', () => {
    const w = world();
    const bits = 8 * (1 + 32 + 16 + 2);
    for (let bit = 0; bit < bits; bit++) {
      const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
      const { message2 } = acceptSession({ hub: w.hub, message1: started.message1, lookupDevice: w.lookupDevice }).respond(utf8('ok'));
      expect(message2.length * 8).toBe(bits);
      const expected: CryptoErrorCode = bit >= 8 ? 'tampered' : bit >= 4 ? 'unsupported' : 'malformed';
      expectCryptoError(() => started.finish(flipBit(message2, bit)), expected);
    }
  });

  it('handshake messages are used once: finish and respond cannot run twice', () => {
    const w = world();
    const started = startSession({ device: w.device, hub: hubPublicKeys(w.hub) });
    const accepted = acceptSession({ hub: w.hub, message1: started.message1, lookupDevice: w.lookupDevice });
    const { message2 } = accepted.respond();
    expectCryptoError(() => accepted.respond(), 'malformed');
    started.finish(message2);
    expectCryptoError(() => started.finish(message2), 'malformed');
  });

  it('refuses oversized payloads and bad hub keys', () => {
    const w = world();
    expectCryptoError(() => startSession({ device: w.device, hub: hubPublicKeys(w.hub), payload: new Uint8Array(MAX_MESSAGE1_PAYLOAD + 1) }), 'malformed');
    const biggest = startSession({ device: w.device, hub: hubPublicKeys(w.hub), payload: new Uint8Array(MAX_MESSAGE1_PAYLOAD) });
    expect(biggest.message1.length).toBe(1 + 65535);
    expect(acceptSession({ hub: w.hub, message1: biggest.message1, lookupDevice: w.lookupDevice }).payload.length).toBe(MAX_MESSAGE1_PAYLOAD);
    expectCryptoError(() => startSession({ device: w.device, hub: { ...hubPublicKeys(w.hub), pqKey: new Uint8Array(10) } }), 'malformed');
    expectCryptoError(() => startSession({ device: w.device, hub: { ...hubPublicKeys(w.hub), hubId: new Uint8Array(15) } }), 'malformed');
  });
});

describe('session transport', () => {
  it('accepts reordered messages once each; duplicates and too-old ones are replayed', () => {
    const w = world();
    const { phoneSession, hubSession } = connect(w);
    const sealed = Array.from({ length: 6 }, (_, i) => phoneSession.seal(utf8(`m${i}`)));
    for (const i of [3, 0, 5, 1, 4, 2]) expect(text(hubSession.open(sealed[i] as Uint8Array))).toBe(`m${i}`);
    for (const m of sealed) expectCryptoError(() => hubSession.open(m), 'replayed');

    // A message that fell behind the 1024-wide window is refused even though it never arrived.
    const late = phoneSession.seal(utf8('late'));
    let last = late;
    for (let i = 0; i < 1100; i++) last = phoneSession.seal(utf8('x'));
    hubSession.open(last);
    expectCryptoError(() => hubSession.open(late), 'replayed');
  });

  it('a flipped bit anywhere is refused; the real message still opens afterwards', () => {
    const w = world();
    const { phoneSession, hubSession } = connect(w);
    const sealed = phoneSession.seal(utf8('pan left'));
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      // The session tag (bytes 1-4) names no session of the hub's: not for it; past it, tampered.
      const expected: CryptoErrorCode = bit >= 40 ? 'tampered' : bit >= 8 ? 'not-for-me' : bit >= 4 ? 'unsupported' : 'malformed';
      expectCryptoError(() => hubSession.open(flipBit(sealed, bit)), expected);
    }
    expect(text(hubSession.open(sealed))).toBe('pan left'); // forgeries did not move the window
  });

  it('a message sealed in session A does not open in session B, nor in its own direction', () => {
    const w = world();
    const a = connect(w);
    const b = connect(w);
    expectCryptoError(() => b.hubSession.open(a.phoneSession.seal(utf8('a'))), 'not-for-me');
    // Reflection: the phone's own message sent back to it.
    expectCryptoError(() => a.phoneSession.open(a.phoneSession.seal(utf8('mirror'))), 'tampered');
  });

  it('truncated and arbitrary transport messages throw only CryptoError', () => {
    const w = world();
    const { phoneSession, hubSession } = connect(w);
    const sealed = phoneSession.seal(utf8('snapshot'));
    for (let n = 0; n < sealed.length; n++) {
      const e = expectCryptoError(() => hubSession.open(sealed.subarray(0, n)), n < 29 ? 'malformed' : 'tampered');
      expect(e.where).toMatch(/^session\.open\(hub/);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          hubSession.open(bytes);
          return false;
        } catch (e) {
          return e instanceof CryptoError;
        }
      }),
      { numRuns: 500 },
    );
    expect(text(hubSession.open(sealed))).toBe('snapshot');
  });

  it('acceptSession on arbitrary bytes throws only CryptoError, quickly', () => {
    const w = world();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), fc.boolean(), (bytes, withHeader) => {
        const message1 = withHeader ? concat(u8(0x11), bytes) : bytes;
        const start = performance.now();
        try {
          acceptSession({ hub: w.hub, message1, lookupDevice: w.lookupDevice });
          return false;
        } catch (e) {
          if (!(e instanceof CryptoError)) throw e;
        }
        expect(performance.now() - start).toBeLessThan(250);
        return true;
      }),
      { numRuns: 300 },
    );
    expect(w.lookups).toHaveLength(0);
  });

  it('refuses oversized plaintexts and any use after close', () => {
    const w = world();
    const { phoneSession, hubSession } = connect(w);
    expectCryptoError(() => phoneSession.seal(new Uint8Array(MAX_SESSION_PLAINTEXT + 1)), 'malformed');
    const big = phoneSession.seal(new Uint8Array(MAX_SESSION_PLAINTEXT));
    expect(hubSession.open(big).length).toBe(MAX_SESSION_PLAINTEXT);
    const pending = phoneSession.seal(utf8('after'));
    hubSession.close();
    expectCryptoError(() => hubSession.open(pending), 'expired');
    expectCryptoError(() => hubSession.seal(utf8('x')), 'expired');
  });

  it('shows no key material through inspect, String or JSON', () => {
    const w = world();
    const { phoneSession, hubSession } = connect(w);
    expect(inspect(phoneSession, { showHidden: true, depth: Infinity })).toBe('[vigil Session phone]');
    expect(String(hubSession)).toBe('[vigil Session hub]');
    expect(JSON.stringify({ session: phoneSession })).toBe('{"session":"[vigil Session phone]"}');
    const nested = inspect({ s: hubSession, list: [phoneSession] }, { showHidden: true, depth: Infinity });
    expect(nested).not.toMatch(/\d+, \d+, \d+/);
    expect(Object.keys(phoneSession)).toEqual(['role']);
    expect(phoneSession).toBeInstanceOf(Session);
    expect(sessionHeaderByte(SessionMessageType.TRANSPORT)).toBe(0x13);
  });
});
