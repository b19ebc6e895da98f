// crypto/messages.ts: the relay payload envelope and the session message inside SESSION_DATA.
// Round trips, the refusals of docs/PROTOCOL.md §11, and hostile input: any bytes give a value or a
// CryptoError (never another throw), quickly.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cryptoReady } from '../../crypto/sodium.ts';
import { concat, u64be, u8, utf8 } from '../../crypto/bytes.ts';
import {
  Envelope, MAX_ENVELOPE_BYTES, MAX_SESSION_JSON_BYTES, decodeEnvelope, decodeSessionMessage, encodeEnvelope, encodeSessionMessage,
  type EnvelopeKind, type SessionMessage,
} from '../../crypto/messages.ts';
import { outcome } from './kat-support.ts';

beforeAll(async () => {
  await cryptoReady();
});

const KINDS = Object.values(Envelope) as EnvelopeKind[];

describe('envelope', () => {
  it('round-trips every kind', () => {
    fc.assert(fc.property(fc.constantFrom(...KINDS), fc.uint8Array({ maxLength: 200 }), (kind, body) => {
      const back = decodeEnvelope(encodeEnvelope(kind, body));
      expect(back.kind).toBe(kind);
      expect(back.body).toEqual(body);
    }));
  });

  it('refuses empty, oversized and unknown kinds as malformed', () => {
    expect(outcome(() => decodeEnvelope(new Uint8Array(0)))).toBe('malformed');
    expect(outcome(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(Envelope.FRAME)))).toBe('malformed');
    expect(outcome(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES).fill(Envelope.FRAME)))).toBe('success');
    for (let kind = 0; kind < 256; kind++) {
      expect(outcome(() => decodeEnvelope(Uint8Array.of(kind))), `kind ${kind}`).toBe(KINDS.includes(kind as EnvelopeKind) ? 'success' : 'malformed');
    }
  });

  it('any bytes give an envelope or a CryptoError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(['success', 'malformed']).toContain(outcome(() => decodeEnvelope(bytes)));
    }), { numRuns: 3000 });
  });
});

describe('session message', () => {
  const messages: fc.Arbitrary<SessionMessage> = fc.oneof(
    fc.uint8Array({ maxLength: 100 }).map((signed) => ({ kind: 'command', signed }) as const),
    fc.uint8Array({ maxLength: 100 }).map((signed) => ({ kind: 'key-update', signed }) as const),
    fc.record({ seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), ok: fc.boolean(), value: fc.jsonValue() })
      .map((r) => ({ kind: 'result', ...r }) as const),
    fc.constantFrom<SessionMessage>(
      { kind: 'notice', value: { type: 'removed' } },
      { kind: 'notice', value: { type: 'cameras-changed' } },
      { kind: 'notice', value: { type: 'camera-state', camera: 'c1', state: 'error', error: 'no signal' } },
      { kind: 'notice', value: { type: 'paths', lan: ['ws://192.168.1.2:8788/v1'] } },
    ),
  );

  it('round-trips every kind', () => {
    fc.assert(fc.property(messages, (m) => {
      const back = decodeSessionMessage(encodeSessionMessage(m));
      // JSON has no -0 and turns undefined into null; compare through it as the wire does.
      if (m.kind === 'result') expect(back).toEqual({ ...m, value: JSON.parse(JSON.stringify(m.value ?? null)) });
      else expect(back).toEqual(m);
    }));
  });

  it('refuses what docs/PROTOCOL.md §11.2 refuses as malformed', () => {
    const bad = [
      new Uint8Array(0), // no kind
      Uint8Array.of(0), Uint8Array.of(5), Uint8Array.of(255), // unknown kinds
      concat(u8(2), u64be(1n)), // result without ok
      concat(u8(2), u64be(1n), u8(2), utf8('null')), // ok flag 2
      concat(u8(2), u64be(1n), u8(1), utf8('{')), // not JSON
      concat(u8(2), u64be(1n), u8(1), Uint8Array.of(0xc3, 0x28)), // not UTF-8
      concat(u8(2), u64be(1n), u8(1), utf8(JSON.stringify('a'.repeat(MAX_SESSION_JSON_BYTES - 1)))), // JSON over 60,000 bytes
      concat(u8(4), utf8('{"camera":"c1"}')), // notice without type
      concat(u8(4), utf8('{"type":7}')), // type not a string
      concat(u8(4), utf8('null')), concat(u8(4), utf8('"removed"')), concat(u8(4), utf8('[]')),
    ];
    for (const b of bad) expect(outcome(() => decodeSessionMessage(b)), Buffer.from(b.subarray(0, 20)).toString('hex')).toBe('malformed');
    const exactly = concat(u8(2), u64be(1n), u8(1), utf8(JSON.stringify('a'.repeat(MAX_SESSION_JSON_BYTES - 2))));
    expect(outcome(() => decodeSessionMessage(exactly))).toBe('success');
  });

  it('any bytes give a session message or a CryptoError, quickly', () => {
    const started = performance.now();
    const prefixed = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 200 })).map(([k, b]) => concat(u8(k), b));
    const jsonish = fc.tuple(fc.constantFrom(2, 4), fc.string({ maxLength: 100 })).map(([k, s]) => concat(u8(k), k === 2 ? concat(u64be(3n), u8(1)) : new Uint8Array(0), utf8(s)));
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), prefixed, jsonish), (bytes) => {
      expect(['success', 'malformed']).toContain(outcome(() => decodeSessionMessage(bytes)));
    }), { numRuns: 5000 });
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
