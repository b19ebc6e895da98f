// The canonical binary layout that both Vigil's own messages (crypto/wire.ts) and the relay's frames
// (relay/codec.ts) are written and read in: big-endian integers, fixed-size fields where both sides
// know the length, u16/u32 length prefixes otherwise. A ByteReader checks every length before it
// slices and `end()` rejects trailing bytes, so one byte string has exactly one meaning; a ByteWriter
// refuses a value its field cannot hold instead of wrapping it.
//
// Neutral: this module has no error type of its own. Every failure is a ByteFault handed to the
// caller's `fail`, which returns the caller's typed error (crypto/ a CryptoError 'malformed', the relay
// codec a RelayProtocolError 'truncated' / 'trailing-bytes' / 'bad-value'). It imports nothing but
// lib/, so every folder may use it (docs/ARCHITECTURE.md §2.2).

import { unreachable } from './unreachable.ts';

/** What went wrong, for the caller to turn into its own error. Never carries the bytes themselves. */
export type ByteFault =
  // reading
  | { kind: 'truncated'; field: string; need: number; have: number }
  | { kind: 'trailing'; count: number }
  | { kind: 'too-long'; field: string; length: number; max: number }
  | { kind: 'not-utf8'; field: string }
  | { kind: 'over-safe-integer'; field: string }
  // writing
  | { kind: 'out-of-range'; field: string; min: number | bigint; max: number | bigint }
  | { kind: 'wrong-length'; field: string; length: number; got: number }
  | { kind: 'not-bytes'; field: string };

/** Returns (not throws) the caller's error for a fault; the reader or writer throws it. */
export type FaultHandler = (fault: ByteFault) => Error;

/** A fault in words, for error messages. */
export function describeFault(f: ByteFault): string {
  switch (f.kind) {
    case 'truncated':
      return `truncated at ${f.field} (need ${f.need}, have ${f.have})`;
    case 'trailing':
      return `${f.count} trailing bytes after the last field`;
    case 'too-long':
      return `${f.field} is ${f.length} bytes, limit ${f.max}`;
    case 'not-utf8':
      return `${f.field} is not valid UTF-8`;
    case 'over-safe-integer':
      return `${f.field} over 2^53-1`;
    case 'out-of-range':
      return `${f.field} must be an integer in ${f.min}..${f.max}`;
    case 'wrong-length':
      return `${f.field} must be ${f.length} bytes, got ${f.got}`;
    case 'not-bytes':
      return `${f.field} must be bytes`;
    default:
      return unreachable(f);
  }
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export interface ByteWriterOptions {
  fail: FaultHandler;
  /** Bytes to reserve. A writer given the exact size writes in place and finishes without a copy. */
  capacity?: number;
  /** The capacity is the exact size of the result: finish() throws if it is not (a bug, not bad input). */
  exact?: boolean;
}

export class ByteWriter {
  private bytes: Uint8Array;
  private view: DataView;
  private at = 0;
  private readonly fail: FaultHandler;
  private readonly exact: boolean;

  constructor(options: ByteWriterOptions) {
    this.fail = options.fail;
    this.exact = options.exact === true;
    this.bytes = new Uint8Array(options.capacity ?? 64);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(2 * this.bytes.length, this.at + n));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  private int(value: number, max: number, field: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) throw this.fail({ kind: 'out-of-range', field, min: 0, max });
  }

  private isBytes(bytes: Uint8Array, field: string): void {
    if (!(bytes instanceof Uint8Array)) throw this.fail({ kind: 'not-bytes', field });
  }

  u8(value: number, field = 'u8'): this {
    this.int(value, 0xff, field);
    this.room(1);
    this.view.setUint8(this.at, value);
    this.at += 1;
    return this;
  }
  u16(value: number, field = 'u16'): this {
    this.int(value, 0xffff, field);
    this.room(2);
    this.view.setUint16(this.at, value);
    this.at += 2;
    return this;
  }
  u32(value: number, field = 'u32'): this {
    this.int(value, 0xffff_ffff, field);
    this.room(4);
    this.view.setUint32(this.at, value);
    this.at += 4;
    return this;
  }
  u64(value: bigint, field = 'u64'): this {
    if (typeof value !== 'bigint' || value < 0n || value > MAX_U64) throw this.fail({ kind: 'out-of-range', field, min: 0n, max: MAX_U64 });
    this.room(8);
    this.view.setBigUint64(this.at, value);
    this.at += 8;
    return this;
  }
  /** A u64 field held as a JavaScript number: only 0..2^53-1, the values that round-trip. */
  u64Safe(value: number, field = 'u64'): this {
    this.int(value, Number.MAX_SAFE_INTEGER, field);
    this.room(8);
    this.view.setUint32(this.at, Math.floor(value / 2 ** 32));
    this.view.setUint32(this.at + 4, value % 2 ** 32);
    this.at += 8;
    return this;
  }
  /** Bytes whose length both sides know from the message type. */
  fixed(bytes: Uint8Array, length: number, field = 'fixed field'): this {
    this.isBytes(bytes, field);
    if (bytes.length !== length) throw this.fail({ kind: 'wrong-length', field, length, got: bytes.length });
    return this.raw(bytes);
  }
  /** Bytes with a u16 length prefix. */
  bytes16(bytes: Uint8Array, field = 'field'): this {
    this.isBytes(bytes, field);
    if (bytes.length > 0xffff) throw this.fail({ kind: 'too-long', field, length: bytes.length, max: 0xffff });
    return this.u16(bytes.length, `${field} length`).raw(bytes);
  }
  /** Bytes with a u32 length prefix. */
  bytes32(bytes: Uint8Array, field = 'field'): this {
    this.isBytes(bytes, field);
    return this.u32(bytes.length, `${field} length`).raw(bytes);
  }
  /** UTF-8 text with a u16 length prefix. */
  text16(text: string, field = 'text'): this {
    return this.bytes16(encoder.encode(text), field);
  }
  /** Bytes as they are, no length: the last field, or one whose length an earlier field gave. */
  raw(bytes: Uint8Array): this {
    this.room(bytes.length);
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
    return this;
  }
  /** The bytes written: the writer's own buffer when it is exactly full, else a copy of its start. */
  finish(): Uint8Array {
    if (this.exact && this.at !== this.bytes.length) throw new Error(`wrote ${this.at} bytes, not the ${this.bytes.length} computed`);
    return this.at === this.bytes.length ? this.bytes : this.bytes.slice(0, this.at);
  }
}

