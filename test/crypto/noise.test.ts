// crypto/noise.ts: the cacophony vectors for every pattern Vigil implements, then attacks on the
// handshake (bit flips, wrong keys, wrong PSK, truncation, misuse) and random input.
import { inspect } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { CryptoError, isCryptoError } from '../../crypto/errors.ts';
import type { CryptoErrorCode } from '../../crypto/errors.ts';
import type { KeyPair } from '../../crypto/identity.ts';
import {
  CipherState,
  HandshakeState,
  MAX_MESSAGE_LEN,
  MAX_NONCE,
  NOISE_PATTERNS,
  createHandshake,
  hkdf,
  hmacBlake2b,
  protocolName,
} from '../../crypto/noise.ts';
import type { HandshakeOptions, NoisePattern } from '../../crypto/noise.ts';
import { createHandshakeWithFixedEphemeral } from '../../crypto/noise.testing.ts';
import { Secret } from '../../crypto/secret.ts';
import { cryptoReady, sodium } from '../../crypto/sodium.ts';
import { readVectorText, requireVectors, vectorPath } from '../support/vectors.ts';

beforeAll(async () => {
  await cryptoReady();
});

function keyPairFromPrivate(privateKey: Uint8Array): KeyPair {
  return { publicKey: sodium().crypto_scalarmult_base(privateKey), privateKey: new Secret(privateKey, 'test static key') };
}

function randomKeyPair(): KeyPair {
  const kp = sodium().crypto_box_keypair();
  return { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, 'test static key') };
}

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

// ----------------------------------------------------------------------------------------------
// Cacophony vectors

