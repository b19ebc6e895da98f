// Shamir's secret sharing over GF(2^8) (crypto/shamir.ts, PROTOCOL §18.2). Known answers come from
// two independent sources: FIPS-197's worked products in the AES field (the same field), and shares
// made by Privy's audited shamir-secret-sharing 0.0.4 (npm; share = y bytes || x byte), generated once
// outside the repository and pasted here. In that run 300 random secrets also went both ways (its
// split → our combine, our split → its combine) with the same result.
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../crypto/sodium.ts';
import { combineShares, gfInv, gfMul, splitSecret, type Share } from '../../crypto/shamir.ts';
import { isCryptoError } from '../../crypto/errors.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

beforeAll(async () => {
  await cryptoReady();
});

/** Shares of Privy's shamir-secret-sharing 0.0.4, split of this secret ("vigil recovery key test vec 0001"). */
const PRIVY = {
  secret: '766967696c207265636f76657279206b65792074657374207665632030303031',
  twoOfThree: [
    { x: 68, y: '423a90fc5a429394c73f644607598c37cde86e85c00ee6543956586746df2410' },
    { x: 252, y: 'a906b2f6d76a061cd9561f29ab6311119c2e330ded2175cb5724a98abf63f519' },
    { x: 46, y: '0a66e2e6842a9c47e9be2e3859faccefbac5fc56a53e1641e0f494d0c51fcff8' },
  ],
  threeOfFive: [
    { x: 34, y: '0ffd4552ee209fcfbed029be4be8f309cc4852cc0026479c74b481f5b6bcadbd' },
    { x: 18, y: '9a671cb5ba64342bf8d8f72010b36a2fed1bb8dd11a71e95a08f511111598dac' },
    { x: 16, y: '59b9afd39dd3d9f30905e395df1c42312a9916a433fa30e13bb57a0e96b2ced2' },
    { x: 82, y: '481a4dc780221bc06df2929e0d327bdadcddedb71eb34641851919f0506cceef' },
    { x: 203, y: '29430fb513480de0801552563a8f10405fcd5b3880e677d5502446db2f480264' },
  ],
};

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, k - 1).map((s) => [first!, ...s]), ...subsets(rest, k)];
}

describe('GF(2^8) with 0x11b', () => {
  it('reproduces FIPS-197 §4.2: {57}·{83} = {c1}, {57}·{13} = {fe}, and {53}·{ca} = {01}', () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    expect(gfMul(0x57, 0x13)).toBe(0xfe);
    expect(gfMul(0x53, 0xca)).toBe(0x01);
    expect(gfInv(0x53)).toBe(0xca);
  });

  it('every non-zero element times its inverse is 1, and multiplication commutes', () => {
    for (let a = 1; a < 256; a++) {
      expect(gfMul(a, gfInv(a))).toBe(1);
      for (let b = 0; b < 256; b += 17) expect(gfMul(a, b)).toBe(gfMul(b, a));
    }
  });
});

describe('splitSecret and combineShares', () => {
  it('combines shares made by an independent implementation (Privy 0.0.4): every k-subset', () => {
    for (const [k, shares] of [[2, PRIVY.twoOfThree], [3, PRIVY.threeOfFive]] as const) {
      for (const pick of subsets(shares, k)) {
        expect(hex(combineShares(pick.map((s) => ({ x: s.x, y: bytes(s.y) }))))).toBe(PRIVY.secret);
      }
    }
  });

  it('a known answer derived by hand: secret 0x2a, f(x) = 0x2a + 0x07·x, shares f(1) = 0x2d, f(2) = 0x24', () => {
    // f(1) = 0x2a ^ 0x07 = 0x2d; f(2) = 0x2a ^ gfMul(0x07, 2) = 0x2a ^ 0x0e = 0x24.
    const shares = splitSecret(Uint8Array.of(0x2a), 2, 2, Uint8Array.of(0x07));
    expect(shares.map((s) => [s.x, s.y[0]])).toEqual([[1, 0x2d], [2, 0x24]]);
    expect(combineShares(shares)[0]).toBe(0x2a);
  });

  it('any k of n rebuild the secret, for random secrets and every (k, n) up to 5', () => {
    for (let n = 1; n <= 5; n++) {
      for (let k = 1; k <= n; k++) {
        const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + n * 11 + k) & 0xff);
        const shares = splitSecret(secret, n, k);
        for (const pick of subsets(shares, k)) expect(hex(combineShares(pick))).toBe(hex(secret));
        // More than k rebuild it too (the polynomial is still degree k-1).
        expect(hex(combineShares(shares))).toBe(hex(secret));
      }
    }
  });

  it('k-1 shares fit every secret byte: completing them with each of the 256 values of the missing share gives each secret byte exactly once', () => {
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    for (const [n, k] of [[3, 2], [5, 3], [4, 4]] as const) {
      const shares = splitSecret(secret, n, k);
      const known = shares.slice(0, k - 1);
      const missingX = shares[k - 1]!.x;
      for (let byte = 0; byte < 32; byte += 5) {
        const seen = new Set<number>();
        for (let y = 0; y < 256; y++) {
          const guess: Share = { x: missingX, y: Uint8Array.of(y) };
          seen.add(combineShares([...known.map((s) => ({ x: s.x, y: s.y.subarray(byte, byte + 1) })), guess])[0]!);
        }
        expect(seen.size).toBe(256);
      }
    }
  });

  it('fresh coefficients each time: two splits of one secret share no y', () => {
    const secret = new Uint8Array(32).fill(9);
    const a = splitSecret(secret, 3, 2);
    const b = splitSecret(secret, 3, 2);
    expect(hex(a[0]!.y)).not.toBe(hex(b[0]!.y));
  });

  it('bad input is malformed, not a wrong answer: k > n, n > 255, x = 0, x twice, lengths differ, no shares', () => {
    const bad = [
      () => splitSecret(new Uint8Array(32), 2, 3),
      () => splitSecret(new Uint8Array(32), 256, 2),
      () => splitSecret(new Uint8Array(0), 2, 2),
      () => splitSecret(new Uint8Array(2), 3, 2, new Uint8Array(1)),
      () => combineShares([]),
      () => combineShares([{ x: 0, y: new Uint8Array(2) }, { x: 1, y: new Uint8Array(2) }]),
      () => combineShares([{ x: 1, y: new Uint8Array(2) }, { x: 1, y: new Uint8Array(2) }]),
      () => combineShares([{ x: 1, y: new Uint8Array(2) }, { x: 2, y: new Uint8Array(3) }]),
    ];
    for (const f of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isCryptoError(err, 'malformed')).toBe(true);
    }
  });
});
