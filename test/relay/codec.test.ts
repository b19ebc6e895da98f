import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CAPABILITY_BYTES,
  CAPABILITY_LABEL,
  LOGIN_LABEL,
  MESSAGE_TYPES,
  PUBLISH_HEADER_BYTES,
  RELAY_ERROR_CODES,
  RelayProtocolError,
  capabilitySigningMessage,
  decodeCapability,
  decodeClientMessage,
  decodeMessage,
  decodeServerMessage,
  encodeCapability,
  encodeMessage,
  loginMessage,
  relayErrorCodeFromNumber,
  signCapability,
  writePublishHeader,
  type RelayMessage,
} from '../../relay/codec.ts';

const fill = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const A = fill(32, 0xaa);
const B = fill(32, 0xbb);
const T = fill(16, 0x77);
const SIG = fill(64, 0x55);
const cap = { hubRelayId: A, deviceRelayId: B, rights: 3, expiresAt: 1_700_000_000, signature: SIG };

const samples: RelayMessage[] = [
  { type: 'login', publicKey: A, signature: SIG },
  { type: 'grant', requestId: 1, capability: cap },
  { type: 'revoke', requestId: 2, deviceRelayId: B },
  { type: 'mailbox-open', requestId: 3, mailboxId: T, expiresAt: 2 ** 53 - 1 },
  { type: 'mailbox-close', requestId: 4, mailboxId: T },
  { type: 'mailbox-post', requestId: 5, mailboxId: T, payload: new Uint8Array([1, 2, 3]) },
  { type: 'send', requestId: 6, to: B, payload: new Uint8Array(0) },
  { type: 'publish', requestId: 0, topicId: T, flags: 3, payload: fill(300, 9) },
  { type: 'subscribe', requestId: 0xffff_ffff, hubRelayId: A, topicId: T },
  { type: 'unsubscribe', requestId: 8, hubRelayId: A, topicId: T },
  { type: 'ping', requestId: 9 },
  { type: 'challenge', nonce: A, connectionId: T },
  { type: 'ready', relayId: A, maxMessageBytes: 4 * 1024 * 1024 },
  { type: 'ok', requestId: 10 },
  { type: 'error', requestId: 11, code: 'no-capability' },
  { type: 'message', from: A, payload: new Uint8Array([0xff]) },
  { type: 'mailbox-message', mailboxId: T, from: B, payload: new Uint8Array([4]) },
  { type: 'media', hubRelayId: A, topicId: T, flags: 1, dropped: 7, payload: new Uint8Array([5, 6]) },
  { type: 'watchers', topicId: T, count: 2 },
  { type: 'unsubscribed', hubRelayId: A, topicId: T, code: 'expired' },
  { type: 'pong', requestId: 12 },
];

