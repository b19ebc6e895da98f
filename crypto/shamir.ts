// Shamir's secret sharing over GF(2^8) (PROTOCOL §18.2): the hub's recovery secret split among its
// owner phones, k of n. Each byte of the secret is the constant term of its own random polynomial
// of degree k-1; share x holds the polynomials' values at x (1..255). Any k shares give the secret
// back by Lagrange interpolation at 0; k-1 shares fit every value of every secret byte equally well
// (the missing share can be any byte), so they say nothing about it.
//
// The field is GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), as HashiCorp Vault's
// and Privy's shamir-secret-sharing use: test/crypto/shamir.test.ts checks shares of that library
// against this code. Arithmetic runs without tables or secret-dependent branches (a table lookup
// indexed by a secret byte leaks through the cache).
import { malformed } from './errors.ts';
import { sodium } from './sodium.ts';

/** One share: the x coordinate (1..255, never 0: f(0) is the secret) and one y byte per secret byte. */
export interface Share {
  readonly x: number;
  readonly y: Uint8Array;
}

export const MAX_SHARES = 255;

/** a·b in GF(2^8) mod 0x11b, constant time: eight shift-and-add steps with masks. */
export function gfMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    p ^= a & -(b & 1);
    // Multiply a by x; reduce by 0x11b when bit 7 was set.
    const carry = -((a >> 7) & 1);
    a = ((a << 1) ^ (0x1b & carry)) & 0xff;
    b >>= 1;
  }
  return p & 0xff;
}

/** a^-1 = a^254 (Fermat); 0 has no inverse and callers never ask for it. */
export function gfInv(a: number): number {
  let result = 1;
  let base = a;
  // 254 = 0b11111110: a fixed exponent, so the branch depends on nothing secret.
  for (let e = 254; e > 0; e >>= 1) {
    if (e & 1) result = gfMul(result, base);
    base = gfMul(base, base);
  }
  return result;
}

/**
 * Splits `secret` into `n` shares, any `k` of which rebuild it. `coefficients` is for tests only
 * (known answers): (k-1) random bytes per secret byte otherwise, from libsodium.
 */
export function splitSecret(secret: Uint8Array, n: number, k: number, coefficients?: Uint8Array): Share[] {
  const where = `splitSecret(n=${n}, k=${k})`;
  if (!Number.isInteger(n) || !Number.isInteger(k) || k < 1 || k > n || n > MAX_SHARES) throw malformed(where, 'need 1 <= k <= n <= 255');
  if (secret.length === 0) throw malformed(where, 'empty secret');
  const need = secret.length * (k - 1);
  const coef = coefficients ?? sodium().randombytes_buf(need);
  if (coef.length !== need) throw malformed(where, `need ${need} coefficient bytes`);
  const shares: Share[] = [];
  for (let x = 1; x <= n; x++) {
    const y = new Uint8Array(secret.length);
    for (let i = 0; i < secret.length; i++) {
      // Horner from the highest coefficient down to the secret byte.
      let acc = 0;
      for (let j = k - 2; j >= 0; j--) acc = gfMul(acc, x) ^ coef[i * (k - 1) + j]!;
      y[i] = gfMul(acc, x) ^ secret[i]!;
    }
    shares.push({ x, y });
  }
  if (coefficients === undefined) coef.fill(0);
  return shares;
}

/**
 * The secret the given shares interpolate to at 0. Shares MUST have distinct x in 1..255 and one
 * length (`malformed`). Fewer than the k they were split with give a wrong secret, not an error:
 * sharing cannot tell, so what the secret protects (an AEAD) must.
 */
export function combineShares(shares: readonly Share[]): Uint8Array {
  const where = `combineShares(${shares.length} shares)`;
  if (shares.length === 0 || shares.length > MAX_SHARES) throw malformed(where, 'need 1 to 255 shares');
  const len = shares[0]!.y.length;
  const seen = new Set<number>();
  for (const s of shares) {
    if (!Number.isInteger(s.x) || s.x < 1 || s.x > 255) throw malformed(where, 'share x out of range');
    if (seen.has(s.x)) throw malformed(where, `share ${s.x} given twice`);
    if (s.y.length !== len || len === 0) throw malformed(where, 'shares of different lengths');
    seen.add(s.x);
  }
  // Lagrange basis at 0: l_j(0) = prod_{m != j} x_m / (x_m - x_j), and subtraction is XOR.
  const basis = shares.map((sj) => {
    let num = 1;
    let den = 1;
    for (const sm of shares) {
      if (sm.x === sj.x) continue;
      num = gfMul(num, sm.x);
      den = gfMul(den, sm.x ^ sj.x);
    }
    return gfMul(num, gfInv(den));
  });
  const secret = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    let v = 0;
    for (let j = 0; j < shares.length; j++) v ^= gfMul(shares[j]!.y[i]!, basis[j]!);
    secret[i] = v;
  }
  return secret;
}
