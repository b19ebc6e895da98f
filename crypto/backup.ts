// The hub's backup (PROTOCOL §18): its identity and the store rows it needs to come back, encrypted
// to recovery keys the hub does not keep. A recovery key is a 32-byte seed of an X-Wing key pair:
// the hub keeps only the public key, so it can seal each new backup to it, and neither its disk nor
// a thief of it holds what opens one. There are two kinds:
//   - the printed recovery code: the seed itself, shown once as text and QR (`vigil backup --print-code`);
//   - the owners' key: a seed split k of n among owner phones (crypto/shamir.ts), each share sealed
//     to one owner phone's X-Wing key as recording seeds are (§15.1).
// A backup carries one data key wrapped to each recovery key (as age wraps a file key to each
// recipient), and its payload under that data key with XChaCha20-Poly1305.
import { concat, equalBytes } from './bytes.ts';
import { CryptoError, malformed } from './errors.ts';
import { deriveKey, labeledHash } from './hash.ts';
import { ID_BYTES, XWING_CIPHERTEXT_BYTES, XWING_PUBLIC_BYTES, pqPrivateKey, type DeviceIdentity } from './identity.ts';
import { LABEL_BACKUP_SHARE, LABEL_BACKUP_WRAP, LABEL_RECOVERY_CODE, PROTOCOL_VERSION } from './labels.ts';
import { Secret } from './secret.ts';
import { combineShares, type Share } from './shamir.ts';
import { sodium } from './sodium.ts';
import { Reader, Writer } from './wire.ts';

export const RECOVERY_SEED_BYTES = 32;
export const RECOVERY_KEY_ID_BYTES = 16;
const DATA_KEY_BYTES = 32;
const TAG_BYTES = 16;
const NONCE_BYTES = 24;
/** Recovery keys one backup is sealed to (the code and the owners' key; room for a change-over). */
export const MAX_RECIPIENTS = 4;
/** The most payload a backup holds; the hub's rows are far smaller (PROTOCOL §18.1). */
export const MAX_BACKUP_PAYLOAD_BYTES = 16 * 1024 * 1024;

export type RecoveryKind = 'code' | 'owners';
const KIND_CODE: Record<RecoveryKind, number> = { code: 1, owners: 2 };

const HEADER_BYTES = 1 + ID_BYTES + 8 + 1;
const RECIPIENT_BYTES = 1 + RECOVERY_KEY_ID_BYTES + 1 + 1 + XWING_CIPHERTEXT_BYTES + DATA_KEY_BYTES + TAG_BYTES;

/** A recovery key as the hub keeps it: public only. */
export interface RecoveryRecipient {
  readonly kind: RecoveryKind;
  readonly publicKey: Uint8Array;
  /** Shares needed and made (1 of 1 for the code). */
  readonly k: number;
  readonly n: number;
}

export interface RecoveryKey {
  /** The seed: printed as the code, or split among owner phones. */
  readonly seed: Secret;
  readonly publicKey: Uint8Array;
  readonly keyId: Uint8Array;
}

/** H("vigil v1 backup wrap", 16, publicKey): names a recovery key without showing it. */
export function recoveryKeyId(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== XWING_PUBLIC_BYTES) throw malformed('recoveryKeyId', 'not an X-Wing public key');
  return labeledHash(LABEL_BACKUP_WRAP, RECOVERY_KEY_ID_BYTES, publicKey);
}

/** The key pair of a seed (a new one, or one rebuilt from the code or from shares). */
export function recoveryKeyFrom(seed: Uint8Array): RecoveryKey {
  if (seed.length !== RECOVERY_SEED_BYTES) throw malformed('recoveryKeyFrom', `a recovery seed is ${RECOVERY_SEED_BYTES} bytes`);
  const { publicKey, privateKey } = sodium().crypto_kem_xwing_seed_keypair(seed);
  privateKey.fill(0);
  return { seed: new Secret(Uint8Array.from(seed), 'recovery seed'), publicKey, keyId: recoveryKeyId(publicKey) };
}

