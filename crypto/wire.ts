// Canonical binary encoding for Vigil's own messages: fixed field order, fixed-size fields where
// possible, u16/u32 big-endian length prefixes otherwise. A Reader checks every length before it
// slices and `end()` rejects trailing bytes, so one byte string has exactly one meaning.
import { concat, fromUtf8, u16be, u32be, u64be, u8, utf8 } from './bytes.ts';
import { malformed } from './errors.ts';

export class Writer {
  private readonly parts: Uint8Array[] = [];

  u8(v: number): this {
    this.parts.push(u8(v));
    return this;
  }
  u16(v: number): this {
    this.parts.push(u16be(v));
    return this;
  }
  u32(v: number): this {
    this.parts.push(u32be(v));
    return this;
  }
  u64(v: bigint): this {
    this.parts.push(u64be(v));
    return this;
  }
  /** Bytes whose length both sides know from the message type. */
  fixed(bytes: Uint8Array, length: number): this {
    if (bytes.length !== length) throw new Error(`fixed field must be ${length} bytes, got ${bytes.length}`);
    this.parts.push(bytes);
    return this;
  }
  /** Bytes with a u16 length prefix. */
  bytes16(bytes: Uint8Array): this {
    if (bytes.length > 0xffff) throw new Error('field too long for a u16 length');
    this.parts.push(u16be(bytes.length), bytes);
    return this;
  }
  /** Bytes with a u32 length prefix. */
  bytes32(bytes: Uint8Array): this {
    this.parts.push(u32be(bytes.length), bytes);
    return this;
  }
  /** UTF-8 text with a u16 length prefix. */
  text16(text: string): this {
    return this.bytes16(utf8(text));
  }
  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }
  finish(): Uint8Array {
    return concat(...this.parts);
  }
}

export class Reader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly where: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) throw malformed(this.where, `truncated at ${field} (need ${n}, have ${this.remaining})`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.offset++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return v;
  }
  fixed(length: number, field: string): Uint8Array {
    this.need(length, field);
    const out = this.buf.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  bytes16(field: string, max: number): Uint8Array {
    const n = this.u16(field);
    if (n > max) throw malformed(this.where, `${field} is ${n} bytes, limit ${max}`);
    return this.fixed(n, field);
  }
  bytes32(field: string, max: number): Uint8Array {
    const n = this.u32(field);
    if (n > max) throw malformed(this.where, `${field} is ${n} bytes, limit ${max}`);
    return this.fixed(n, field);
  }
  text16(field: string, maxBytes: number): string {
    const bytes = this.bytes16(field, maxBytes);
    try {
      return fromUtf8(bytes);
    } catch {
      throw malformed(this.where, `${field} is not valid UTF-8`);
    }
  }
  rest(): Uint8Array {
    const out = this.buf.slice(this.offset);
    this.offset = this.buf.length;
    return out;
  }
  /** Canonical encodings have nothing after the last field. */
  end(): void {
    if (this.remaining !== 0) throw malformed(this.where, `${this.remaining} trailing bytes`);
  }
}