export interface ByteReaderOptions {
  fail: FaultHandler;
  /**
   * true: byte fields are copies, which outlive the input and can be wiped on their own (crypto/).
   * false: views into the input, no copy (the relay's media path); copy one before keeping it past
   * the input's lifetime if the input buffer may be reused.
   */
  copy: boolean;
}

export class ByteReader {
  private at = 0;
  private readonly view: DataView;
  private readonly fail: FaultHandler;
  private readonly copy: boolean;

  constructor(
    private readonly bytes: Uint8Array,
    options: ByteReaderOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.fail = options.fail;
    this.copy = options.copy;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) throw this.fail({ kind: 'truncated', field, need: n, have: this.remaining });
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.at++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.at);
    this.at += 8;
    return v;
  }
  /** A u64 field as a number. Values past 2^53-1 cannot round-trip, so they are refused. */
  u64Safe(field: string): number {
    this.need(8, field);
    const hi = this.view.getUint32(this.at);
    const lo = this.view.getUint32(this.at + 4);
    if (hi > 0x1f_ffff) throw this.fail({ kind: 'over-safe-integer', field });
    this.at += 8;
    return hi * 2 ** 32 + lo;
  }
  fixed(length: number, field: string): Uint8Array {
    this.need(length, field);
    const out = this.copy ? this.bytes.slice(this.at, this.at + length) : this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
  /** Bytes with a u16 length prefix, refused past `max` before anything is sliced. */
  bytes16(field: string, max = 0xffff): Uint8Array {
    const n = this.u16(`${field} length`);
    if (n > max) throw this.fail({ kind: 'too-long', field, length: n, max });
    return this.fixed(n, field);
  }
  /** Bytes with a u32 length prefix, refused past `max` before anything is sliced. */
  bytes32(field: string, max = 0xffff_ffff): Uint8Array {
    const n = this.u32(`${field} length`);
    if (n > max) throw this.fail({ kind: 'too-long', field, length: n, max });
    return this.fixed(n, field);
  }
  /** UTF-8 text with a u16 length prefix; invalid UTF-8 is refused, never replaced. */
  text16(field: string, maxBytes: number): string {
    const bytes = this.bytes16(field, maxBytes);
    try {
      return strictDecoder.decode(bytes);
    } catch {
      throw this.fail({ kind: 'not-utf8', field });
    }
  }
  /** Everything left. */
  rest(): Uint8Array {
    const out = this.copy ? this.bytes.slice(this.at) : this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return out;
  }
  /** Canonical encodings have nothing after the last field. */
  end(): void {
    if (this.remaining !== 0) throw this.fail({ kind: 'trailing', count: this.remaining });
  }
}