export function newRecoveryKey(): RecoveryKey {
  const seed = sodium().randombytes_buf(RECOVERY_SEED_BYTES);
  try {
    return recoveryKeyFrom(seed);
  } finally {
    seed.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// The printed code: the seed and a 2-byte check, in Crockford's base32, groups of 5.

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_PREFIX = 'VR1';
const CODE_CHECK_BYTES = 2;

function codeCheck(seed: Uint8Array): Uint8Array {
  return labeledHash(LABEL_RECOVERY_CODE, CODE_CHECK_BYTES, seed);
}

/** "VR1-XXXXX-XXXXX-…": 55 characters of base32 after the prefix (272 bits, the last 3 bits zero). */
export function encodeRecoveryCode(seed: Secret): string {
  const bytes = concat(seed.expose(), codeCheck(seed.expose()));
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  bytes.fill(0);
  const groups = out.match(/.{1,5}/g) ?? [];
  return [CODE_PREFIX, ...groups].join('-');
}

/**
 * The seed back from a typed code: case, spaces and dashes do not matter, and I, L (one) and O
 * (zero) are read as Crockford's base32 reads them. A wrong length, an unknown character or a
 * failed check is `malformed` (a typo, said before anything is tried).
 */
export function decodeRecoveryCode(code: string): Secret {
  const where = 'decodeRecoveryCode';
  if (typeof code !== 'string' || code.length > 200) throw malformed(where, 'not a recovery code');
  let s = code.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (!s.startsWith(CODE_PREFIX)) throw malformed(where, `a recovery code starts with ${CODE_PREFIX}`);
  s = s.slice(CODE_PREFIX.length);
  const want = Math.ceil(((RECOVERY_SEED_BYTES + CODE_CHECK_BYTES) * 8) / 5);
  if (s.length !== want) throw malformed(where, `a recovery code has ${want} characters after ${CODE_PREFIX}, this one ${s.length}`);
  const bytes = new Uint8Array(RECOVERY_SEED_BYTES + CODE_CHECK_BYTES);
  let bits = 0;
  let value = 0;
  let n = 0;
  for (const c of s) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw malformed(where, 'a character that is not in a recovery code');
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes[n++] = (value >> (bits - 8)) & 0xff;
      bits -= 8;
    }
    value &= (1 << bits) - 1;
  }
  if (value !== 0) throw malformed(where, 'not a canonical recovery code');
  const seed = bytes.slice(0, RECOVERY_SEED_BYTES);
  const ok = equalBytes(codeCheck(seed), bytes.subarray(RECOVERY_SEED_BYTES));
  bytes.fill(0);
  if (!ok) {
    seed.fill(0);
    throw malformed(where, 'the recovery code\'s check does not match (a typo?)');
  }
  return new Secret(seed, 'recovery seed');
}

// ---------------------------------------------------------------------------------------------
// The backup blob.

export interface BackupAddress {
  readonly hubId: Uint8Array;
  /** Unix ms, by the hub's clock. */
  readonly madeAt: number;
  readonly recipients: readonly { readonly kind: RecoveryKind; readonly keyId: Uint8Array; readonly k: number; readonly n: number }[];
}

function headerOf(hubId: Uint8Array, madeAt: number, count: number): Uint8Array {
  return new Writer().u8(PROTOCOL_VERSION).fixed(hubId, ID_BYTES).u64(BigInt(madeAt)).u8(count).finish();
}

function recipientAd(header: Uint8Array, kind: number, keyId: Uint8Array, k: number, n: number): Uint8Array {
  return concat(header, Uint8Array.of(kind), keyId, Uint8Array.of(k, n));
}

/**
 * Seals `payload` for each recovery key:
 *   dk = random(32)
 *   header = u8 version || hubId || u64 madeAt || u8 count
 *   for each recipient: (ct, ss) = XWing.Encaps(pk); keyId = H("vigil v1 backup wrap", 16, pk)
 *     w = KDF(ss, "vigil v1 backup wrap", 32, ct || header || keyId)
 *     recipient = u8 kind || keyId || u8 k || u8 n || ct || AEAD(w, 0^12, ad = header || u8 kind || keyId || u8 k || u8 n, dk)
 *   blob = header || recipients || nonce(24) || XChaCha20-Poly1305(dk, nonce, ad = header || recipients, payload)
 */
