// The SFrame header of RFC 9605 section 4.3, byte for byte, so that the RFC's header vectors apply.
//
//    0 1 2 3 4 5 6 7
//   +-+-+-+-+-+-+-+-+---------------+---------------+
//   |X|  K  |Y|  C  |  KID (0-8 B)  |  CTR (0-8 B)  |
//   +-+-+-+-+-+-+-+-+---------------+---------------+
//
// X = 0: K is the key id itself (0-7).  X = 1: K + 1 is the key id's length in bytes (1-8).
// Y = 0: C is the counter itself (0-7). Y = 1: C + 1 is the counter's length in bytes (1-8).
// Both values are unsigned big-endian integers of at most 64 bits.
//
// RFC 9605 says a value of 0-7 goes in the config byte and a larger one "MUST be encoded with the
// minimum number of bytes required". The RFC states no receiver rule; Vigil's rule is one value,
// one encoding, so decode refuses what the RFC forbids a sender to produce: an extended field
// carrying 0-7, or an extended field with a leading zero byte. (The header is also part of the
// AEAD's associated data, so a re-encoded header would fail authentication anyway; refusing it here
// keeps replay windows and logs keyed by exactly one spelling.)
import { malformed } from './errors.ts';

export const SFRAME_MAX_VALUE = (1n << 64n) - 1n;
/** 1 config byte + 8 bytes of KID + 8 bytes of CTR. */
export const SFRAME_MAX_HEADER_BYTES = 17;

export interface SframeHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
  /** Bytes the header took at the start of the input. */
  readonly headerLength: number;
}

/** Bytes needed for `value` in minimal big-endian form; 0 for values that fit in the config byte. */
function extendedLength(value: bigint): number {
  if (value < 8n) return 0;
  let n = 0;
  for (let v = value; v > 0n; v >>= 8n) n++;
  return n;
}

function checkValue(value: bigint, field: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > SFRAME_MAX_VALUE) {
    throw new RangeError(`SFrame ${field} must be a bigint in 0..2^64-1`);
  }
}

function writeBigEndian(out: Uint8Array, offset: number, value: bigint, length: number): void {
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

export function encodeSframeHeader(kid: bigint, ctr: bigint): Uint8Array {
  checkValue(kid, 'KID');
  checkValue(ctr, 'CTR');
  const klen = extendedLength(kid);
  const clen = extendedLength(ctr);
  const out = new Uint8Array(1 + klen + clen);
  const k = klen === 0 ? 0x00 | Number(kid) : 0x08 | (klen - 1);
  const c = clen === 0 ? 0x00 | Number(ctr) : 0x08 | (clen - 1);
  out[0] = (k << 4) | c;
  writeBigEndian(out, 1, kid, klen);
  writeBigEndian(out, 1 + klen, ctr, clen);
  return out;
}

const WHERE = 'decodeSframeHeader';

/** Reads one extended field; refuses truncation and encodings that are not minimal. */
function readExtended(bytes: Uint8Array, offset: number, length: number, field: string): bigint {
  if (bytes.length - offset < length) {
    throw malformed(WHERE, `truncated ${field} (need ${length} bytes, have ${Math.max(0, bytes.length - offset)})`);
  }
  if (bytes[offset] === 0) throw malformed(WHERE, `${field} has a leading zero byte (not minimal)`);
  let v = 0n;
  for (let i = 0; i < length; i++) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  // One byte that holds 0-7 belongs in the config byte (RFC 9605 section 4.3).
  if (v < 8n) throw malformed(WHERE, `${field} ${v} must be carried in the config byte`);
  return v;
}

/**
 * Decodes the header at the start of `bytes` (what follows is the caller's). Throws CryptoError
 * 'malformed' on empty or truncated input and on non-minimal encodings; never anything else.
 */
export function decodeSframeHeader(bytes: Uint8Array): SframeHeader {
  const config = bytes[0];
  if (config === undefined) throw malformed(WHERE, 'empty input');
  const x = (config & 0x80) !== 0;
  const k = (config >> 4) & 0x07;
  const y = (config & 0x08) !== 0;
  const c = config & 0x07;
  let offset = 1;
  let kid = BigInt(k);
  if (x) {
    kid = readExtended(bytes, offset, k + 1, 'KID');
    offset += k + 1;
  }
  let ctr = BigInt(c);
  if (y) {
    ctr = readExtended(bytes, offset, c + 1, 'CTR');
    offset += c + 1;
  }
  return { kid, ctr, headerLength: offset };
}