describe('relay codec', () => {
  it('covers every message type', () => {
    expect(new Set(samples.map((m) => m.type))).toEqual(new Set(Object.keys(MESSAGE_TYPES)));
  });

  it.each(samples.map((m) => [m.type, m] as const))('round-trips %s', (_type, m) => {
    const bytes = encodeMessage(m);
    expect(decodeMessage(bytes)).toEqual(m);
    expect(encodeMessage(decodeMessage(bytes))).toEqual(bytes);
    // Every byte is needed and none may follow.
    expect(() => decodeMessage(bytes.subarray(0, bytes.length - 1))).toThrow(RelayProtocolError);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeMessage(longer)).toThrow(expect.objectContaining({ code: 'trailing-bytes' }));
  });

  it('splits directions', () => {
    for (const m of samples) {
      const bytes = encodeMessage(m);
      const fromClient = MESSAGE_TYPES[m.type] < 0x40;
      if (fromClient) {
        expect(decodeClientMessage(bytes).type).toBe(m.type);
        expect(() => decodeServerMessage(bytes)).toThrow(expect.objectContaining({ code: 'wrong-direction' }));
      } else {
        expect(decodeServerMessage(bytes).type).toBe(m.type);
        expect(() => decodeClientMessage(bytes)).toThrow(expect.objectContaining({ code: 'wrong-direction' }));
      }
    }
  });

  it('matches the byte-exact fixtures of README.md', () => {
    expect(hex(encodeMessage({ type: 'ping', requestId: 0x01020304 }))).toBe('010b01020304');
    expect(hex(encodeMessage({ type: 'error', requestId: 7, code: 'offline' }))).toBe('01430000000710' + '05');
    expect(hex(encodeMessage({ type: 'watchers', topicId: T, count: 2 }))).toBe('0147' + '77'.repeat(16) + '00000002');
    expect(hex(encodeMessage({ type: 'send', requestId: 1, to: B, payload: new Uint8Array([0xde, 0xad]) }))).toBe(
      '0107' + '00000001' + 'bb'.repeat(32) + '00000002' + 'dead',
    );
    expect(hex(encodeMessage({ type: 'publish', requestId: 0, topicId: T, flags: 1, payload: new Uint8Array([9]) }))).toBe(
      '0108' + '00000000' + '77'.repeat(16) + '01' + '00000001' + '09',
    );
    expect(hex(encodeCapability(cap))).toBe('aa'.repeat(32) + 'bb'.repeat(32) + '03' + '000000006553f100' + '55'.repeat(64));
    expect(encodeCapability(cap).length).toBe(CAPABILITY_BYTES);
    expect(decodeCapability(encodeCapability(cap))).toEqual(cap);
  });

  it('signs labelled messages', () => {
    const enc = (s: string) => hex(new TextEncoder().encode(s));
    expect(LOGIN_LABEL).toBe('vigil relay login v1');
    expect(CAPABILITY_LABEL).toBe('vigil relay capability v1');
    expect(hex(loginMessage(A, T, 'Relay.Example:8443'))).toBe(
      enc(LOGIN_LABEL) + 'aa'.repeat(32) + '77'.repeat(16) + '12' + enc('relay.example:8443'),
    );
    expect(hex(capabilitySigningMessage(cap))).toBe(
      enc(CAPABILITY_LABEL) + 'aa'.repeat(32) + 'bb'.repeat(32) + '03' + '000000006553f100',
    );
    const signed = signCapability(cap, (m) => {
      expect(m).toEqual(capabilitySigningMessage(cap));
      return SIG;
    });
    expect(signed).toEqual(cap);
    expect(() => signCapability(cap, () => new Uint8Array(10))).toThrow(RelayProtocolError);
    expect(() => loginMessage(A, T, '')).toThrow(RelayProtocolError);
    expect(() => loginMessage(A, T, 'x'.repeat(256))).toThrow(RelayProtocolError);
  });

  it('rejects what is not canonical', () => {
    const code = (b: Uint8Array) => {
      try {
        decodeMessage(b);
        return 'decoded';
      } catch (e) {
        expect(e).toBeInstanceOf(RelayProtocolError);
        return (e as RelayProtocolError).code;
      }
    };
    expect(code(new Uint8Array([]))).toBe('truncated');
    expect(code(new Uint8Array([2, 0x0b, 0, 0, 0, 0]))).toBe('unsupported-version');
    expect(code(new Uint8Array([1, 0x3f]))).toBe('unknown-type');
    // u64 past 2^53-1
    const open = encodeMessage({ type: 'mailbox-open', requestId: 1, mailboxId: T, expiresAt: 5 });
    open[2 + 4 + 16] = 0x00;
    open[2 + 4 + 16 + 1] = 0x20;
    expect(code(open)).toBe('bad-value');
    // unknown rights and flag bits, zero rights
    const grant = encodeMessage({ type: 'grant', requestId: 1, capability: cap });
    grant[2 + 4 + 64] = 4;
    expect(code(grant)).toBe('bad-value');
    grant[2 + 4 + 64] = 0;
    expect(code(grant)).toBe('bad-value');
    const pub = encodeMessage({ type: 'publish', requestId: 0, topicId: T, flags: 0, payload: new Uint8Array(1) });
    pub[2 + 4 + 16] = 0x80;
    expect(code(pub)).toBe('bad-value');
    // unknown error code number
    const err = encodeMessage({ type: 'error', requestId: 1, code: 'offline' });
    err[7] = 0xff;
    expect(code(err)).toBe('bad-value');
    // a payload length that runs past the end
    const send = encodeMessage({ type: 'send', requestId: 1, to: B, payload: new Uint8Array(2) });
    send[2 + 4 + 32 + 3] = 3;
    expect(code(send)).toBe('truncated');
    // encoding refuses bad values too
    expect(() => encodeMessage({ type: 'revoke', requestId: 1, deviceRelayId: new Uint8Array(31) })).toThrow(RelayProtocolError);
    expect(() => encodeMessage({ type: 'ping', requestId: -1 })).toThrow(RelayProtocolError);
    expect(() => encodeMessage({ type: 'mailbox-open', requestId: 1, mailboxId: T, expiresAt: 2 ** 53 })).toThrow(
      RelayProtocolError,
    );
  });

  it('writes a publish header in place with the bytes encodeMessage makes', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 300 }), fc.nat(40),
      (topicId, flags, payload, offset) => {
        const buffer = new Uint8Array(offset + PUBLISH_HEADER_BYTES + payload.length + 7).fill(0xee);
        const message = buffer.subarray(offset, offset + PUBLISH_HEADER_BYTES + payload.length);
        message.set(payload, PUBLISH_HEADER_BYTES);
        writePublishHeader(message, topicId, flags);
        expect(Buffer.from(message).equals(encodeMessage({ type: 'publish', requestId: 0, topicId, flags, payload }))).toBe(true);
        expect(decodeClientMessage(message)).toEqual({ type: 'publish', requestId: 0, topicId, flags, payload });
      },
    ));
    const room = new Uint8Array(PUBLISH_HEADER_BYTES + 1);
    expect(() => writePublishHeader(room, new Uint8Array(15), 0)).toThrow(RelayProtocolError);
    expect(() => writePublishHeader(room, new Uint8Array(16), 0x80)).toThrow(RelayProtocolError);
    expect(() => writePublishHeader(room.subarray(2), new Uint8Array(16), 0)).toThrow(RelayProtocolError);
  });

  it('maps every error code to one number and back', () => {
    const numbers = Object.values(RELAY_ERROR_CODES);
    expect(new Set(numbers).size).toBe(numbers.length);
    for (const [name, n] of Object.entries(RELAY_ERROR_CODES)) {
      expect(n).toBeGreaterThanOrEqual(4000);
      expect(n).toBeLessThan(4200);
      expect(relayErrorCodeFromNumber(n)).toBe(name);
    }
    expect(relayErrorCodeFromNumber(1009)).toBe('too-large');
    expect(relayErrorCodeFromNumber(1000)).toBeUndefined();
  });

  it('decodes any bytes to a message or a RelayProtocolError, quickly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        // CPU time of this process, not wall time: relay and nats-server processes of other test
        // files share the two cores, and being scheduled out is not the decoder being slow.
        const started = process.cpuUsage();
        try {
          const m = decodeMessage(bytes);
          expect(encodeMessage(m)).toEqual(bytes); // canonical: one encoding per value
        } catch (e) {
          expect(e).toBeInstanceOf(RelayProtocolError);
        }
        const spent = process.cpuUsage(started);
        expect((spent.user + spent.system) / 1000).toBeLessThan(50);
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes mutated valid frames to a message or a RelayProtocolError', () => {
    const frames = samples.map(encodeMessage);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: -3, max: 3 }),
        (which, edits, resize) => {
          const original = frames[which] as Uint8Array;
          const bytes = new Uint8Array(Math.max(0, original.length + resize));
          bytes.set(original.subarray(0, bytes.length));
          for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
          try {
            expect(encodeMessage(decodeMessage(bytes))).toEqual(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(RelayProtocolError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