export function sealBackup(hubId: Uint8Array, madeAt: number, recipients: readonly RecoveryRecipient[], payload: Uint8Array): Uint8Array {
  const where = 'sealBackup';
  if (hubId.length !== ID_BYTES) throw malformed(where, 'hub id');
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) throw malformed(where, `1 to ${MAX_RECIPIENTS} recovery keys`);
  if (payload.length > MAX_BACKUP_PAYLOAD_BYTES) throw malformed(where, 'payload too large');
  const s = sodium();
  const header = headerOf(hubId, madeAt, recipients.length);
  const dk = s.crypto_aead_xchacha20poly1305_ietf_keygen();
  try {
    const parts = recipients.map((r) => {
      if (!(r.k >= 1 && r.k <= r.n && r.n <= 255) || (r.kind === 'code' && r.n !== 1)) throw malformed(where, 'k of n');
      const keyId = recoveryKeyId(r.publicKey);
      const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(r.publicKey);
      const w = deriveKey(sharedSecret, LABEL_BACKUP_WRAP, 32, ciphertext, header, keyId);
      sharedSecret.fill(0);
      const kind = KIND_CODE[r.kind];
      const wrapped = s.crypto_aead_chacha20poly1305_ietf_encrypt(dk, recipientAd(header, kind, keyId, r.k, r.n), null, new Uint8Array(12), w);
      w.fill(0);
      return concat(Uint8Array.of(kind), keyId, Uint8Array.of(r.k, r.n), ciphertext, wrapped);
    });
    const ad = concat(header, ...parts);
    const nonce = s.randombytes_buf(NONCE_BYTES);
    return concat(ad, nonce, s.crypto_aead_xchacha20poly1305_ietf_encrypt(payload, ad, null, nonce, dk));
  } finally {
    dk.fill(0);
  }
}

interface ParsedBackup extends BackupAddress {
  readonly ad: Uint8Array;
  readonly header: Uint8Array;
  readonly parts: readonly { readonly kind: number; readonly keyId: Uint8Array; readonly k: number; readonly n: number; readonly ct: Uint8Array; readonly wrapped: Uint8Array }[];
  readonly nonce: Uint8Array;
  readonly body: Uint8Array;
}

