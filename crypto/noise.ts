// The Noise Protocol Framework, revision 34 (https://noiseprotocol.org/noise.html), for the one suite
// Vigil speaks: 25519_ChaChaPoly_BLAKE2b. Section numbers in comments refer to that document. No
// maintained Noise library runs on libsodium-wrappers, so this is a small, exact implementation gated
// by the cacophony test vectors (test/crypto/noise.test.ts).
//
// Everything a peer sends is checked before use: message lengths against what the pattern demands,
// DH outputs against the all-zero value, and every decryption authenticated. Any failure is a
// CryptoError, and a handshake that failed once refuses every further call (section 5.3: the
// handshake is aborted), so a half-mixed state can never be used.
import { concat, wipe } from './bytes.ts';
import { unreachable } from '../lib/unreachable.ts';
import { CryptoError, isCryptoError } from './errors.ts';
import type { KeyPair } from './identity.ts';
import { Secret } from './secret.ts';
import { sodium } from './sodium.ts';

export const DH_LEN = 32;
export const HASH_LEN = 64;
export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const PSK_LEN = 32;
/** Section 3: every Noise message, handshake or transport, is at most 65535 bytes. */
export const MAX_MESSAGE_LEN = 65535;
/** Section 5.1: nonce 2^64-1 is reserved, so a CipherState refuses to use it. */
export const MAX_NONCE = (1n << 64n) - 1n;

const BLOCK_LEN = 128; // BLAKE2b's block length, for HMAC (RFC 2104)
const SUITE = '25519_ChaChaPoly_BLAKE2b';
const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Crypto functions (section 4)

/** Section 4.1 DH(): X25519, refusing the all-zero output of a low-order peer key. */
function dh(privateKey: Uint8Array, publicKey: Uint8Array, where: string): Uint8Array {
  if (publicKey.length !== DH_LEN) throw new CryptoError('malformed', where, `public key is ${publicKey.length} bytes, expected ${DH_LEN}`);
  let out: Uint8Array;
  try {
    out = sodium().crypto_scalarmult(privateKey, publicKey);
  } catch (cause) {
    // libsodium itself fails on an all-zero result.
    throw new CryptoError('malformed', where, 'low-order public key (all-zero DH output)', { cause });
  }
  if (sodium().is_zero(out)) throw new CryptoError('malformed', where, 'low-order public key (all-zero DH output)');
  return out;
}

/** Section 5.1 nonce encoding for ChaChaPoly: 32 zero bits then the 64-bit counter, little-endian. */
function chachaNonce(n: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, n, true);
  return nonce;
}

function hash(data: Uint8Array): Uint8Array {
  return sodium().crypto_generichash(HASH_LEN, data, null);
}

/** HMAC-BLAKE2b per RFC 2104 with B = 128 (section 4.3); keys here are never longer than HASH_LEN. */
export function hmacBlake2b(key: Uint8Array, data: Uint8Array): Uint8Array {
  const k = new Uint8Array(BLOCK_LEN);
  k.set(key.length > BLOCK_LEN ? hash(key) : key);
  const ipad = new Uint8Array(BLOCK_LEN);
  const opad = new Uint8Array(BLOCK_LEN);
  for (let i = 0; i < BLOCK_LEN; i++) {
    ipad[i] = (k[i] ?? 0) ^ 0x36;
    opad[i] = (k[i] ?? 0) ^ 0x5c;
  }
  const inner = hash(concat(ipad, data));
  const out = hash(concat(opad, inner));
  wipe(k);
  wipe(ipad);
  wipe(opad);
  wipe(inner);
  return out;
}

/** Section 4.3 HKDF(chaining_key, input_key_material, num_outputs) with num_outputs 2 or 3. */
export function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const tempKey = hmacBlake2b(chainingKey, ikm);
  const out1 = hmacBlake2b(tempKey, Uint8Array.of(0x01));
  const out2 = hmacBlake2b(tempKey, concat(out1, Uint8Array.of(0x02)));
  const result = [out1, out2];
  if (outputs === 3) result.push(hmacBlake2b(tempKey, concat(out2, Uint8Array.of(0x03))));
  wipe(tempKey);
  return result;
}

