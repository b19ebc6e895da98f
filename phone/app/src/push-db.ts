// IndexedDB for Web Push, usable from the page and the service worker alike (the IDBFactory is
// passed in): the phone's profile as store.dom.ts keeps it (read only: the same database, version
// and store), and the push state in a database of its own ('vigil-push': the push numbers seen, and
// the counters of pushes shown and refused, which the tests read).
import { profileFromJson, type PhoneProfile } from '../../core/profile.ts';
import { NO_PUSHES, takeSeq, type PushCounters, type PushRefusal, type SeenPushes } from './push-inbox.ts';

function open(idb: IDBFactory, name: string, version: number, upgrade: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = idb.open(name, version);
    req.onupgradeneeded = () => upgrade(req.result);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'cannot open'}`));
  });
}

/** The profile, as store.dom.ts saved it (database 'vigil-phone' v1, store 'profiles', key 'hub'). */
export async function readProfile(idb: IDBFactory): Promise<PhoneProfile | undefined> {
  // Same version and upgrade as store.dom.ts: opening it first from here must leave what the page expects.
  const db = await open(idb, 'vigil-phone', 1, (d) => d.createObjectStore('profiles'));
  try {
    const text = await new Promise<unknown>((resolve, reject) => {
      const req = db.transaction('profiles', 'readonly').objectStore('profiles').get('hub');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(new Error('IndexedDB: cannot read the profile'));
    });
    return typeof text === 'string' ? profileFromJson(text) : undefined;
  } finally {
    db.close();
  }
}

const PUSH_DB = 'vigil-push';
const STATE = 'state';

function openPush(idb: IDBFactory): Promise<IDBDatabase> {
  return open(idb, PUSH_DB, 1, (d) => d.createObjectStore(STATE));
}

/**
 * In one transaction: if `seq` is new, remember it and count `shown`; else count `replayed`.
 * Two pushes handled at once cannot both take the same number.
 */
export async function takePush(idb: IDBFactory, seq: bigint): Promise<boolean> {
  const db = await openPush(idb);
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const tx = db.transaction(STATE, 'readwrite');
      const store = tx.objectStore(STATE);
      let fresh = false;
      const seenReq = store.get('seen');
      seenReq.onsuccess = () => {
        const state = (seenReq.result as SeenPushes | undefined) ?? { seen: [] };
        const r = takeSeq(state, seq);
        fresh = r.fresh;
        if (r.fresh) store.put(r.next, 'seen');
        bump(store, r.fresh ? 'shown' : 'replayed');
      };
      tx.oncomplete = () => resolve(fresh);
      tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'push state not saved'}`));
    });
  } finally {
    db.close();
  }
}

function bump(store: IDBObjectStore, what: keyof PushCounters): void {
  const req = store.get('counters');
  req.onsuccess = () => {
    const c = { ...NO_PUSHES, ...(req.result as Partial<PushCounters> | undefined) };
    c[what]++;
    store.put(c, 'counters');
  };
}

/** Counts a push refused before its number was looked at. */
export async function countRefused(idb: IDBFactory, why: Exclude<PushRefusal, 'replayed'>): Promise<void> {
  const db = await openPush(idb);
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(STATE, 'readwrite');
      bump(tx.objectStore(STATE), why);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(new Error('IndexedDB: counter not saved'));
    });
  } finally {
    db.close();
  }
}

export async function pushCounters(idb: IDBFactory): Promise<PushCounters> {
  const db = await openPush(idb);
  try {
    return await new Promise<PushCounters>((resolve, reject) => {
      const req = db.transaction(STATE, 'readonly').objectStore(STATE).get('counters');
      req.onsuccess = () => resolve({ ...NO_PUSHES, ...(req.result as Partial<PushCounters> | undefined) });
      req.onerror = () => reject(new Error('IndexedDB: cannot read the counters'));
    });
  } finally {
    db.close();
  }
}