function parseBackup(blob: Uint8Array, where: string): ParsedBackup {
  if (!(blob instanceof Uint8Array) || blob.length < HEADER_BYTES) throw malformed(where, 'too short');
  if (blob.length > HEADER_BYTES + MAX_RECIPIENTS * RECIPIENT_BYTES + NONCE_BYTES + MAX_BACKUP_PAYLOAD_BYTES + TAG_BYTES) throw malformed(where, 'too large');
  const r = new Reader(blob, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const madeAtBig = r.u64('madeAt');
  if (madeAtBig > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(where, 'madeAt out of range');
  const count = r.u8('count');
  if (count < 1 || count > MAX_RECIPIENTS) throw malformed(where, 'recipient count');
  const parts: ParsedBackup['parts'][number][] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.u8('kind');
    if (kind !== 1 && kind !== 2) throw malformed(where, 'unknown recovery key kind');
    const keyId = r.fixed(RECOVERY_KEY_ID_BYTES, 'keyId');
    const k = r.u8('k');
    const n = r.u8('n');
    if (k < 1 || k > n || (kind === 1 && n !== 1)) throw malformed(where, 'k of n');
    parts.push({ kind, keyId, k, n, ct: r.fixed(XWING_CIPHERTEXT_BYTES, 'ciphertext'), wrapped: r.fixed(DATA_KEY_BYTES + TAG_BYTES, 'wrapped key') });
  }
  const adLength = HEADER_BYTES + count * RECIPIENT_BYTES;
  const nonce = r.fixed(NONCE_BYTES, 'nonce');
  const body = r.rest();
  if (body.length < TAG_BYTES) throw malformed(where, 'truncated payload');
  return {
    hubId, madeAt: Number(madeAtBig), ad: blob.subarray(0, adLength), header: blob.subarray(0, HEADER_BYTES), parts, nonce, body,
    recipients: parts.map((p) => ({ kind: p.kind === 1 ? 'code' as const : 'owners' as const, keyId: p.keyId, k: p.k, n: p.n })),
  };
}

/** Whose backup and to which recovery keys, read without opening it. */
export function backupAddress(blob: Uint8Array): BackupAddress {
  const { hubId, madeAt, recipients } = parseBackup(blob, 'backupAddress');
  return { hubId, madeAt, recipients };
}

/**
 * The payload, for whoever holds a recovery seed the backup was sealed to. A seed it was not sealed
 * to is `not-for-me`; any changed bit, or a seed rebuilt from too few or mixed shares that happens
 * to share no key id, fails authentication: `tampered`.
 */
export function openBackup(blob: Uint8Array, seed: Secret): { hubId: Uint8Array; madeAt: number; payload: Uint8Array } {
  const where = 'openBackup';
  const p = parseBackup(blob, where);
  const key = recoveryKeyFrom(seed.expose());
  const part = p.parts.find((x) => equalBytes(x.keyId, key.keyId));
  key.seed.wipe();
  if (part === undefined) throw new CryptoError('not-for-me', where, 'this backup is not sealed to that recovery key (another code, or shares of another split)');
  const s = sodium();
  let dk: Uint8Array;
  try {
    const { privateKey } = s.crypto_kem_xwing_seed_keypair(seed.expose());
    const ss = s.crypto_kem_xwing_dec(part.ct, privateKey);
    privateKey.fill(0);
    const w = deriveKey(ss, LABEL_BACKUP_WRAP, 32, part.ct, p.header, part.keyId);
    ss.fill(0);
    dk = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, part.wrapped, recipientAd(p.header, part.kind, part.keyId, part.k, part.n), new Uint8Array(12), w);
    w.fill(0);
  } catch {
    throw new CryptoError('tampered', where, 'the data key does not unwrap (a changed backup)');
  }
  try {
    const payload = s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, p.body, p.ad, p.nonce, dk);
    return { hubId: p.hubId, madeAt: p.madeAt, payload };
  } catch {
    throw new CryptoError('tampered', where, 'the payload does not authenticate (a changed backup)');
  } finally {
    dk.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// A share of the owners' key, sealed to one owner phone.

export interface BackupShare {
  readonly hubId: Uint8Array;
  readonly keyId: Uint8Array;
  readonly k: number;
  readonly n: number;
  readonly share: Share;
}

const SHARE_BYTES = 1 + ID_BYTES + RECOVERY_KEY_ID_BYTES + 3 + RECOVERY_SEED_BYTES;
const SEALED_SHARE_PREFIX = 1 + ID_BYTES + ID_BYTES + RECOVERY_KEY_ID_BYTES + XWING_CIPHERTEXT_BYTES;
export const SEALED_SHARE_BYTES = SEALED_SHARE_PREFIX + SHARE_BYTES + TAG_BYTES;

/** share = u8 version || hubId || keyId || u8 k || u8 n || u8 x || y (32): 69 bytes. */
export function encodeBackupShare(s: BackupShare): Uint8Array {
  if (s.share.y.length !== RECOVERY_SEED_BYTES) throw malformed('encodeBackupShare', 'share length');
  return new Writer().u8(PROTOCOL_VERSION).fixed(s.hubId, ID_BYTES).fixed(s.keyId, RECOVERY_KEY_ID_BYTES).u8(s.k).u8(s.n).u8(s.share.x)
    .fixed(s.share.y, RECOVERY_SEED_BYTES).finish();
}

export function decodeBackupShare(wire: Uint8Array): BackupShare {
  const where = 'decodeBackupShare';
  if (wire.length !== SHARE_BYTES) throw malformed(where, 'wrong length');
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const hubId = r.fixed(ID_BYTES, 'hubId');
  const keyId = r.fixed(RECOVERY_KEY_ID_BYTES, 'keyId');
  const k = r.u8('k');
  const n = r.u8('n');
  const x = r.u8('x');
  if (k < 1 || k > n || x < 1 || x > n) throw malformed(where, 'k, n or x out of range');
  const y = r.fixed(RECOVERY_SEED_BYTES, 'y');
  r.end();
  return { hubId, keyId, k, n, share: { x, y } };
}

/**
 * (ct, ss) = XWing.Encaps(phone.pqKey); k = KDF(ss, "vigil v1 backup share", 32, ct || hubId || deviceId || keyId)
 * sealed = u8 version || hubId || deviceId || keyId || ct || AEAD(k, 0^12, ad = that prefix, share)
 */
export function sealBackupShare(s: BackupShare, recipient: { deviceId: Uint8Array; pqKey: Uint8Array }): Uint8Array {
  const so = sodium();
  const { ciphertext, sharedSecret } = so.crypto_kem_xwing_enc(recipient.pqKey);
  const prefix = new Writer().u8(PROTOCOL_VERSION).fixed(s.hubId, ID_BYTES).fixed(recipient.deviceId, ID_BYTES).fixed(s.keyId, RECOVERY_KEY_ID_BYTES)
    .fixed(ciphertext, XWING_CIPHERTEXT_BYTES).finish();
  const k = deriveKey(sharedSecret, LABEL_BACKUP_SHARE, 32, ciphertext, s.hubId, recipient.deviceId, s.keyId);
  sharedSecret.fill(0);
  const plain = encodeBackupShare(s);
  const sealed = so.crypto_aead_chacha20poly1305_ietf_encrypt(plain, prefix, null, new Uint8Array(12), k);
  plain.fill(0);
  k.fill(0);
  return concat(prefix, sealed);
}

/** This phone's share, opened: only it can. */
export function openBackupShare(wire: Uint8Array, me: DeviceIdentity, hubId: Uint8Array): BackupShare {
  const where = 'openBackupShare';
  if (wire.length !== SEALED_SHARE_BYTES) throw malformed(where, 'wrong length');
  const r = new Reader(wire, where);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) throw new CryptoError('unsupported', where, `version ${version}`);
  const from = r.fixed(ID_BYTES, 'hubId');
  const recipient = r.fixed(ID_BYTES, 'recipient');
  const keyId = r.fixed(RECOVERY_KEY_ID_BYTES, 'keyId');
  const ct = r.fixed(XWING_CIPHERTEXT_BYTES, 'ciphertext');
  if (!equalBytes(from, hubId) || !equalBytes(recipient, me.deviceId)) throw new CryptoError('not-for-me', where, 'addressed to another hub or phone');
  const s = sodium();
  let plain: Uint8Array;
  try {
    const ss = s.crypto_kem_xwing_dec(ct, pqPrivateKey(me.pq));
    const k = deriveKey(ss, LABEL_BACKUP_SHARE, 32, ct, from, recipient, keyId);
    ss.fill(0);
    plain = s.crypto_aead_chacha20poly1305_ietf_decrypt(null, r.rest(), wire.subarray(0, SEALED_SHARE_PREFIX), new Uint8Array(12), k);
    k.fill(0);
  } catch {
    throw new CryptoError('tampered', where, 'cannot decrypt');
  }
  const share = decodeBackupShare(plain);
  plain.fill(0);
  if (!equalBytes(share.hubId, hubId) || !equalBytes(share.keyId, keyId)) throw new CryptoError('tampered', where, 'the share names another hub or key than its envelope');
  return share;
}