interface CacophonyVector {
  protocol_name: string;
  init_prologue: string;
  init_psks?: string[];
  init_static?: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue: string;
  resp_psks?: string[];
  resp_static?: string;
  resp_ephemeral?: string;
  resp_remote_static?: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const SUITE_SUFFIX = '_25519_ChaChaPoly_BLAKE2b';
const CACOPHONY = ['cacophony', 'cacophony.txt'] as const;
const haveCacophony = requireVectors('Noise cacophony vectors (crypto/noise.ts)', ...CACOPHONY);

function handshakeFor(v: CacophonyVector, pattern: NoisePattern, initiator: boolean): HandshakeState {
  const side = initiator ? 'init' : 'resp';
  const staticHex = v[`${side}_static`];
  const remoteHex = v[`${side}_remote_static`];
  const psk = v[`${side}_psks`]?.[0];
  const ephemeral = v[`${side}_ephemeral`];
  if (ephemeral === undefined) throw new Error(`${v.protocol_name}: no ${side}_ephemeral`);
  return createHandshakeWithFixedEphemeral({
    pattern,
    initiator,
    prologue: fromHex(v[`${side}_prologue`]),
    ...(staticHex === undefined ? {} : { staticKeyPair: keyPairFromPrivate(fromHex(staticHex)) }),
    ...(remoteHex === undefined ? {} : { remoteStatic: fromHex(remoteHex) }),
    ...(psk === undefined ? {} : { psk: fromHex(psk) }),
    ephemeralPrivateKey: fromHex(ephemeral),
  });
}

describe.skipIf(!haveCacophony)(`cacophony vectors from ${vectorPath(...CACOPHONY)}`, () => {
  const vectors: CacophonyVector[] = haveCacophony
    ? (JSON.parse(readVectorText(...CACOPHONY)) as { vectors: CacophonyVector[] }).vectors
    : [];
  const patterns = Object.keys(NOISE_PATTERNS) as NoisePattern[];

  it('has an entry for every pattern implemented here', () => {
    for (const pattern of patterns) {
      expect(vectors.filter((v) => v.protocol_name === protocolName(pattern)), pattern).toHaveLength(1);
    }
    expect(protocolName('IKpsk2')).toBe(`Noise_IKpsk2${SUITE_SUFFIX}`);
  });

  for (const pattern of patterns) {
    it(`${protocolName(pattern)}: handshake hash, every handshake and transport message`, () => {
      const v = vectors.find((x) => x.protocol_name === protocolName(pattern));
      expect(v, `vector ${protocolName(pattern)}`).toBeDefined();
      if (v === undefined) return;
      expect(v.messages.length).toBeGreaterThan(NOISE_PATTERNS[pattern].messages.length);
      const initiator = handshakeFor(v, pattern, true);
      const responder = handshakeFor(v, pattern, false);
      let transport: { init: ReturnType<HandshakeState['split']>; resp: ReturnType<HandshakeState['split']> } | undefined;
      v.messages.forEach((m, i) => {
        const fromInitiator = i % 2 === 0;
        const payload = fromHex(m.payload);
        if (transport === undefined) {
          const [sender, receiver] = fromInitiator ? [initiator, responder] : [responder, initiator];
          const ciphertext = sender.writeMessage(payload);
          expect(toHex(ciphertext), `${pattern} handshake message ${i}`).toBe(m.ciphertext);
          expect(toHex(receiver.readMessage(ciphertext))).toBe(m.payload);
          if (initiator.isComplete) {
            expect(responder.isComplete).toBe(true);
            expect(toHex(initiator.handshakeHash)).toBe(v.handshake_hash);
            expect(toHex(responder.handshakeHash)).toBe(v.handshake_hash);
            if (v.init_remote_static === undefined) {
              expect(toHex(initiator.remoteStaticKey ?? new Uint8Array())).toBe(toHex(keyPairFromPrivate(fromHex(v.resp_static ?? '')).publicKey));
            }
            expect(toHex(responder.remoteStaticKey ?? new Uint8Array())).toBe(toHex(keyPairFromPrivate(fromHex(v.init_static ?? '')).publicKey));
            transport = { init: initiator.split(), resp: responder.split() };
          }
        } else {
          const sender = fromInitiator ? transport.init.send : transport.resp.send;
          const receiver = fromInitiator ? transport.resp.receive : transport.init.receive;
          const ciphertext = sender.encryptWithAd(new Uint8Array(0), payload);
          expect(toHex(ciphertext), `${pattern} transport message ${i}`).toBe(m.ciphertext);
          expect(toHex(receiver.decryptWithAd(new Uint8Array(0), ciphertext))).toBe(m.payload);
        }
      });
      expect(transport, 'handshake completed within the vector').toBeDefined();
    });
  }
});

// ----------------------------------------------------------------------------------------------
// Attacks and misuse

interface Pair {
  initiator: HandshakeState;
  responder: HandshakeState;
  initiatorStatic: KeyPair;
  responderStatic: KeyPair;
}

const PROLOGUE = new TextEncoder().encode('noise test prologue');

function ikPair(pattern: 'IK' | 'IKpsk2', overrides: { initiator?: Partial<HandshakeOptions>; responder?: Partial<HandshakeOptions> } = {}): Pair {
  const initiatorStatic = randomKeyPair();
  const responderStatic = randomKeyPair();
  const psk = pattern === 'IKpsk2' ? { psk: new Uint8Array(32).fill(7) } : {};
  return {
    initiatorStatic,
    responderStatic,
    initiator: createHandshake({
      pattern,
      initiator: true,
      prologue: PROLOGUE,
      staticKeyPair: initiatorStatic,
      remoteStatic: responderStatic.publicKey,
      ...psk,
      ...overrides.initiator,
    }),
    responder: createHandshake({ pattern, initiator: false, prologue: PROLOGUE, staticKeyPair: responderStatic, ...psk, ...overrides.responder }),
  };
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return out;
}

describe.each(['IK', 'IKpsk2'] as const)('Noise %s handshake', (pattern) => {
  it('completes with payloads both ways and agrees on keys and hash', () => {
    const { initiator, responder, initiatorStatic, responderStatic } = ikPair(pattern);
    const m1 = initiator.writeMessage(new TextEncoder().encode('hello hub'));
    expect(new TextDecoder().decode(responder.readMessage(m1))).toBe('hello hub');
    expect(toHex(responder.remoteStaticKey ?? new Uint8Array())).toBe(toHex(initiatorStatic.publicKey));
    const m2 = responder.writeMessage(new TextEncoder().encode('hello phone'));
    expect(new TextDecoder().decode(initiator.readMessage(m2))).toBe('hello phone');
    expect(toHex(initiator.remoteStaticKey ?? new Uint8Array())).toBe(toHex(responderStatic.publicKey));
    expect(toHex(initiator.handshakeHash)).toBe(toHex(responder.handshakeHash));
    const a = initiator.split();
    const b = responder.split();
    const c = a.send.encryptWithAd(new Uint8Array(0), Uint8Array.of(1, 2, 3));
    expect([...b.receive.decryptWithAd(new Uint8Array(0), c)]).toEqual([1, 2, 3]);
    const d = b.send.encryptWithAd(new Uint8Array(0), Uint8Array.of(4));
    expect([...a.receive.decryptWithAd(new Uint8Array(0), d)]).toEqual([4]);
  });

  it('a flipped bit anywhere in message 1 is tampered', () => {
    const sample = ikPair(pattern).initiator.writeMessage(Uint8Array.of(9, 9));
    for (let bit = 0; bit < sample.length * 8; bit++) {
      const { initiator, responder } = ikPair(pattern);
      const m1 = initiator.writeMessage(Uint8Array.of(9, 9));
      expectCryptoError(() => responder.readMessage(flipBit(m1, bit)), 'tampered');
    }
  });

  it('a flipped bit anywhere in message 2 is tampered', () => {
    let bits = 0;
    for (let bit = 0; bits === 0 || bit < bits; bit++) {
      const { initiator, responder } = ikPair(pattern);
      responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
      const m2 = responder.writeMessage(Uint8Array.of(5));
      bits = m2.length * 8;
      expectCryptoError(() => initiator.readMessage(flipBit(m2, bit)), 'tampered');
    }
  });

  it('an initiator that expects another responder static key fails at the responder', () => {
    const { initiator, responder } = ikPair(pattern, { initiator: { remoteStatic: randomKeyPair().publicKey } });
    expectCryptoError(() => responder.readMessage(initiator.writeMessage(new Uint8Array(0))), 'tampered');
  });

  it('an impostor responder (other static key) cannot answer', () => {
    const { initiator } = ikPair(pattern);
    const impostor = createHandshake({
      pattern,
      initiator: false,
      prologue: PROLOGUE,
      staticKeyPair: randomKeyPair(),
      ...(pattern === 'IKpsk2' ? { psk: new Uint8Array(32).fill(7) } : {}),
    });
    expectCryptoError(() => impostor.readMessage(initiator.writeMessage(new Uint8Array(0))), 'tampered');
  });

  it('a different prologue fails', () => {
    const { initiator, responder } = ikPair(pattern, { responder: { prologue: new TextEncoder().encode('noise test prologuf') } });
    expectCryptoError(() => responder.readMessage(initiator.writeMessage(new Uint8Array(0))), 'tampered');
  });

  it('every truncation of either message fails with malformed or tampered', () => {
    const payload = Uint8Array.of(1, 2, 3, 4);
    const pair = ikPair(pattern);
    const m1 = pair.initiator.writeMessage(payload);
    const m1Min = m1.length - payload.length;
    for (let n = 0; n < m1.length; n++) {
      // A failed read aborts a handshake, so each truncation goes to a fresh responder (same static key).
      const responder = createHandshake({
        pattern,
        initiator: false,
        prologue: PROLOGUE,
        staticKeyPair: pair.responderStatic,
        ...(pattern === 'IKpsk2' ? { psk: new Uint8Array(32).fill(7) } : {}),
      });
      expectCryptoError(() => responder.readMessage(m1.subarray(0, n)), n < m1Min ? 'malformed' : 'tampered');
    }
    let m2Length = 0;
    for (let n = 0; m2Length === 0 || n < m2Length; n++) {
      const fresh = ikPair(pattern);
      fresh.responder.readMessage(fresh.initiator.writeMessage(new Uint8Array(0)));
      const m2 = fresh.responder.writeMessage(payload);
      m2Length = m2.length;
      expectCryptoError(() => fresh.initiator.readMessage(m2.subarray(0, n)), n < m2.length - payload.length ? 'malformed' : 'tampered');
    }
  });

  it('refuses calls out of order and any use after a failure', () => {
    const { initiator, responder } = ikPair(pattern);
    expectCryptoError(() => initiator.readMessage(new Uint8Array(200)), 'malformed');
    expectCryptoError(() => responder.writeMessage(new Uint8Array(0)), 'malformed');
    expectCryptoError(() => initiator.split(), 'malformed');
    expectCryptoError(() => initiator.handshakeHash, 'malformed');
    const m1 = initiator.writeMessage(new Uint8Array(0));
    expectCryptoError(() => initiator.writeMessage(new Uint8Array(0)), 'malformed');
    responder.readMessage(m1);
    expectCryptoError(() => responder.readMessage(m1), 'malformed');
    const m2 = responder.writeMessage(new Uint8Array(0));
    expectCryptoError(() => responder.writeMessage(new Uint8Array(0)), 'malformed');
    initiator.readMessage(m2);
    expectCryptoError(() => initiator.readMessage(m2), 'malformed');
    initiator.split();
    expectCryptoError(() => initiator.split(), 'malformed');

    const failed = ikPair(pattern);
    const good = failed.initiator.writeMessage(new Uint8Array(0));
    expectCryptoError(() => failed.responder.readMessage(flipBit(good, 100)), 'tampered');
    expectCryptoError(() => failed.responder.readMessage(good), 'malformed');
  });

  it('refuses oversized messages and payloads; the largest allowed one round-trips', () => {
    const { initiator, responder } = ikPair(pattern);
    const overhead = 32 + (32 + 16) + 16; // e, encrypted s, payload tag
    expectCryptoError(() => initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LEN - overhead + 1)), 'malformed');
    const m1 = initiator.writeMessage(new Uint8Array(MAX_MESSAGE_LEN - overhead).fill(3));
    expect(m1.length).toBe(MAX_MESSAGE_LEN);
    expect(responder.readMessage(m1).length).toBe(MAX_MESSAGE_LEN - overhead);
    const other = ikPair(pattern);
    expectCryptoError(() => other.responder.readMessage(new Uint8Array(MAX_MESSAGE_LEN + 1)), 'malformed');
  });

