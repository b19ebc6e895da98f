// The desktop app's KeyProtector: the store's data key wrapped by Electron's safeStorage (the OS
// keychain: DPAPI on Windows, Keychain on macOS, libsecret/kwallet on Linux). Where safeStorage has
// no real keychain behind it (Linux 'basic_text' uses a hard-coded password), it protects nothing,
// so the hub keeps the plain key file and the UI says so (the status call's keyProtection is 'file').
import type { SafeStorage } from 'electron';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_FILE_NAME, fileKeyProtector, type KeyProtector } from '../store/sealed.ts';

export const SAFE_STORAGE_KIND = 'os-keychain';

export function safeStorageUsable(safeStorage: SafeStorage, platform = process.platform): boolean {
  if (!safeStorage.isEncryptionAvailable()) return false;
  if (platform === 'linux') {
    const backend = safeStorage.getSelectedStorageBackend();
    return backend !== 'basic_text' && backend !== 'unknown';
  }
  return true;
}

export function safeStorageKeyProtector(safeStorage: SafeStorage): KeyProtector {
  return {
    kind: SAFE_STORAGE_KIND,
    protect(key) {
      // safeStorage encrypts strings; base64 keeps the 32 key bytes exact.
      return new Uint8Array(safeStorage.encryptString(Buffer.from(key).toString('base64')));
    },
    unprotect(blob) {
      const key = Buffer.from(safeStorage.decryptString(Buffer.from(blob)), 'base64');
      if (key.length !== 32) throw new Error(`safeStorage returned ${key.length} key bytes, expected 32`);
      return new Uint8Array(key);
    },
  };
}

/** The protector hub.key was written with ('file', 'os-keychain'), or undefined for a new hub. */
function existingKind(dataDir: string): string | undefined {
  try {
    const head = readFileSync(join(dataDir, KEY_FILE_NAME)).subarray(0, 64).toString('utf8');
    return /^vigil-hub-key 1 ([a-z0-9-]{1,32})\n/.exec(head)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Picks the protector: the OS keychain for a new hub when it is usable; an existing hub keeps the
 * protector its key file names (the store never feeds one protector's key file to another).
 */
export function chooseKeyProtector(safeStorage: SafeStorage, dataDir: string): { protector: KeyProtector; warning?: string } {
  const kind = existingKind(dataDir);
  const usable = safeStorageUsable(safeStorage);
  if (kind === SAFE_STORAGE_KIND) {
    if (!usable) throw new Error('this hub\'s keys are in the OS keychain, which is not available now: unlock the keychain and start Vigil again');
    return { protector: safeStorageKeyProtector(safeStorage) };
  }
  if (kind === undefined && usable) return { protector: safeStorageKeyProtector(safeStorage) };
  return {
    protector: fileKeyProtector,
    warning: usable ? 'this hub was created headless: its key stays in a file (0600) until it is migrated' : 'no OS keychain is available: the hub key is protected by file permissions only',
  };
}
