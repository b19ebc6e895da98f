// Secrets at rest. One random 32-byte data key encrypts every secret the hub stores (its private
// keys, camera passwords, open invite secrets) with ChaCha20-Poly1305. The associated data names the
// column and the row, so a sealed value copied to another row or column fails to open instead of
// handing, say, camera A's password to camera B.
//
// The data key itself lives in DIR/hub.key, wrapped by a KeyProtector: the headless default keeps it
// as is in a 0600 file (protection = file permissions); the Electron build plugs in a protector backed
// by the OS keychain (safeStorage) through the same interface.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  closeSync, fstatSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Secret } from '../../crypto/secret.ts';
import { StoreError } from './errors.ts';

export const DATA_KEY_BYTES = 32;
export const SEAL_NONCE_BYTES = 12;
export const SEAL_TAG_BYTES = 16;
/** First byte of every sealed value; bound into the AAD so it cannot be swapped either. */
export const SEAL_VERSION = 1;
export const SEAL_OVERHEAD = 1 + SEAL_NONCE_BYTES + SEAL_TAG_BYTES;
const AAD_PREFIX = 'vigil-store-v1';

/** What a sealed value is: `table.column`. Part of the AAD, so never rename one without a migration. */
export const SEAL_HUB_IDENTITY = 'hub_identity.secret';
export const SEAL_CAMERA_PASSWORD = 'cameras.password';
export const SEAL_INVITE_SECRET = 'invites.secret';
export const SEAL_KEY_CHECK = 'meta.key_check';
/** The hub's VAPID private key (RFC 8292), for Web Push (main/push/vapid.ts). */
export const SEAL_VAPID_KEY = 'meta.vapid_key';
export type SealPurpose =
  | typeof SEAL_VAPID_KEY
  | typeof SEAL_HUB_IDENTITY
  | typeof SEAL_CAMERA_PASSWORD
  | typeof SEAL_INVITE_SECRET
  | typeof SEAL_KEY_CHECK;

export const KEY_FILE_NAME = 'hub.key';
const KEY_FILE_MAGIC = 'vigil-hub-key 1';

function aad(purpose: SealPurpose, rowId: string): Buffer {
  // NUL cannot appear in either part, so (purpose, rowId) maps to exactly one AAD.
  if (rowId.includes('\0')) throw new StoreError('invalid', 'seal', 'row id contains NUL');
  return Buffer.from(`${AAD_PREFIX}\0${SEAL_VERSION}\0${purpose}\0${rowId}`, 'utf8');
}

/** The store's data key. Holds the bytes in a Secret so they never show up in logs. */
export class DataKey {
  readonly #key: Secret;

  constructor(key: Uint8Array) {
    if (key.length !== DATA_KEY_BYTES) throw new StoreError('invalid', 'DataKey', `data key must be ${DATA_KEY_BYTES} bytes, got ${key.length}`);
    this.#key = new Secret(Uint8Array.from(key), 'store data key');
  }

  /** version(1) || nonce(12) || ciphertext || tag(16). A random nonce: the key lives for years. */
  seal(purpose: SealPurpose, rowId: string, plaintext: Uint8Array): Uint8Array {
    const nonce = randomBytes(SEAL_NONCE_BYTES);
    const cipher = createCipheriv('chacha20-poly1305', this.#key.expose(), nonce, { authTagLength: SEAL_TAG_BYTES });
    cipher.setAAD(aad(purpose, rowId), { plaintextLength: plaintext.length });
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(SEAL_VERSION), nonce, body, cipher.getAuthTag()]);
  }

  open(purpose: SealPurpose, rowId: string, sealed: Uint8Array): Uint8Array {
    const where = `open(${purpose}, row=${rowId.slice(0, 8)})`;
    // Lengths and version before any decryption: a short or foreign blob is an error, not a guess.
    if (sealed.length < SEAL_OVERHEAD) throw new StoreError('tampered', where, `sealed value too short (${sealed.length} bytes)`);
    if (sealed[0] !== SEAL_VERSION) throw new StoreError('tampered', where, `unknown sealed value version ${sealed[0]}`);
    const nonce = sealed.subarray(1, 1 + SEAL_NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - SEAL_TAG_BYTES);
    const body = sealed.subarray(1 + SEAL_NONCE_BYTES, sealed.length - SEAL_TAG_BYTES);
    try {
      const decipher = createDecipheriv('chacha20-poly1305', this.#key.expose(), nonce, { authTagLength: SEAL_TAG_BYTES });
      decipher.setAAD(aad(purpose, rowId), { plaintextLength: body.length });
      decipher.setAuthTag(tag);
      return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
    } catch (cause) {
      throw new StoreError('tampered', where, 'sealed value does not open here (moved, changed, or another data key)', { cause });
    }
  }

  wipe(): void {
    this.#key.wipe();
  }
}