  it('refuses a low-order remote key (all-zero DH output)', () => {
    expectCryptoError(() => ikPair(pattern, { initiator: { remoteStatic: new Uint8Array(32) } }).initiator.writeMessage(new Uint8Array(0)), 'malformed');
    const { initiator, responder } = ikPair(pattern);
    const m1 = initiator.writeMessage(new Uint8Array(0));
    m1.fill(0, 0, 32); // ephemeral = the all-zero point (order 4)
    expectCryptoError(() => responder.readMessage(m1), 'malformed');
  });

  it('readMessage on arbitrary bytes throws only CryptoError, quickly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, asMessage2) => {
        const { initiator, responder } = ikPair(pattern);
        const start = performance.now();
        let target = responder;
        if (asMessage2) {
          responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
          target = initiator;
        }
        try {
          target.readMessage(bytes);
          return false; // random bytes never authenticate
        } catch (e) {
          if (!(e instanceof CryptoError)) throw e;
        }
        expect(performance.now() - start).toBeLessThan(250);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('Noise IKpsk2 PSK handling', () => {
  it('a wrong PSK on either side fails at message 2', () => {
    const { initiator, responder } = ikPair('IKpsk2', { responder: { psk: new Uint8Array(32).fill(8) } });
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    expectCryptoError(() => initiator.readMessage(responder.writeMessage(new Uint8Array(0))), 'tampered');
  });

  it('the responder may set the PSK after reading message 1, not after using it', () => {
    const { initiator, responder } = ikPair('IKpsk2', { responder: { psk: undefined } });
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    expectCryptoError(() => responder.writeMessage(new Uint8Array(0)), 'malformed'); // psk not set yet
    expectCryptoError(() => responder.setPsk(new Uint8Array(31)), 'malformed');
    responder.setPsk(new Uint8Array(32).fill(7));
    expectCryptoError(() => responder.setPsk(new Uint8Array(32).fill(7)), 'malformed');
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)));
    expect(toHex(initiator.handshakeHash)).toBe(toHex(responder.handshakeHash));
  });