/**
 * The owners' recovery seed from k shares of one split. Shares of another hub or split, fewer than
 * k, or one x twice: `malformed`/`not-for-me` before interpolating. A seed that does not give the
 * key id the shares name (a changed share) is `tampered`.
 */
export function combineBackupShares(shares: readonly BackupShare[], hubId: Uint8Array): Secret {
  const where = `combineBackupShares(${shares.length})`;
  const first = shares[0];
  if (first === undefined) throw malformed(where, 'no shares');
  for (const s of shares) {
    if (!equalBytes(s.hubId, hubId)) throw new CryptoError('not-for-me', where, 'a share of another hub');
    if (!equalBytes(s.keyId, first.keyId) || s.k !== first.k || s.n !== first.n) throw malformed(where, 'shares of different splits');
  }
  if (new Set(shares.map((s) => s.share.x)).size !== shares.length) throw malformed(where, 'the same share twice');
  if (shares.length < first.k) throw new CryptoError('forbidden', where, `${shares.length} of the ${first.k} shares needed`);
  const seed = combineShares(shares.slice(0, first.k).map((s) => s.share));
  const key = recoveryKeyFrom(seed);
  seed.fill(0);
  if (!equalBytes(key.keyId, first.keyId)) {
    key.seed.wipe();
    throw new CryptoError('tampered', where, 'the shares do not rebuild the key they name (a changed share)');
  }
  return key.seed;
}

/** Field sizes, for tests that change one byte of each part. */
export const BACKUP_LAYOUT = { HEADER_BYTES, RECIPIENT_BYTES, NONCE_BYTES, TAG_BYTES, SHARE_BYTES } as const;
