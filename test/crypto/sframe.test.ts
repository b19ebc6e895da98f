import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cryptoReady } from '../../crypto/sodium.ts';
import { decodeSframeHeader, encodeSframeHeader, SFRAME_MAX_HEADER_BYTES, SFRAME_MAX_VALUE } from '../../crypto/sframe.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { parseJsonWithBigInts, readVectorText, requireVectors } from '../support/vectors.ts';

beforeAll(async () => {
  await cryptoReady();
});

interface HeaderVector {
  kid: bigint;
  ctr: bigint;
  encoded: string;
}

function loadHeaderVectors(): HeaderVector[] {
  const parsed = parseJsonWithBigInts(readVectorText('sframe', 'test-vectors.json')) as {
    header: { kid: string; ctr: string; encoded: string }[];
  };
  return parsed.header.map((v) => ({ kid: BigInt(v.kid), ctr: BigInt(v.ctr), encoded: v.encoded }));
}

const haveRfcVectors = requireVectors('RFC 9605 SFrame header vectors', 'sframe', 'test-vectors.json');

describe.skipIf(!haveRfcVectors)('RFC 9605 header vectors (../shared/vectors/sframe)', () => {
  it('has all 289 header vectors, including 2^64-1 parsed exactly', () => {
    const vectors = loadHeaderVectors();
    expect(vectors.length).toBe(289);
    expect(vectors.some((v) => v.kid === SFRAME_MAX_VALUE && v.ctr === SFRAME_MAX_VALUE)).toBe(true);
  });

  it('encodes every (kid, ctr) to exactly the vector bytes', () => {
    for (const v of loadHeaderVectors()) {
      expect(toHex(encodeSframeHeader(v.kid, v.ctr)), `kid=${v.kid} ctr=${v.ctr}`).toBe(v.encoded);
    }
  });

  it('decodes every vector to its (kid, ctr), consuming exactly the header', () => {
    for (const v of loadHeaderVectors()) {
      const bytes = fromHex(v.encoded);
      expect(decodeSframeHeader(bytes)).toEqual({ kid: v.kid, ctr: v.ctr, headerLength: bytes.length });
      // What follows the header (metadata, ciphertext) is left alone.
      const withTail = fromHex(v.encoded + 'deadbeef');
      expect(decodeSframeHeader(withTail)).toEqual({ kid: v.kid, ctr: v.ctr, headerLength: bytes.length });
    }
  });

  it('rejects every proper prefix of every extended vector as truncated', () => {
    let checked = 0;
    for (const v of loadHeaderVectors()) {
      const bytes = fromHex(v.encoded);
      for (let n = 0; n < bytes.length; n++) {
        expect(() => decodeSframeHeader(bytes.subarray(0, n))).toThrow(/truncated|empty/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(289);
  });
});

describe('SFrame header encoding rules', () => {
  it('puts 0-7 in the config byte', () => {
    expect(toHex(encodeSframeHeader(0n, 0n))).toBe('00');
    expect(toHex(encodeSframeHeader(7n, 7n))).toBe('77');
    expect(toHex(encodeSframeHeader(8n, 0n))).toBe('8008');
    expect(toHex(encodeSframeHeader(0n, 8n))).toBe('0808');
  });

  it('refuses non-minimal encodings (RFC 9605 section 4.3: MUST use the minimum number of bytes)', () => {
    for (const hex of ['8005', '0805', '800000', '890800ff', '0900ff', '8f0000000000000001', '8100ff']) {
      let err: unknown;
      try {
        decodeSframeHeader(fromHex(hex));
      } catch (e) {
        err = e;
      }
      expect(isCryptoError(err, 'malformed'), hex).toBe(true);
    }
  });

  it('refuses values outside 0..2^64-1 when encoding', () => {
    expect(() => encodeSframeHeader(-1n, 0n)).toThrow(RangeError);
    expect(() => encodeSframeHeader(0n, 1n << 64n)).toThrow(RangeError);
  });
});

describe('SFrame header properties', () => {
  const u64 = fc.bigInt({ min: 0n, max: SFRAME_MAX_VALUE });
  // Small values and byte-length boundaries are where encoders go wrong; bias towards them.
  const edgy = fc.oneof(
    u64,
    fc.bigInt({ min: 0n, max: 300n }),
    fc.integer({ min: 1, max: 64 }).map((bits) => (1n << BigInt(bits)) - 1n),
    fc.integer({ min: 0, max: 63 }).map((bits) => 1n << BigInt(bits)),
  );

  it('round-trips every (kid, ctr)', () => {
    fc.assert(
      fc.property(edgy, edgy, (kid, ctr) => {
        const bytes = encodeSframeHeader(kid, ctr);
        expect(bytes.length).toBeLessThanOrEqual(SFRAME_MAX_HEADER_BYTES);
        expect(decodeSframeHeader(bytes)).toEqual({ kid, ctr, headerLength: bytes.length });
      }),
      { numRuns: 5000 },
    );
  });

  it('maps any bytes to a value that re-encodes identically, or to CryptoError malformed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 24 }), (bytes) => {
        let header;
        try {
          header = decodeSframeHeader(bytes);
        } catch (e) {
          expect(isCryptoError(e, 'malformed')).toBe(true);
          return;
        }
        // Canonical: what decoded is exactly what the encoder writes.
        expect(toHex(encodeSframeHeader(header.kid, header.ctr))).toBe(toHex(bytes.subarray(0, header.headerLength)));
      }),
      { numRuns: 20000 },
    );
  });
});
