// The phone's keys and pairing, kept in this origin's IndexedDB. The profile holds the device's
// private keys (libsodium keys are raw bytes, so they cannot be non-extractable WebCrypto keys): any
// script running on this origin could read them, which is why the app's code is pinned by hash (see
// README, "Where the app's code comes from"). They are never sent anywhere.
import { profileFromJson, profileToJson, type PhoneProfile } from '../../core/profile.ts';

const DB_NAME = 'vigil-phone';
const STORE = 'profiles';
/** One hub per app install for now; the key leaves room for more. */
const KEY = 'hub';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'cannot open'}`));
  });
}

/** One transaction on the app's store (the profile under 'hub'; backup.dom.ts keeps the hub's backup under 'backup'). */
export async function withStore<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction failed'}`));
      tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'transaction aborted'}`));
    });
  } finally {
    db.close();
  }
}

export async function loadProfile(): Promise<PhoneProfile | undefined> {
  const text = await withStore<unknown>('readonly', (s) => s.get(KEY));
  return typeof text === 'string' ? profileFromJson(text) : undefined;
}

/** Saves in one transaction; a phone never writes a half profile. */
export async function saveProfile(profile: PhoneProfile): Promise<void> {
  await withStore('readwrite', (s) => s.put(profileToJson(profile), KEY));
}

export async function forgetProfile(): Promise<void> {
  await withStore('readwrite', (s) => s.delete(KEY));
}

/** Asks the browser not to evict the keys under storage pressure (best effort). */
export async function askPersistentStorage(): Promise<boolean> {
  try {
    return (await navigator.storage?.persist?.()) ?? false;
  } catch {
    return false;
  }
}