  it('IK takes no PSK', () => {
    expectCryptoError(() => ikPair('IK', { initiator: { psk: new Uint8Array(32) } }), 'malformed');
    expectCryptoError(() => ikPair('IK').responder.setPsk(new Uint8Array(32)), 'malformed');
  });
});

describe('Noise options and test-only hooks', () => {
  it('checks the keys each pattern needs', () => {
    const s = randomKeyPair();
    expectCryptoError(() => createHandshake({ pattern: 'IK', initiator: true, prologue: PROLOGUE, staticKeyPair: s }), 'malformed');
    expectCryptoError(() => createHandshake({ pattern: 'IK', initiator: false, prologue: PROLOGUE }), 'malformed');
    expectCryptoError(
      () => createHandshake({ pattern: 'IK', initiator: false, prologue: PROLOGUE, staticKeyPair: s, remoteStatic: s.publicKey }),
      'malformed',
    );
    expectCryptoError(
      () => createHandshake({ pattern: 'IK', initiator: true, prologue: PROLOGUE, staticKeyPair: s, remoteStatic: new Uint8Array(31) }),
      'malformed',
    );
    expectCryptoError(() => createHandshake({ pattern: 'XY' as NoisePattern, initiator: true, prologue: PROLOGUE }), 'unsupported');
  });

  it('fixed ephemerals are refused outside a test runner', () => {
    const saved = { VITEST: process.env['VITEST'], NODE_ENV: process.env['NODE_ENV'] };
    delete process.env['VITEST'];
    process.env['NODE_ENV'] = 'production';
    try {
      const options = { pattern: 'XX' as const, initiator: true, prologue: PROLOGUE, staticKeyPair: randomKeyPair() };
      expectCryptoError(() => createHandshakeWithFixedEphemeral({ ...options, ephemeralPrivateKey: new Uint8Array(32).fill(1) }), 'forbidden');
      expectCryptoError(() => new HandshakeState(options, { fixedEphemeral: new Uint8Array(32).fill(1) }), 'forbidden');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('shows no key material through inspect, String or JSON', () => {
    const { initiator, responder } = ikPair('IKpsk2');
    responder.readMessage(initiator.writeMessage(new Uint8Array(0)));
    initiator.readMessage(responder.writeMessage(new Uint8Array(0)));
    const { send } = initiator.split();
    for (const text of [inspect(send, { showHidden: true, depth: 10 }), String(send), JSON.stringify({ send }), inspect(responder, { showHidden: true })]) {
      expect(text).not.toMatch(/[0-9a-f]{16}/);
      expect(text).not.toMatch(/\d+, \d+, \d+/);
    }
  });
});

describe('CipherState', () => {
  it('refuses the reserved nonce 2^64-1 and anything past it', () => {
    const a = new CipherState(new Uint8Array(32).fill(1));
    const b = new CipherState(new Uint8Array(32).fill(1));
    a.setNonce(MAX_NONCE - 1n);
    b.setNonce(MAX_NONCE - 1n);
    const last = a.encryptWithAd(new Uint8Array(0), Uint8Array.of(1));
    expect([...b.decryptWithAd(new Uint8Array(0), last)]).toEqual([1]);
    expectCryptoError(() => a.encryptWithAd(new Uint8Array(0), Uint8Array.of(1)), 'expired');
    expectCryptoError(() => a.encryptAt(MAX_NONCE, new Uint8Array(0), Uint8Array.of(1)), 'expired');
    expectCryptoError(() => a.setNonce(MAX_NONCE), 'expired');
  });

  it('does not advance the nonce on an authentication failure', () => {
    const a = new CipherState(new Uint8Array(32).fill(2));
    const b = new CipherState(new Uint8Array(32).fill(2));
    const c = a.encryptWithAd(Uint8Array.of(1), Uint8Array.of(7));
    expectCryptoError(() => b.decryptWithAd(Uint8Array.of(2), c), 'tampered');
    expect(b.nonce).toBe(0n);
    expect([...b.decryptWithAd(Uint8Array.of(1), c)]).toEqual([7]);
    expect(b.nonce).toBe(1n);
    expectCryptoError(() => b.decryptWithAd(Uint8Array.of(1), new Uint8Array(15)), 'malformed');
  });

  it('rekey moves both sides to the same new key', () => {
    const a = new CipherState(new Uint8Array(32).fill(3));
    const b = new CipherState(new Uint8Array(32).fill(3));
    a.rekey();
    const c = a.encryptAt(5n, new Uint8Array(0), Uint8Array.of(1));
    expectCryptoError(() => b.decryptAt(5n, new Uint8Array(0), c), 'tampered');
    b.rekey();
    expect([...b.decryptAt(5n, new Uint8Array(0), c)]).toEqual([1]);
  });

  it('HMAC-BLAKE2b and HKDF are deterministic and key-separated', () => {
    const k1 = hmacBlake2b(new Uint8Array(64).fill(1), Uint8Array.of(1));
    expect(toHex(k1)).toBe(toHex(hmacBlake2b(new Uint8Array(64).fill(1), Uint8Array.of(1))));
    expect(toHex(k1)).not.toBe(toHex(hmacBlake2b(new Uint8Array(64).fill(2), Uint8Array.of(1))));
    const [a, b, c] = hkdf(new Uint8Array(64), new Uint8Array(32), 3);
    expect(a?.length).toBe(64);
    expect(toHex(a ?? new Uint8Array())).not.toBe(toHex(b ?? new Uint8Array()));
    expect(toHex(b ?? new Uint8Array())).not.toBe(toHex(c ?? new Uint8Array()));
  });
});
