import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, concat, describeFault, type ByteFault } from '../../lib/bytes.ts';
import { unreachable } from '../../lib/unreachable.ts';

/** The fault itself, thrown, so a test can look at exactly what the caller's `fail` was given. */
class Fault extends Error {
  constructor(readonly fault: ByteFault) {
    super(describeFault(fault));
  }
}
const fail = (fault: ByteFault): Error => new Fault(fault);
const faultOf = (fn: () => unknown): ByteFault => {
  try {
    fn();
  } catch (e) {
    if (e instanceof Fault) return e.fault;
    throw e;
  }
  throw new Error('no fault');
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('ByteWriter', () => {
  it('writes big-endian integers, fixed fields and length prefixes byte for byte', () => {
    const out = new ByteWriter({ fail })
      .u8(0x01).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0fn).u64Safe(2 ** 53 - 1)
      .fixed(Uint8Array.of(0xaa, 0xbb), 2).bytes16(Uint8Array.of(0xcc)).bytes32(Uint8Array.of(0xdd)).text16('é').raw(Uint8Array.of(0xee))
      .finish();
    expect(hex(out)).toBe('01' + '0203' + '04050607' + '08090a0b0c0d0e0f' + '001fffffffffffff' + 'aabb' + '0001cc' + '00000001dd' + '0002c3a9' + 'ee');
  });

  it('grows past its capacity and returns exactly what was written', () => {
    const w = new ByteWriter({ fail, capacity: 1 });
    for (let i = 0; i < 300; i++) w.u8(i & 0xff);
    const out = w.finish();
    expect(out.length).toBe(300);
    expect(out.buffer.byteLength).toBe(300);
    expect(out[299]).toBe(299 & 0xff);
  });

  it('given the exact size, finishes with its own buffer; a wrong size is a bug', () => {
    const w = new ByteWriter({ fail, capacity: 3, exact: true }).u8(1).u16(2);
    const out = w.finish();
    expect(out.length).toBe(3);
    expect(() => new ByteWriter({ fail, capacity: 4, exact: true }).u8(1).finish()).toThrow(/wrote 1 bytes, not the 4/);
  });

  it('refuses a value its field cannot hold instead of wrapping it, through the caller\'s fail', () => {
    expect(faultOf(() => new ByteWriter({ fail }).u8(256, 'flags'))).toEqual({ kind: 'out-of-range', field: 'flags', min: 0, max: 255 });
    expect(faultOf(() => new ByteWriter({ fail }).u16(-1))).toMatchObject({ kind: 'out-of-range' });
    expect(faultOf(() => new ByteWriter({ fail }).u32(1.5))).toMatchObject({ kind: 'out-of-range' });
    expect(faultOf(() => new ByteWriter({ fail }).u64(-1n))).toMatchObject({ kind: 'out-of-range' });
    expect(faultOf(() => new ByteWriter({ fail }).u64(2n ** 64n))).toMatchObject({ kind: 'out-of-range' });
    expect(faultOf(() => new ByteWriter({ fail }).u64Safe(2 ** 53, 'expiresAt'))).toMatchObject({ kind: 'out-of-range', field: 'expiresAt' });
    expect(faultOf(() => new ByteWriter({ fail }).fixed(new Uint8Array(31), 32, 'key'))).toEqual({ kind: 'wrong-length', field: 'key', length: 32, got: 31 });
    expect(faultOf(() => new ByteWriter({ fail }).fixed('x' as unknown as Uint8Array, 1, 'key'))).toEqual({ kind: 'not-bytes', field: 'key' });
    expect(faultOf(() => new ByteWriter({ fail }).bytes16(new Uint8Array(0x10000), 'args'))).toMatchObject({ kind: 'too-long', field: 'args', max: 0xffff });
  });
});

describe('ByteReader', () => {
  const bytes = new ByteWriter({ fail }).u8(7).u64(2n ** 64n - 1n).bytes16(Uint8Array.of(1, 2)).text16('hi').finish();

  it('reads back what the writer wrote, and end() accepts nothing left', () => {
    const r = new ByteReader(bytes, { fail, copy: true });
    expect(r.u8('a')).toBe(7);
    expect(r.u64('b')).toBe(2n ** 64n - 1n);
    expect([...r.bytes16('c', 2)]).toEqual([1, 2]);
    expect(r.text16('d', 2)).toBe('hi');
    expect(r.remaining).toBe(0);
    r.end();
  });

  it('checks every length before it slices', () => {
    expect(faultOf(() => new ByteReader(Uint8Array.of(0, 1, 2), { fail, copy: false }).u32('count'))).toEqual({ kind: 'truncated', field: 'count', need: 4, have: 3 });
    expect(faultOf(() => new ByteReader(Uint8Array.of(0, 9, 1), { fail, copy: false }).bytes16('name', 64))).toEqual({ kind: 'truncated', field: 'name', need: 9, have: 1 });
    expect(faultOf(() => new ByteReader(Uint8Array.of(0, 0, 0, 1), { fail, copy: false }).bytes32('payload', 0))).toEqual({ kind: 'too-long', field: 'payload', length: 1, max: 0 });
  });

  it('refuses trailing bytes, invalid UTF-8 and u64 values a number cannot hold', () => {
    const r = new ByteReader(Uint8Array.of(1, 2), { fail, copy: false });
    r.u8('a');
    expect(faultOf(() => r.end())).toEqual({ kind: 'trailing', count: 1 });
    expect(faultOf(() => new ByteReader(Uint8Array.of(0, 2, 0xc3, 0x28), { fail, copy: false }).text16('name', 8))).toEqual({ kind: 'not-utf8', field: 'name' });
    const max = new ByteWriter({ fail }).u64Safe(Number.MAX_SAFE_INTEGER).finish();
    expect(new ByteReader(max, { fail, copy: false }).u64Safe('t')).toBe(Number.MAX_SAFE_INTEGER);
    const over = new ByteWriter({ fail }).u64(2n ** 53n).finish();
    expect(faultOf(() => new ByteReader(over, { fail, copy: false }).u64Safe('t'))).toEqual({ kind: 'over-safe-integer', field: 't' });
  });

  it('gives views or copies as asked', () => {
    const input = Uint8Array.of(1, 2, 3, 4);
    const view = new ByteReader(input, { fail, copy: false }).fixed(2, 'a');
    const copy = new ByteReader(input, { fail, copy: true }).fixed(2, 'a');
    input[0] = 9;
    expect(view[0]).toBe(9);
    expect(copy[0]).toBe(1);
    expect(view.buffer).toBe(input.buffer);
  });

  it('reads a view that starts inside a larger buffer from its own start', () => {
    const big = Uint8Array.of(0xff, 0xff, 0x00, 0x05, 0xff);
    expect(new ByteReader(big.subarray(2, 4), { fail, copy: false }).u16('n')).toBe(5);
  });
});

describe('concat and unreachable', () => {
  it('concat copies every part in order', () => {
    expect(hex(concat(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)))).toBe('010203');
    expect(concat().length).toBe(0);
  });

  it('unreachable names the case it was given', () => {
    expect(() => unreachable('ptz' as never)).toThrow('unreachable case: ptz');
    expect(() => unreachable({ type: 'media' } as never)).toThrow('unreachable case: media');
    expect(() => unreachable({ kind: 'topic' } as never)).toThrow('unreachable case: topic');
  });
});
