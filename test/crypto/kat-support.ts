// Shared by the known-answer vector tests (test/crypto/kat-*.test.ts) and their generators
// (test/crypto/generate/<family>.ts). Each family's vectors live in test/crypto/vectors/<family>.json
// as { description, vectors: [{ name, expect, ... }] }: hex for bytes, decimal strings for 64-bit
// numbers. `npm run vectors:write` (test/crypto/write-vectors.ts) writes the files from the code once;
// from then on the code must reproduce, or reject with exactly the `expect` code, every entry. The
// phone's tests read the same files. No vitest here: the generators run outside it.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fromHex, toHex } from '../../crypto/bytes.ts';
import { CryptoError, type CryptoErrorCode } from '../../crypto/errors.ts';
import type { DeviceSeeds, HubSeeds } from '../../crypto/identity.testing.ts';

export type Expect = CryptoErrorCode | 'success';

export interface VectorFile<V> {
  readonly description: string;
  readonly vectors: V[];
}

export function vectorPath(family: string): string {
  return fileURLToPath(new URL(`./vectors/${family}.json`, import.meta.url));
}

/** The vectors of a family, as committed. */
export function readVectors<V>(family: string): V[] {
  return (JSON.parse(readFileSync(vectorPath(family), 'utf8')) as VectorFile<V>).vectors;
}

export function writeVectors<V>(family: string, description: string, vectors: V[]): void {
  writeFileSync(vectorPath(family), JSON.stringify({ description, vectors }, null, 2) + '\n');
}

/** 'success' if `fn` returns, the CryptoError's code if it throws one; any other throw fails the test. */
export function outcome(fn: () => unknown): Expect {
  try {
    fn();
    return 'success';
  } catch (e) {
    if (!(e instanceof CryptoError)) throw e;
    return e.code;
  }
}

/**
 * The generators' consistency checks (and the tests', through the helpers they share): throws unless
 * `actual` is `expected`. Not vitest's expect, so that the generators run outside vitest.
 */
export function same<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

/** Every kind a file claims to cover is present, and nothing else. */
export function expectKinds(vectors: readonly { expect: Expect }[], kinds: readonly Expect[]): void {
  const present = [...new Set(vectors.map((v) => v.expect))].sort();
  const wanted = [...kinds].sort();
  if (present.join() !== wanted.join()) throw new Error(`the vectors cover ${present.join(', ')}; expected exactly ${wanted.join(', ')}`);
}

/** Bytes counting up from `start`: deterministic inputs that are easy to re-derive by hand. */
export function seq(n: number, start: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
}

/** `hex` with one bit flipped; a negative byte index counts from the end. */
export function flip(hex: string, byte: number, bit = 0): string {
  const b = fromHex(hex);
  const i = byte < 0 ? b.length + byte : byte;
  if (i < 0 || i >= b.length) throw new RangeError(`flip: byte ${byte} outside ${b.length} bytes`);
  b[i] = (b[i] ?? 0) ^ (1 << bit);
  return toHex(b);
}

/** Seeds as the files store them. */
export interface HexSeeds {
  signing: string;
  exchange: string;
  pq: string;
  relay?: string;
}

export function hexSeeds(s: HubSeeds | DeviceSeeds): HexSeeds {
  return { signing: toHex(s.signing), exchange: toHex(s.exchange), pq: toHex(s.pq), ...('relay' in s ? { relay: toHex(s.relay) } : {}) };
}

export function hubSeedsFrom(h: HexSeeds): HubSeeds {
  if (h.relay === undefined) throw new Error('hub seeds need a relay seed');
  return { signing: fromHex(h.signing), exchange: fromHex(h.exchange), pq: fromHex(h.pq), relay: fromHex(h.relay) };
}

export function deviceSeedsFrom(h: HexSeeds): DeviceSeeds {
  return { signing: fromHex(h.signing), exchange: fromHex(h.exchange), pq: fromHex(h.pq) };
}

/** The cast every family uses: two hubs and four phones, each from its own run of counting bytes. */
export const CAST = {
  hub: { signing: seq(32, 0x00), exchange: seq(32, 0x20), pq: seq(32, 0x40), relay: seq(32, 0x60) },
  otherHub: { signing: seq(32, 0x80), exchange: seq(32, 0xa0), pq: seq(32, 0xc0), relay: seq(32, 0xe0) },
  owner: { signing: seq(32, 0x01), exchange: seq(32, 0x21), pq: seq(32, 0x41) },
  viewer: { signing: seq(32, 0x02), exchange: seq(32, 0x22), pq: seq(32, 0x42) },
  revoked: { signing: seq(32, 0x03), exchange: seq(32, 0x23), pq: seq(32, 0x43) },
  stranger: { signing: seq(32, 0x04), exchange: seq(32, 0x24), pq: seq(32, 0x44) },
} as const satisfies Record<string, HubSeeds | DeviceSeeds>;