/**
 * Wraps the data key for storage in hub.key. `kind` is shown to the user ('file' means only file
 * permissions protect it) and recorded in hub.key, so a key wrapped by one protector is never fed
 * to another. Both methods are synchronous, as Electron's safeStorage is.
 */
export interface KeyProtector {
  readonly kind: string;
  protect(key: Uint8Array): Uint8Array;
  unprotect(blob: Uint8Array): Uint8Array;
}

/** Headless default: the key as is, guarded by hub.key's 0600 mode and the 0700 data directory. */
export const fileKeyProtector: KeyProtector = {
  kind: 'file',
  protect(key) {
    return Uint8Array.from(key);
  },
  unprotect(blob) {
    if (blob.length !== DATA_KEY_BYTES) throw new StoreError('key-mismatch', 'fileKeyProtector', `hub.key holds ${blob.length} key bytes, expected ${DATA_KEY_BYTES}`);
    return Uint8Array.from(blob);
  },
};

function header(kind: string): Buffer {
  if (!/^[a-z0-9-]{1,32}$/.test(kind)) throw new StoreError('invalid', 'KeyProtector', `bad protector kind ${JSON.stringify(kind)}`);
  return Buffer.from(`${KEY_FILE_MAGIC} ${kind}\n`, 'utf8');
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Reads hub.key; undefined if it does not exist. Refuses a file others can read. */
function readKeyFile(path: string, protector: KeyProtector): DataKey | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
  let raw: Buffer;
  try {
    const st = fstatSync(fd);
    // POSIX modes mean nothing on Windows; the data directory's ACL is what protects it there.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new StoreError('key-insecure', 'openStore',
        `${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}; it holds the key to every stored secret and must be readable by its owner only (run: chmod 600 ${path})`);
    }
    raw = readFileSync(fd);
  } finally {
    closeSync(fd);
  }
  const newline = raw.indexOf(0x0a);
  const line = newline < 0 ? '' : raw.subarray(0, newline).toString('utf8');
  if (!line.startsWith(`${KEY_FILE_MAGIC} `)) throw new StoreError('key-mismatch', 'openStore', `${path} is not a Vigil hub key file`);
  const kind = line.slice(KEY_FILE_MAGIC.length + 1);
  if (kind !== protector.kind) {
    throw new StoreError('key-mismatch', 'openStore', `${path} is protected by "${kind}" but the hub was started with the "${protector.kind}" key protector`);
  }
  const key = protector.unprotect(raw.subarray(newline + 1));
  raw.fill(0);
  try {
    return new DataKey(key);
  } finally {
    key.fill(0);
  }
}

/**
 * Creates hub.key atomically: written in full to a private temporary file, then hard-linked into
 * place, so two processes starting at once never see a half-written key and exactly one key wins.
 */
function createKeyFile(path: string, protector: KeyProtector): void {
  const raw = randomBytes(DATA_KEY_BYTES);
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const wrapped = protector.protect(raw);
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, Buffer.concat([header(protector.kind), wrapped]));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      // Another process created it first: theirs is the key.
    }
  } finally {
    raw.fill(0);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone or never made
    }
  }
}

/**
 * The data key for DIR. `mayCreate` is false when hub.db already holds sealed values: making a new
 * key then would silently orphan every secret, so a missing hub.key is an error instead.
 */
export function loadDataKey(dir: string, protector: KeyProtector, mayCreate: boolean): DataKey {
  const path = join(dir, KEY_FILE_NAME);
  const existing = readKeyFile(path, protector);
  if (existing !== undefined) return existing;
  if (!mayCreate) {
    throw new StoreError('key-missing', 'openStore', `${path} is missing but hub.db holds secrets sealed with it; restore hub.key from a backup (a new key cannot open them)`);
  }
  createKeyFile(path, protector);
  const created = readKeyFile(path, protector);
  if (created === undefined) throw new StoreError('key-missing', 'openStore', `${path} vanished right after it was created`);
  return created;
}
