// Every failure the store reports on purpose is a StoreError with a stable code, so the CLI and the
// UI can explain it ("another hub version made this database") instead of printing SQLite's words.
// Messages never carry passwords, keys or invite secrets.

export type StoreErrorCode =
  | 'newer-version' // hub.db was migrated by a newer Vigil; this build must not touch it
  | 'key-insecure' // hub.key is readable by group or others
  | 'data-insecure' // the data directory, hub.db or its -wal/-shm is open to group or others
  | 'key-missing' // hub.db holds sealed secrets but hub.key is gone
  | 'key-mismatch' // hub.key does not open this hub.db, or was protected by another protector
  | 'tampered' // a sealed value failed authentication (moved, changed, or another key)
  | 'invalid' // bad input from the caller: a name, URL, id
  | 'not-found' // no such camera, device or invite
  | 'exists' // a row with this id or name already exists
  | 'closed'; // the store was closed

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /** Where it happened, e.g. `renameCamera(id=3fa2…)`; never secrets. */
  readonly where: string;

  constructor(code: StoreErrorCode, where: string, detail: string, options?: { cause?: unknown }) {
    super(`${where}: ${detail}`, options);
    this.name = 'StoreError';
    this.code = code;
    this.where = where;
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