function first32(bytes: Uint8Array | undefined): Uint8Array {
  if (bytes === undefined || bytes.length < KEY_LEN) throw new Error('noise: HKDF output too short'); // impossible
  const out = bytes.slice(0, KEY_LEN);
  wipe(bytes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CipherState (section 5.1)

export class CipherState {
  #k: Secret | null;
  #n = 0n;
  readonly #where: string;

  constructor(key: Uint8Array | null, where = 'noise.CipherState') {
    if (key !== null && key.length !== KEY_LEN) throw new CryptoError('malformed', where, `key is ${key.length} bytes, expected ${KEY_LEN}`);
    this.#k = key === null ? null : new Secret(key, 'noise cipher key');
    this.#where = where;
  }

  hasKey(): boolean {
    return this.#k !== null;
  }

  /** The next nonce EncryptWithAd/DecryptWithAd will use. */
  get nonce(): bigint {
    return this.#n;
  }

  /** Section 5.1 EncryptWithAd: encrypts under n then increments n; passes plaintext through without a key. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === null) return plaintext.slice();
    const out = this.encryptAt(this.#n, ad, plaintext);
    this.#n++;
    return out;
  }

  /** Section 5.1 DecryptWithAd: n advances only when the ciphertext authenticates. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === null) return ciphertext.slice();
    const out = this.decryptAt(this.#n, ad, ciphertext);
    this.#n++;
    return out;
  }

  /**
   * ENCRYPT(k, n, ad, plaintext) with an explicit nonce and without touching the internal counter,
   * for transports that carry the nonce in the message (as WireGuard and Vigil sessions do). The
   * caller MUST never pass the same n twice for one key.
   */
  encryptAt(n: bigint, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const key = this.#key();
    this.#checkNonce(n);
    if (plaintext.length > MAX_MESSAGE_LEN - TAG_LEN) {
      throw new CryptoError('malformed', this.#where, `plaintext of ${plaintext.length} bytes exceeds the Noise message limit`);
    }
    return sodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, chachaNonce(n), key);
  }

  /** DECRYPT(k, n, ad, ciphertext) with an explicit nonce; 'tampered' when it does not authenticate. */
  decryptAt(n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const key = this.#key();
    this.#checkNonce(n);
    if (ciphertext.length < TAG_LEN) throw new CryptoError('malformed', this.#where, `ciphertext of ${ciphertext.length} bytes is shorter than the tag`);
    if (ciphertext.length > MAX_MESSAGE_LEN) throw new CryptoError('malformed', this.#where, `ciphertext of ${ciphertext.length} bytes exceeds the Noise message limit`);
    try {
      return sodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, chachaNonce(n), key);
    } catch (cause) {
      throw new CryptoError('tampered', this.#where, `authentication failed (nonce ${n})`, { cause });
    }
  }

  /** Section 4.2 REKEY(k): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). */
  rekey(): void {
    const key = this.#key();
    const next = sodium().crypto_aead_chacha20poly1305_ietf_encrypt(new Uint8Array(KEY_LEN), EMPTY, null, chachaNonce(MAX_NONCE), key);
    this.#k?.wipe();
    this.#k = new Secret(next.slice(0, KEY_LEN), 'noise cipher key');
    wipe(next);
  }

  /** Section 5.1 SetNonce. */
  setNonce(n: bigint): void {
    this.#checkNonce(n);
    this.#n = n;
  }

  /** Forgets the key; every later use fails. */
  destroy(): void {
    this.#k?.wipe();
    this.#k = null;
  }

  #key(): Uint8Array {
    if (this.#k === null) throw new CryptoError('malformed', this.#where, 'cipher has no key (destroyed or not yet keyed)');
    return this.#k.expose();
  }

  #checkNonce(n: bigint): void {
    if (n < 0n || n >= MAX_NONCE) throw new CryptoError('expired', this.#where, 'nonce space exhausted; a new handshake is needed');
  }

  toString(): string {
    return `[noise CipherState ${this.#k === null ? 'empty' : 'keyed'}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// SymmetricState (section 5.2)

export class SymmetricState {
  #ck: Uint8Array;
  #h: Uint8Array;
  #cipher: CipherState;
  readonly #where: string;

  constructor(protocolName: string, where: string) {
    const name = new TextEncoder().encode(protocolName);
    // InitializeSymmetric: a name up to HASHLEN bytes is zero-padded, a longer one hashed.
    if (name.length <= HASH_LEN) {
      this.#h = new Uint8Array(HASH_LEN);
      this.#h.set(name);
    } else {
      this.#h = hash(name);
    }
    this.#ck = this.#h.slice();
    this.#cipher = new CipherState(null, where);
    this.#where = where;
  }

  get handshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  hasKey(): boolean {
    return this.#cipher.hasKey();
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf(this.#ck, ikm, 2);
    this.#replaceChainingKey(ck);
    this.#cipher.destroy();
    this.#cipher = new CipherState(first32(tempK), this.#where);
  }

  mixHash(data: Uint8Array): void {
    this.#h = hash(concat(this.#h, data));
  }

  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.#ck, ikm, 3);
    this.#replaceChainingKey(ck);
    if (tempH === undefined) throw new Error('noise: HKDF returned too few outputs'); // impossible
    this.mixHash(tempH);
    this.#cipher.destroy();
    this.#cipher = new CipherState(first32(tempK), this.#where);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Section 5.2 Split(): two CipherStates, (initiator→responder, responder→initiator). */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.#ck, EMPTY, 2);
    const c1 = new CipherState(first32(k1), `${this.#where}.transport`);
    const c2 = new CipherState(first32(k2), `${this.#where}.transport`);
    this.destroy();
    return [c1, c2];
  }

  destroy(): void {
    wipe(this.#ck);
    this.#cipher.destroy();
  }

  #replaceChainingKey(ck: Uint8Array | undefined): void {
    if (ck === undefined) throw new Error('noise: HKDF returned no outputs'); // impossible
    wipe(this.#ck);
    this.#ck = ck;
  }

  toString(): string {
    return '[noise SymmetricState]';
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake patterns (section 7). Message i is sent by the initiator when i is even; every pattern
// here is interactive. A psk modifier (section 9) is applied to the base pattern by `withPsk`, so
// adding a pattern is one table row.

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';
type PreToken = 'e' | 's';

interface PatternSpec {
  /** Pre-message of the initiator (`-> s` before `...`). */
  readonly initiatorPre: readonly PreToken[];
  /** Pre-message of the responder (`<- s` before `...`). */
  readonly responderPre: readonly PreToken[];
  readonly messages: readonly (readonly Token[])[];
}

const BASE_PATTERNS = {
  // IK:  <- s  ...  -> e, es, s, ss   <- e, ee, se
  IK: { initiatorPre: [], responderPre: ['s'], messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] },
  // XX:  -> e   <- e, ee, s, es   -> s, se
  XX: { initiatorPre: [], responderPre: [], messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
  // KK:  -> s  <- s  ...  -> e, es, ss   <- e, ee, se
  KK: { initiatorPre: ['s'], responderPre: ['s'], messages: [['e', 'es', 'ss'], ['e', 'ee', 'se']] },
} as const satisfies Record<string, PatternSpec>;

/** The patterns this build speaks, by their Noise names. */
export const NOISE_PATTERNS = {
  IK: BASE_PATTERNS.IK,
  IKpsk2: withPsk(BASE_PATTERNS.IK, 2),
  XX: BASE_PATTERNS.XX,
  XXpsk3: withPsk(BASE_PATTERNS.XX, 3),
  KK: BASE_PATTERNS.KK,
} as const satisfies Record<string, PatternSpec>;

export type NoisePattern = keyof typeof NOISE_PATTERNS;

/** Section 9.2: psk0 goes first in message 1; pskN (N ≥ 1) goes last in message N. */
function withPsk(base: PatternSpec, position: number): PatternSpec {
  if (position > base.messages.length) throw new Error(`noise: psk${position} is past the last message`);
  const messages = base.messages.map((m) => [...m]);
  if (position === 0) messages[0]?.unshift('psk');
  else messages[position - 1]?.push('psk');
  return { ...base, messages };
}

function isPsk(spec: PatternSpec): boolean {
  return spec.messages.some((m) => m.includes('psk'));
}

export function protocolName(pattern: NoisePattern): string {
  return `Noise_${pattern}_${SUITE}`;
}

// ---------------------------------------------------------------------------------------------
// HandshakeState (section 5.3)

export interface HandshakeOptions {
  readonly pattern: NoisePattern;
  readonly initiator: boolean;
  /** Bound into the handshake hash: both sides MUST use the same bytes or the handshake fails. */
  readonly prologue: Uint8Array;
  /** Our static X25519 key pair (identity.ts `exchange`); required when the pattern uses `s`. */
  readonly staticKeyPair?: KeyPair;
  /** The peer's static X25519 public key, when the pattern has it as a pre-message (IK, KK initiator; KK responder). */
  readonly remoteStatic?: Uint8Array;
  /** 32-byte pre-shared key for psk patterns; may instead be given later with `setPsk`. */
  readonly psk?: Uint8Array;
}

/**
 * Test-only options. `createHandshake` never passes these; only crypto/noise.testing.ts does, and
 * the HandshakeState constructor refuses them outside a test runner, so a fixed ephemeral (which
 * would destroy forward secrecy and reuse nonces) cannot reach production.
 */
export interface TestOnlyHandshakeOptions {
  readonly fixedEphemeral?: Uint8Array;
}

/** True only under vitest; always false in a browser or a production process. */
export function isTestEnvironment(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env !== undefined && (env.VITEST === 'true');
}

interface SplitResult {
  /** Encrypts what we send. */
  readonly send: CipherState;
  /** Decrypts what the peer sends. */
  readonly receive: CipherState;
}

type Phase = 'handshake' | 'complete' | 'split' | 'failed';

export class HandshakeState {
  readonly pattern: NoisePattern;
  readonly initiator: boolean;
  readonly #spec: PatternSpec;
  readonly #psk: boolean;
  readonly #symmetric: SymmetricState;
  readonly #where: string;
  #s: KeyPair | undefined;
  #e: { publicKey: Uint8Array; privateKey: Secret } | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  #pskKey: Secret | undefined;
  #pskUsed = false;
  #fixedEphemeral: Uint8Array | undefined;
  #index = 0;
  #phase: Phase = 'handshake';
  #finalHash: Uint8Array | undefined;

  constructor(options: HandshakeOptions, testOnly?: TestOnlyHandshakeOptions) {
    const where = `noise(${options.pattern}, ${options.initiator ? 'initiator' : 'responder'})`;
    this.#where = where;
    if (testOnly !== undefined && !isTestEnvironment()) {
      throw new CryptoError('forbidden', where, 'test-only handshake options are refused outside tests');
    }
    if (!Object.hasOwn(NOISE_PATTERNS, options.pattern)) throw new CryptoError('unsupported', where, 'unknown Noise pattern');
    const spec: PatternSpec = NOISE_PATTERNS[options.pattern];
    this.pattern = options.pattern;
    this.initiator = options.initiator;
    this.#spec = spec;
    this.#psk = isPsk(spec);

    // Check the keys the pattern needs are present, and refuse ones it cannot use: a conflicting
    // option is a bug in the caller, better caught here than as a handshake that never completes.
    const myPre = options.initiator ? spec.initiatorPre : spec.responderPre;
    const theirPre = options.initiator ? spec.responderPre : spec.initiatorPre;
    const mySends = spec.messages.filter((_, i) => (i % 2 === 0) === options.initiator).flat();
    const needStatic = myPre.includes('s') || mySends.includes('s');
    if (needStatic && options.staticKeyPair === undefined) throw new CryptoError('malformed', where, 'pattern needs a static key pair');
    if (!needStatic && options.staticKeyPair !== undefined) throw new CryptoError('malformed', where, 'pattern sends no static key');
    if (options.staticKeyPair !== undefined) {
      checkLength(options.staticKeyPair.publicKey, DH_LEN, where, 'static public key');
      checkLength(options.staticKeyPair.privateKey.expose(), DH_LEN, where, 'static private key');
    }
    const knowRemote = theirPre.includes('s');
    if (knowRemote && options.remoteStatic === undefined) throw new CryptoError('malformed', where, 'pattern needs the remote static key');
    if (!knowRemote && options.remoteStatic !== undefined) throw new CryptoError('malformed', where, 'pattern learns the remote static key from the handshake');
    if (options.remoteStatic !== undefined) checkLength(options.remoteStatic, DH_LEN, where, 'remote static key');
    if (options.psk !== undefined && !this.#psk) throw new CryptoError('malformed', where, 'pattern takes no psk');
    if (myPre.includes('e') || theirPre.includes('e')) throw new CryptoError('unsupported', where, 'ephemeral pre-messages are not supported');

    this.#s = options.staticKeyPair;
    this.#rs = (options.remoteStatic === undefined ? undefined : new Uint8Array(options.remoteStatic));
    if (options.psk !== undefined) this.setPsk(options.psk);
    if (testOnly?.fixedEphemeral !== undefined) {
      checkLength(testOnly.fixedEphemeral, DH_LEN, where, 'fixed ephemeral');
      this.#fixedEphemeral = new Uint8Array(testOnly.fixedEphemeral);
    }

    // Section 5.3 Initialize(): name, prologue, then pre-message keys, the initiator's first.
    this.#symmetric = new SymmetricState(protocolName(options.pattern), where);
    this.#symmetric.mixHash(options.prologue);
    const initiatorStatic = options.initiator ? this.#s?.publicKey : this.#rs;
    const responderStatic = options.initiator ? this.#rs : this.#s?.publicKey;
    if (spec.initiatorPre.includes('s') && initiatorStatic !== undefined) this.#symmetric.mixHash(initiatorStatic);
    if (spec.responderPre.includes('s') && responderStatic !== undefined) this.#symmetric.mixHash(responderStatic);
  }

  /** True once the last handshake message was written or read. */
  get isComplete(): boolean {
    return this.#phase === 'complete' || this.#phase === 'split';
  }

  /** True when the next handshake message is ours to write. */
  get isMyTurn(): boolean {
    return this.#phase === 'handshake' && (this.#index % 2 === 0) === this.initiator;
  }

  /** Section 5.3 GetHandshakeHash(): h after the last message, the channel binding (pairing codes). */
  get handshakeHash(): Uint8Array {
    if (this.#finalHash === undefined) throw this.#error('malformed', 'handshake hash read before the handshake completed');
    return this.#finalHash.slice();
  }

  /** The peer's static X25519 key: from a pre-message, or once its `s` token was read. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.#rs?.slice();
  }

  /**
   * Supplies the PSK after construction: a responder may learn which PSK applies from message 1's
   * payload (Vigil sessions do), as long as the `psk` token has not been processed yet.
   */
  setPsk(psk: Uint8Array): void {
    if (!this.#psk) throw this.#error('malformed', 'pattern takes no psk');
    if (this.#phase === 'failed') throw this.#error('malformed', 'handshake already failed');
    if (this.#pskUsed) throw this.#error('malformed', 'psk supplied after it was used');
    if (this.#pskKey !== undefined) throw this.#error('malformed', 'psk already set');
    checkLength(psk, PSK_LEN, this.#where, 'psk');
    this.#pskKey = new Secret(new Uint8Array(psk), 'noise psk');
  }

  /** Section 5.3 WriteMessage(payload, message_buffer): returns the handshake message. */
  writeMessage(payload: Uint8Array): Uint8Array {
    const where = `${this.#where}.writeMessage(${this.#index + 1})`;
    this.#checkTurn(true, where);
    const tokens = this.#tokens();
    const overhead = messageOverhead(tokens, this.#symmetric.hasKey(), this.#psk);
    if (overhead.bytes + payload.length > MAX_MESSAGE_LEN) {
      throw new CryptoError('malformed', where, `payload of ${payload.length} bytes makes the message exceed ${MAX_MESSAGE_LEN} bytes`);
    }
    if (tokens.includes('psk') && this.#pskKey === undefined) throw new CryptoError('malformed', where, 'psk not set');
    return this.#guard(where, () => {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        switch (token) {
          case 'e': {
            if (this.#e !== undefined) throw new CryptoError('malformed', where, 'ephemeral key sent twice');
            this.#e = this.#generateEphemeral();
            parts.push(this.#e.publicKey);
            this.#symmetric.mixHash(this.#e.publicKey);
            if (this.#psk) this.#symmetric.mixKey(this.#e.publicKey);
            break;
          }
          case 's':
            parts.push(this.#symmetric.encryptAndHash(this.#mustStatic(where).publicKey));
            break;
          default:
            this.#mixToken(token, where);
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload));
      this.#advance();
      return concat(...parts);
    });
  }

  /** Section 5.3 ReadMessage(message, payload_buffer): returns the payload. */
  readMessage(message: Uint8Array): Uint8Array {
    const where = `${this.#where}.readMessage(${this.#index + 1})`;
    this.#checkTurn(false, where);
    if (!(message instanceof Uint8Array)) throw new CryptoError('malformed', where, 'message is not bytes');
    if (message.length > MAX_MESSAGE_LEN) throw this.#fail(new CryptoError('malformed', where, `message of ${message.length} bytes exceeds ${MAX_MESSAGE_LEN}`));
    const tokens = this.#tokens();
    const overhead = messageOverhead(tokens, this.#symmetric.hasKey(), this.#psk);
    if (message.length < overhead.bytes) {
      throw this.#fail(new CryptoError('malformed', where, `message of ${message.length} bytes is shorter than the ${overhead.bytes} the pattern needs`));
    }
    if (tokens.includes('psk') && this.#pskKey === undefined) throw new CryptoError('malformed', where, 'psk not set');
    return this.#guard(where, () => {
      let offset = 0;
      const take = (n: number): Uint8Array => {
        // Lengths were checked against the overhead above; this re-check keeps the invariant local.
        if (offset + n > message.length) throw new CryptoError('malformed', where, 'message truncated');
        const out = message.slice(offset, offset + n);
        offset += n;
        return out;
      };
      for (const token of tokens) {
        switch (token) {
          case 'e': {
            if (this.#re !== undefined) throw new CryptoError('malformed', where, 'ephemeral key received twice');
            this.#re = take(DH_LEN);
            this.#symmetric.mixHash(this.#re);
            if (this.#psk) this.#symmetric.mixKey(this.#re);
            break;
          }
          case 's': {
            if (this.#rs !== undefined) throw new CryptoError('malformed', where, 'static key received twice');
            const sealed = take(DH_LEN + (this.#symmetric.hasKey() ? TAG_LEN : 0));
            this.#rs = this.#symmetric.decryptAndHash(sealed);
            break;
          }
          default:
            this.#mixToken(token, where);
        }
      }
      const payload = this.#symmetric.decryptAndHash(message.slice(offset));
      this.#advance();
      return payload;
    });
  }

  /**
   * Section 5.2 Split(), once, after the handshake: `send` encrypts what we send, `receive` decrypts
   * what the peer sends. The handshake's own secrets are wiped.
   */
  split(): SplitResult {
    if (this.#phase !== 'complete') throw this.#error('malformed', this.#phase === 'split' ? 'split called twice' : 'split before the handshake completed');
    const [c1, c2] = this.#symmetric.split();
    this.#phase = 'split';
    this.#wipeEphemeral();
    return this.initiator ? { send: c1, receive: c2 } : { send: c2, receive: c1 };
  }

  #tokens(): readonly Token[] {
    const tokens = this.#spec.messages[this.#index];
    if (tokens === undefined) throw this.#error('malformed', 'no handshake message left');
    return tokens;
  }

  #checkTurn(writing: boolean, where: string): void {
    if (this.#phase === 'failed') throw new CryptoError('malformed', where, 'handshake already failed');
    if (this.#phase !== 'handshake') throw new CryptoError('malformed', where, 'handshake already complete');
    if (this.isMyTurn !== writing) {
      throw new CryptoError('malformed', where, `called out of order: it is the ${writing ? 'peer' : 'local side'}'s turn to write`);
    }
  }

  #mixToken(token: Exclude<Token, 'e' | 's'>, where: string): void {
    switch (token) {
      case 'ee':
        this.#symmetric.mixKey(dh(this.#mustE(where), this.#mustRe(where), where));
        return;
      case 'es':
        this.#symmetric.mixKey(
          this.initiator ? dh(this.#mustE(where), this.#mustRs(where), where) : dh(this.#mustStatic(where).privateKey.expose(), this.#mustRe(where), where),
        );
        return;
      case 'se':
        this.#symmetric.mixKey(
          this.initiator ? dh(this.#mustStatic(where).privateKey.expose(), this.#mustRe(where), where) : dh(this.#mustE(where), this.#mustRs(where), where),
        );
        return;
      case 'ss':
        this.#symmetric.mixKey(dh(this.#mustStatic(where).privateKey.expose(), this.#mustRs(where), where));
        return;
      case 'psk': {
        if (this.#pskKey === undefined) throw new CryptoError('malformed', where, 'psk not set');
        this.#symmetric.mixKeyAndHash(this.#pskKey.expose());
        this.#pskUsed = true;
        this.#pskKey.wipe();
        return;
      }
      default:
        unreachable(token);
    }
  }

  #generateEphemeral(): { publicKey: Uint8Array; privateKey: Secret } {
    if (this.#fixedEphemeral !== undefined) {
      const privateKey = this.#fixedEphemeral;
      this.#fixedEphemeral = undefined;
      return { publicKey: sodium().crypto_scalarmult_base(privateKey), privateKey: new Secret(privateKey, 'noise ephemeral key') };
    }
    const kp = sodium().crypto_box_keypair();
    return { publicKey: kp.publicKey, privateKey: new Secret(kp.privateKey, 'noise ephemeral key') };
  }

  #advance(): void {
    this.#index++;
    if (this.#index === this.#spec.messages.length) {
      this.#phase = 'complete';
      this.#finalHash = this.#symmetric.handshakeHash;
    }
  }

  /** Runs one message's processing; any failure aborts the handshake for good. */
  #guard<T>(where: string, body: () => T): T {
    try {
      return body();
    } catch (e) {
      throw this.#fail(isCryptoError(e) ? e : new CryptoError('malformed', where, 'internal failure', { cause: e }));
    }
  }

  #fail(error: CryptoError): CryptoError {
    this.#phase = 'failed';
    this.#symmetric.destroy();
    this.#wipeEphemeral();
    this.#pskKey?.wipe();
    return error;
  }

  #wipeEphemeral(): void {
    this.#e?.privateKey.wipe();
  }

  #mustStatic(where: string): KeyPair {
    if (this.#s === undefined) throw new CryptoError('malformed', where, 'no static key');
    return this.#s;
  }
  #mustE(where: string): Uint8Array {
    if (this.#e === undefined) throw new CryptoError('malformed', where, 'no local ephemeral key');
    return this.#e.privateKey.expose();
  }
  #mustRe(where: string): Uint8Array {
    if (this.#re === undefined) throw new CryptoError('malformed', where, 'no remote ephemeral key');
    return this.#re;
  }
  #mustRs(where: string): Uint8Array {
    if (this.#rs === undefined) throw new CryptoError('malformed', where, 'no remote static key');
    return this.#rs;
  }

  #error(code: 'malformed', detail: string): CryptoError {
    return new CryptoError(code, this.#where, detail);
  }

  toString(): string {
    return `[noise HandshakeState ${this.pattern} ${this.initiator ? 'initiator' : 'responder'} ${this.#phase}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

/**
 * The bytes a message needs besides its payload, given whether a key is set when it starts: lets
 * writeMessage refuse an oversized payload and readMessage a short message before any state moves.
 */
function messageOverhead(tokens: readonly Token[], keyedAtStart: boolean, psk: boolean): { bytes: number } {
  let keyed = keyedAtStart;
  let bytes = 0;
  for (const token of tokens) {
    if (token === 'e') {
      bytes += DH_LEN;
      if (psk) keyed = true;
    } else if (token === 's') {
      bytes += DH_LEN + (keyed ? TAG_LEN : 0);
    } else {
      keyed = true;
    }
  }
  return { bytes: bytes + (keyed ? TAG_LEN : 0) };
}

function checkLength(bytes: Uint8Array, expected: number, where: string, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== expected) {
    throw new CryptoError('malformed', where, `${what} must be ${expected} bytes`);
  }
}

/** Starts a handshake with a fresh random ephemeral key. */
export function createHandshake(options: HandshakeOptions): HandshakeState {
  return new HandshakeState(options);
}
