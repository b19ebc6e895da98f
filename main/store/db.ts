// The hub's store: one SQLite file (DIR/hub.db) shared by the running hub and CLI commands such as
// `vigil camera add`, so every read-modify-write runs in an IMMEDIATE transaction (the second process
// waits up to busy_timeout instead of failing), and the writes the protocol's safety rests on (epoch
// numbers, used invites, command sequence numbers, revocations) are synced with synchronous=FULL so
// a power cut cannot roll them back and let a number or an invite be used twice.
//
// Names follow the user's words from UI to column: camera, device (a phone), invite, epoch, audit.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../crypto/bytes.ts';
import { encodeCertificate, type DeviceCertificate, type Role } from '../../crypto/certificate.ts';
import { Secret } from '../../crypto/secret.ts';
import { checkCredential, joinCameraUrl, splitCameraUrl, type CameraCredentials } from './camera-url.ts';
import { StoreError } from './errors.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import {
  SEAL_CAMERA_PASSWORD, SEAL_HUB_IDENTITY, SEAL_INVITE_SECRET, SEAL_KEY_CHECK, SEAL_VAPID_KEY, fileKeyProtector, loadDataKey,
  type DataKey, type KeyProtector,
} from './sealed.ts';

export const DB_FILE_NAME = 'hub.db';
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;
export const MAX_NAME_CHARS = 64;
export const MAX_AUDIT_DETAIL_CHARS = 4096;
export const MAX_AUDIT_PAGE = 1000;

export interface StoreOptions {
  /** Wraps the data key in hub.key; default `fileKeyProtector` (headless). */
  readonly keyProtector?: KeyProtector;
  /** How long a write waits for another process holding the lock; default 5 s. */
  readonly busyTimeoutMs?: number;
  /** Clock in Unix seconds; tests inject one. */
  readonly now?: () => number;
}

export type EpochReason = 'start' | 'device-added' | 'device-removed' | 'camera-added' | 'camera-removed' | 'daily';
export const EPOCH_REASONS: readonly EpochReason[] = ['start', 'device-added', 'device-removed', 'camera-added', 'camera-removed', 'daily'];

export interface EpochEntry {
  readonly number: number;
  readonly reason: EpochReason;
  readonly startedAt: number;
}

export type CameraKind = 'rtsp' | 'test-pattern';
export const CAMERA_KINDS: readonly CameraKind[] = ['rtsp', 'test-pattern'];

/** A camera as the UI and CLI see it: never its password. */
export interface Camera {
  /** 32 hex (16 random bytes), made by the store. */
  readonly id: string;
  /** The hub's small camera number, 1.., never reused. */
  readonly number: number;
  /** The relay topic id, 32 hex random: reveals nothing about the camera. */
  readonly topic: string;
  readonly name: string;
  /** Without credentials. */
  readonly url: string;
  readonly username: string | null;
  readonly hasPassword: boolean;
  readonly kind: CameraKind;
  /** The ONVIF identity the owner accepted for this camera, if any. */
  readonly onvifPin: string | null;
  readonly addedAt: number;
  readonly removedAt: number | null;
}

export interface NewCamera {
  readonly name: string;
  /** `rtsp://user:pass@host/...` is fine: the credentials are split off and the password sealed. */
  readonly url: string;
  readonly kind?: CameraKind;
  /** Credentials given on their own instead of in the URL. */
  readonly username?: string;
  readonly password?: string;
}

export interface Device {
  /** Hex of the 16-byte device id. */
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** The encoded certificate the hub issued (crypto/certificate.ts). */
  readonly certificate: Uint8Array;
  readonly relayKey: string;
  readonly exchangeKey: string;
  readonly signingKey: string;
  readonly pairedAt: number;
  readonly lastSeen: number | null;
  readonly revokedAt: number | null;
  /** Highest command sequence accepted from this device; -1n before the first. */
  readonly lastCommandSeq: bigint;
  /** The cameras and window it is limited to (a guest always); null: every camera, any time. */
  readonly scope: DeviceScope | null;
}

/** A phone's (or an invite's) limits, PROTOCOL §16.3: camera ids in hex; times Unix ms, 0 for none. */
export interface DeviceScope {
  readonly cameras: readonly string[];
  readonly from: number;
  readonly until: number;
}

export type InviteState = 'open' | 'used' | 'expired' | 'cancelled';

export interface StoredInvite {
  readonly id: string;
  /** Only while open; cleared once the invite is used, expired or cancelled. */
  readonly secret: Secret | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** An open invite past its expiry reads as 'expired' even before expireInvites runs. */
  readonly state: InviteState;
  readonly deviceId: string | null;
  /** The role and scope the phone it pairs gets (null: the role is chosen at approval, no scope). */
  readonly role: Role | null;
  readonly scope: DeviceScope | null;
}

/** 'hub', 'owner' (someone at the hub's own UI or CLI) or a device id in hex. */
export type AuditActor = string;
export const AUDIT_ACTIONS = [
  'paired', 'pairing-refused', 'revoked', 'device-renamed', 'watched', 'snapshot', 'ptz', 'settings', 'command-refused',
  'camera-added', 'camera-removed', 'camera-renamed', 'invite-created', 'invite-cancelled', 'hub-created', 'epoch',
  'recording-settings', 'history-shared', 'scope-changed',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  readonly id: number;
  readonly at: number;
  readonly actor: AuditActor;
  readonly action: AuditAction;
  readonly detail: Record<string, unknown>;
}

interface CameraRow {
  id: string;
  number: number;
  topic: string;
  name: string;
  url: string;
  username: string | null;
  password: Buffer | null;
  username_param: string | null;
  password_param: string | null;
  kind: CameraKind;
  onvif_pin: string | null;
  added_at: number;
  removed_at: number | null;
}

interface DeviceRow {
  id: string;
  name: string;
  role: Role;
  certificate: Buffer;
  relay_key: string;
  exchange_key: string;
  signing_key: string;
  paired_at: number;
  last_seen: number | null;
  revoked_at: number | null;
  last_command_seq: string;
  scope_cameras: string | null;
  scope_from_ms: number | null;
  scope_until_ms: number | null;
}

interface InviteRow {
  id: string;
  secret: Buffer | null;
  created_at: number;
  expires_at: number;
  state: InviteState;
  device_id: string | null;
  role: Role | null;
  scope_cameras: string | null;
  scope_from_ms: number | null;
  scope_until_ms: number | null;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: AuditAction;
  detail: string;
}

const HEX_ID = /^[0-9a-f]{32}$/;
const HEX_KEY = /^[0-9a-f]{64}$/;
const KEY_CHECK_ROW = 'hub.db';
const KEY_CHECK_PLAINTEXT = new TextEncoder().encode('vigil data key check');
/** Detail keys an audit entry must never have: the log is for people, not for secrets. */
const SECRET_KEY = /pass|secret|private|token|credential/i;

function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

/** Accepts a 16-byte id as bytes or hex (any case); returns lowercase hex. */
function idHex(id: string | Uint8Array, what: string, where: string): string {
  const hex = typeof id === 'string' ? id.toLowerCase() : toHex(id);
  if (!HEX_ID.test(hex)) throw new StoreError('invalid', where, `${what} must be 16 bytes (32 hex digits)`);
  return hex;
}

function keyHex(key: string | Uint8Array, what: string, where: string): string {
  const hex = typeof key === 'string' ? key.toLowerCase() : toHex(key);
  if (!HEX_KEY.test(hex)) throw new StoreError('invalid', where, `${what} must be 32 bytes (64 hex digits)`);
  return hex;
}

function checkName(raw: string, what: string, where: string): string {
  const name = raw.trim();
  if (name.length === 0 || name.length > MAX_NAME_CHARS) throw new StoreError('invalid', where, `${what} name must be 1 to ${MAX_NAME_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new StoreError('invalid', where, `${what} name contains control characters`);
  return name;
}

function isUniqueViolation(e: unknown): boolean {
  return e instanceof Database.SqliteError && (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');
}

function toCamera(r: CameraRow): Camera {
  return {
    id: r.id, number: r.number, topic: r.topic, name: r.name, url: r.url, username: r.username,
    hasPassword: r.password !== null, kind: r.kind, onvifPin: r.onvif_pin, addedAt: r.added_at, removedAt: r.removed_at,
  };
}

function toDevice(r: DeviceRow): Device {
  return {
    id: r.id, name: r.name, role: r.role, certificate: new Uint8Array(r.certificate), relayKey: r.relay_key,
    exchangeKey: r.exchange_key, signingKey: r.signing_key, pairedAt: r.paired_at, lastSeen: r.last_seen,
    revokedAt: r.revoked_at, lastCommandSeq: BigInt(r.last_command_seq), scope: scopeOfRow(r),
  };
}

function scopeOfRow(r: { scope_cameras: string | null; scope_from_ms: number | null; scope_until_ms: number | null }): DeviceScope | null {
  if (r.scope_cameras === null) return null;
  return { cameras: JSON.parse(r.scope_cameras) as string[], from: r.scope_from_ms ?? 0, until: r.scope_until_ms ?? 0 };
}

/** The scope columns' values; refuses what is not a list of camera ids and a window in Unix ms. */
function scopeColumns(scope: DeviceScope | null | undefined, where: string): [string | null, number | null, number | null] {
  if (scope === null || scope === undefined) return [null, null, null];
  const ids = scope.cameras.map((c) => idHex(c, 'camera id', where));
  if (ids.length === 0 || new Set(ids).size !== ids.length) throw new StoreError('invalid', where, 'a scope names one or more cameras, each once');
  for (const t of [scope.from, scope.until]) if (!Number.isSafeInteger(t) || t < 0) throw new StoreError('invalid', where, 'scope times are Unix ms');
  if (scope.until !== 0 && scope.until <= scope.from) throw new StoreError('invalid', where, 'a scope ends after it begins');
  return [JSON.stringify(ids), scope.from || null, scope.until || null];
}

/** JSON for the audit log; refuses bytes, Secrets and secret-looking keys rather than logging them. */
function auditJson(detail: Record<string, unknown>, where: string): string {
  const json = JSON.stringify(detail, function (this: Record<string, unknown>, key: string, value: unknown) {
    if (key !== '' && SECRET_KEY.test(key)) throw new StoreError('invalid', where, `audit detail must not hold "${key}"`);
    // `this[key]` is the value before toJSON, which turns a Secret into a harmless-looking placeholder.
    const original = this[key];
    if (original instanceof Uint8Array || original instanceof Secret || original instanceof ArrayBuffer) {
      throw new StoreError('invalid', where, `audit detail "${key}" is binary; log a name or an id instead`);
    }
    if (typeof value === 'bigint') return value.toString();
    return value;
  });
  if (json.length > MAX_AUDIT_DETAIL_CHARS) throw new StoreError('invalid', where, `audit detail longer than ${MAX_AUDIT_DETAIL_CHARS} characters`);
  return json;
}

function migrate(db: Database.Database): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const newer = (v: number): StoreError => new StoreError('newer-version', 'openStore',
    `hub.db is at schema version ${v}, made by a newer Vigil; this build knows up to ${SCHEMA_VERSION}. Update Vigil (the database was not changed)`);
  if (version() > SCHEMA_VERSION) throw newer(version());
  const step = db.transaction((): boolean => {
    // Re-read inside the lock: another process may have migrated while we waited.
    const v = version();
    if (v > SCHEMA_VERSION) throw newer(v);
    const migration = MIGRATIONS[v];
    if (migration === undefined) return false;
    db.exec(migration.sql);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  while (step.immediate()) {
    // one migration per transaction
  }
}

function openDataKey(db: Database.Database, dir: string, protector: KeyProtector): DataKey {
  const getCheck = db.prepare<[], { value: Buffer }>("SELECT value FROM meta WHERE name = 'key_check'");
  const key = loadDataKey(dir, protector, getCheck.get() === undefined);
  try {
    const check = db.transaction(() => {
      db.prepare("INSERT OR IGNORE INTO meta (name, value) VALUES ('key_check', ?)")
        .run(blob(key.seal(SEAL_KEY_CHECK, KEY_CHECK_ROW, KEY_CHECK_PLAINTEXT)));
      return getCheck.get();
    }).immediate();
    if (check === undefined) throw new StoreError('key-mismatch', 'openStore', 'key check row missing');
    key.open(SEAL_KEY_CHECK, KEY_CHECK_ROW, check.value);
    return key;
  } catch (cause) {
    key.wipe();
    if (cause instanceof StoreError && cause.code === 'tampered') {
      throw new StoreError('key-mismatch', 'openStore', `${join(dir, 'hub.key')} does not open this hub.db (was hub.key replaced?)`, { cause });
    }
    throw cause;
  }
}

/** `sh` quoting, for a command the user is told to run. */
function shellQuote(path: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/**
 * Refuses a data directory other local users may enter, and a hub.db (or its -wal/-shm) they may
 * read: camera names and addresses, the roster and the audit log are in there in clear (only
 * secrets are sealed). A new directory is made 0700 and hub.db 0600, but an existing one keeps
 * whatever mode it was given. Like hub.key (sealed.ts), the error says the chmod to run rather than
 * changing modes behind the owner's back. POSIX modes mean nothing on Windows.
 */
function checkDataDirPrivate(dir: string): void {
  if (process.platform === 'win32') return;
  const modeOf = (path: string): number | undefined => {
    try {
      return statSync(path).mode & 0o7777;
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const loose: { path: string; mode: number }[] = [];
  const dirMode = modeOf(dir);
  const dirLoose = dirMode !== undefined && (dirMode & 0o077) !== 0;
  if (dirLoose) loose.push({ path: dir, mode: dirMode });
  const files: string[] = [];
  for (const name of [DB_FILE_NAME, `${DB_FILE_NAME}-wal`, `${DB_FILE_NAME}-shm`]) {
    const path = join(dir, name);
    const mode = modeOf(path);
    if (mode !== undefined && (mode & 0o077) !== 0) {
      loose.push({ path, mode });
      files.push(path);
    }
  }
  if (loose.length === 0) return;
  const run = [
    ...(dirLoose ? [`chmod 700 ${shellQuote(dir)}`] : []),
    ...(files.length > 0 ? [`chmod 600 ${files.map(shellQuote).join(' ')}`] : []),
  ].join(' && ');
  throw new StoreError('data-insecure', 'openStore',
    `${loose.map((l) => `${l.path} has mode ${l.mode.toString(8).padStart(4, '0')}`).join(', ')}; the hub's data directory and database must be accessible by their owner only (run: ${run})`);
}

/**
 * `journal_mode = WAL` on a fresh hub.db needs an exclusive lock. When several processes open it at
 * once (the hub and a CLI command on first start), each holds a shared lock and wants the exclusive
 * one; SQLite then answers SQLITE_BUSY at once instead of calling the busy handler, since waiting
 * would deadlock (sqlite3_busy_handler). One of them gets it once the others let go, so this tries
 * again every few ms, for at most busy_timeout. 5 in 480 six-process starts failed without it.
 */
function switchToWal(db: Database.Database, timeoutMs: number): unknown {
  const deadline = Date.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      return db.pragma('journal_mode = WAL', { simple: true });
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw e;
      Atomics.wait(pause, 0, 0, Math.min(2 + attempt, 20)); // openStore is synchronous: a short blocking pause
    }
  }
}

/** Opens (creating if needed) the store in dataDir: hub.db, hub.key. */
export function openStore(dataDir: string, opts: StoreOptions = {}): Store {
  const protector = opts.keyProtector ?? fileKeyProtector;
  const busyTimeoutMs = opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!(Number.isInteger(busyTimeoutMs) && busyTimeoutMs >= 0 && busyTimeoutMs <= 600_000)) {
    throw new StoreError('invalid', 'openStore', 'busyTimeoutMs must be an integer from 0 to 600000');
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  checkDataDirPrivate(dataDir);
  const dbPath = join(dataDir, DB_FILE_NAME);
  // Create the file ourselves so it starts private; SQLite gives -wal and -shm the same mode.
  closeSync(openSync(dbPath, 'a', 0o600));
  const db = new Database(dbPath, { timeout: busyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('foreign_keys = ON');
    const mode = switchToWal(db, busyTimeoutMs);
    if (mode !== 'wal') throw new StoreError('invalid', 'openStore', `could not switch hub.db to WAL (journal_mode=${String(mode)})`);
    db.pragma('synchronous = NORMAL');
    migrate(db);
    const key = openDataKey(db, dataDir, protector);
    return new Store(db, key, protector.kind, opts.now ?? (() => Math.floor(Date.now() / 1000)));
  } catch (e) {
    db.close();
    throw e;
  }
}

export class Store {
  readonly #db: Database.Database;
  readonly #key: DataKey;
  readonly #now: () => number;
  readonly #statements = new Map<string, Database.Statement>();
  /** How the data key is protected ('file' means only file permissions): the UI warns on 'file'. */
  readonly keyProtection: string;

  /** Use openStore. */
  constructor(db: Database.Database, key: DataKey, keyProtection: string, now: () => number) {
    this.#db = db;
    this.#key = key;
    this.keyProtection = keyProtection;
    this.#now = now;
  }

  get open(): boolean {
    return this.#db.open;
  }

  close(): void {
    if (!this.#db.open) return;
    this.#statements.clear();
    this.#key.wipe();
    this.#db.close();
  }

  /**
   * Runs fn in one IMMEDIATE, fully synced transaction, e.g. to add a device and mark its invite
   * used together. fn must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    return this.#durable(fn);
  }

  /** The roster log's entries from `since` on, oldest first, at most `limit` (crypto/roster-log.ts). */
  rosterLog(since = 0, limit = 1000): { seq: number; entry: Uint8Array }[] {
    return this.#stmt<{ seq: number; entry: Buffer }>('SELECT seq, entry FROM roster_log WHERE seq >= ? ORDER BY seq LIMIT ?')
      .all(since, limit).map((r) => ({ seq: r.seq, entry: new Uint8Array(r.entry) }));
  }

  /** How many entries the roster log holds. */
  rosterLogLength(): number {
    return (this.#stmt<{ n: number | null }>('SELECT MAX(seq) AS n FROM roster_log').get()?.n ?? -1) + 1;
  }

  /**
   * Appends one roster log entry, made by `make` from the last one, durably and in one transaction:
   * two processes or a crash can never leave two entries with the same number (a fork).
   */
  appendRosterEntry(make: (last: { seq: number; entry: Uint8Array } | undefined) => Uint8Array): number {
    return this.#durable(() => {
      const row = this.#stmt<{ seq: number; entry: Buffer }>('SELECT seq, entry FROM roster_log ORDER BY seq DESC LIMIT 1').get();
      const last = row === undefined ? undefined : { seq: row.seq, entry: new Uint8Array(row.entry) };
      const seq = last === undefined ? 0 : last.seq + 1;
      this.#stmt('INSERT INTO roster_log (seq, entry) VALUES (?, ?)').run(seq, make(last));
      return seq;
    });
  }

  /** A prepared statement on this database, for the store's modules beside this file (recordings.ts). */
  statement<R = unknown>(sql: string): Database.Statement<unknown[], R> {
    return this.#stmt<R>(sql);
  }

  #stmt<R = unknown>(sql: string): Database.Statement<unknown[], R> {
    if (!this.#db.open) throw new StoreError('closed', 'Store', 'the store is closed');
    let s = this.#statements.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s as Database.Statement<unknown[], R>;
  }

  #write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** A write that must survive a power cut once it returns (synchronous=FULL for its commit). */
  #durable<T>(fn: () => T): T {
    // Nested in a caller's transaction: that outer transaction is the one that commits.
    if (this.#db.inTransaction) return this.#db.transaction(fn)();
    this.#db.pragma('synchronous = FULL');
    try {
      return this.#db.transaction(fn).immediate();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }

  // ---- hub identity -------------------------------------------------------------------------

  /** The hub's private identity (crypto/identity.ts exportHubIdentity bytes), if saved. */
  getHubIdentity(): Uint8Array | undefined {
    const row = this.#stmt<{ secret: Buffer }>('SELECT secret FROM hub_identity WHERE id = 1').get();
    return row === undefined ? undefined : this.#key.open(SEAL_HUB_IDENTITY, '1', row.secret);
  }

  /** Saves the hub identity once; replacing it would orphan every paired phone, so it refuses. */
  saveHubIdentity(secretBytes: Uint8Array): void {
    const where = 'saveHubIdentity';
    if (secretBytes.length === 0) throw new StoreError('invalid', where, 'empty identity');
    this.#durable(() => {
      if (this.#stmt('SELECT 1 FROM hub_identity WHERE id = 1').get() !== undefined) {
        throw new StoreError('exists', where, 'this hub already has an identity; it is never replaced');
      }
      this.#stmt('INSERT INTO hub_identity (id, secret, created_at) VALUES (1, ?, ?)')
        .run(blob(this.#key.seal(SEAL_HUB_IDENTITY, '1', secretBytes)), this.#now());
    });
  }

  /** The saved identity, or factory()'s, saved first; two processes starting at once get the same one. */
  getOrCreateHubIdentity(factory: () => Uint8Array): Uint8Array {
    return this.#durable(() => {
      const existing = this.getHubIdentity();
      if (existing !== undefined) return existing;
      const created = factory();
      this.saveHubIdentity(created);
      return created;
    });
  }

  /**
   * The hub's VAPID private key (Web Push, main/push/vapid.ts), sealed in `meta`: `make`'s the first
   * time, durable before it is returned. Never logged; a Secret so it never prints.
   */
  getOrCreateVapidKey(make: () => Uint8Array): Secret {
    return this.#durable(() => {
      const row = this.#stmt<{ value: Buffer }>("SELECT value FROM meta WHERE name = 'vapid_key'").get();
      if (row !== undefined) return new Secret(this.#key.open(SEAL_VAPID_KEY, 'vapid_key', row.value), 'VAPID private key');
      const key = make();
      this.#stmt("INSERT INTO meta (name, value) VALUES ('vapid_key', ?)").run(blob(this.#key.seal(SEAL_VAPID_KEY, 'vapid_key', key)));
      return new Secret(key, 'VAPID private key');
    });
  }

  // ---- backup (main/backup/) ----------------------------------------------------------------

  /**
   * A camera's password in clear, for the hub's backup only (main/backup/payload.ts): the backup is
   * sealed to recovery keys before it leaves this process. Never log it.
   */
  cameraPasswordForBackup(id: string): Uint8Array | null {
    const row = this.#stmt<{ password: Buffer | null }>('SELECT password FROM cameras WHERE id = ?').get(id);
    return row?.password == null ? null : this.#key.open(SEAL_CAMERA_PASSWORD, id, row.password);
  }

  /** A restored camera's password sealed under this store's data key, for its row `id`. */
  sealCameraPassword(id: string, password: Uint8Array): Uint8Array {
    return this.#key.seal(SEAL_CAMERA_PASSWORD, id, password);
  }

  // ---- epochs -------------------------------------------------------------------------------

  /** The last epoch handed out; 0 before the first. */
  currentEpoch(): number {
    const row = this.#stmt<{ value: number }>("SELECT value FROM counters WHERE name = 'epoch'").get();
    return row?.value ?? 0;
  }

  /** A new epoch number, never returned before by any process, and durable before it is returned. */
  nextEpoch(reason: EpochReason): number {
    if (!EPOCH_REASONS.includes(reason)) throw new StoreError('invalid', 'nextEpoch', `unknown reason ${JSON.stringify(reason)}`);
    return this.#durable(() => {
      const row = this.#stmt<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'epoch' RETURNING value").get();
      if (row === undefined) throw new StoreError('not-found', 'nextEpoch', 'epoch counter missing');
      this.#stmt('INSERT INTO epochs (number, reason, started_at) VALUES (?, ?, ?)').run(row.value, reason, this.#now());
      return row.value;
    });
  }

  /** Newest first. */
  listEpochs(opts: { limit?: number } = {}): EpochEntry[] {
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? 100)), MAX_AUDIT_PAGE);
    return this.#stmt<{ number: number; reason: EpochReason; started_at: number }>(
      'SELECT number, reason, started_at FROM epochs ORDER BY number DESC LIMIT ?',
    ).all(limit).map((r) => ({ number: r.number, reason: r.reason, startedAt: r.started_at }));
  }

  // ---- cameras ------------------------------------------------------------------------------

  addCamera(camera: NewCamera): Camera {
    const where = 'addCamera';
    const name = checkName(camera.name, 'camera', where);
    const kind = camera.kind ?? 'rtsp';
    if (!CAMERA_KINDS.includes(kind)) throw new StoreError('invalid', where, `unknown camera kind ${JSON.stringify(kind)}`);
    let creds: CameraCredentials & { url: string };
    if (kind === 'rtsp') {
      creds = splitCameraUrl(camera.url);
    } else {
      // A test pattern has no credentials; its URL is whatever names the pattern (may be empty).
      if (/@|pass|pwd/i.test(camera.url)) throw new StoreError('invalid', where, 'a test-pattern camera takes no credentials');
      creds = { url: camera.url, username: null, password: null, usernameParam: null, passwordParam: null };
    }
    if (camera.username !== undefined || camera.password !== undefined) {
      if (creds.username !== null || creds.password !== null) throw new StoreError('invalid', where, 'credentials given both in the URL and on their own');
      checkCredential(camera.username ?? null, 'username', where);
      checkCredential(camera.password ?? null, 'password', where);
      creds = { ...creds, username: camera.username ?? null, password: camera.password ?? null };
    }
    const { url, username, password, usernameParam, passwordParam } = creds;
    return this.#write(() => {
      const clash = this.#stmt('SELECT 1 FROM cameras WHERE name = ? COLLATE NOCASE AND removed_at IS NULL').get(name);
      if (clash !== undefined) throw new StoreError('exists', where, `a camera named "${name}" already exists; choose another name`);
      const numberRow = this.#stmt<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'camera_number' RETURNING value").get();
      if (numberRow === undefined) throw new StoreError('not-found', where, 'camera number counter missing');
      const id = newId();
      const sealed = password === null ? null : blob(this.#key.seal(SEAL_CAMERA_PASSWORD, id, new TextEncoder().encode(password)));
      try {
        this.#stmt(`INSERT INTO cameras (id, number, topic, name, url, username, password, username_param, password_param, kind, added_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(id, numberRow.value, newId(), name, url, username, sealed, usernameParam, passwordParam, kind, this.#now());
      } catch (e) {
        if (isUniqueViolation(e)) throw new StoreError('exists', where, `a camera named "${name}" already exists; choose another name`, { cause: e });
        throw e;
      }
      return this.#requireCamera(id, where);
    });
  }

  /** By number; removed cameras only when asked. Never includes passwords. */
  listCameras(opts: { includeRemoved?: boolean } = {}): Camera[] {
    const sql = opts.includeRemoved === true
      ? 'SELECT * FROM cameras ORDER BY number'
      : 'SELECT * FROM cameras WHERE removed_at IS NULL ORDER BY number';
    return this.#stmt<CameraRow>(sql).all().map(toCamera);
  }

  /** By id (active or removed), else by name among active cameras, ignoring case. */
  getCamera(idOrName: string): Camera | undefined {
    const row = this.#cameraRow(idOrName);
    return row === undefined ? undefined : toCamera(row);
  }

  #cameraRow(idOrName: string): CameraRow | undefined {
    const lower = idOrName.toLowerCase();
    if (HEX_ID.test(lower)) {
      const byId = this.#stmt<CameraRow>('SELECT * FROM cameras WHERE id = ?').get(lower);
      if (byId !== undefined) return byId;
    }
    return this.#stmt<CameraRow>('SELECT * FROM cameras WHERE name = ? COLLATE NOCASE AND removed_at IS NULL').get(idOrName.trim());
  }

  #requireCamera(idOrName: string, where: string, activeOnly = true): Camera {
    const row = this.#cameraRow(idOrName);
    if (row === undefined || (activeOnly && row.removed_at !== null)) throw new StoreError('not-found', where, 'no such camera');
    return toCamera(row);
  }

  /** The URL with credentials, for ffmpeg's command line only: never log or show it. */
  cameraUrlWithCredentials(idOrName: string): string {
    const where = `cameraUrlWithCredentials(camera=${idOrName.slice(0, 8)})`;
    const row = this.#cameraRow(idOrName);
    if (row === undefined || row.removed_at !== null) throw new StoreError('not-found', where, 'no such camera');
    const password = row.password === null
      ? null
      : new TextDecoder().decode(this.#key.open(SEAL_CAMERA_PASSWORD, row.id, row.password));
    return joinCameraUrl(row.url, {
      username: row.username, password, usernameParam: row.username_param, passwordParam: row.password_param,
    });
  }

  renameCamera(idOrName: string, newName: string): Camera {
    const where = 'renameCamera';
    const name = checkName(newName, 'camera', where);
    return this.#write(() => {
      const camera = this.#requireCamera(idOrName, where);
      const clash = this.#stmt<{ id: string }>('SELECT id FROM cameras WHERE name = ? COLLATE NOCASE AND removed_at IS NULL').get(name);
      if (clash !== undefined && clash.id !== camera.id) throw new StoreError('exists', where, `a camera named "${name}" already exists; choose another name`);
      this.#stmt('UPDATE cameras SET name = ? WHERE id = ?').run(name, camera.id);
      return this.#requireCamera(camera.id, where);
    });
  }

  /** The ONVIF identity the owner accepted (null to forget it). */
  setCameraOnvifPin(idOrName: string, pin: string | null): Camera {
    const where = 'setCameraOnvifPin';
    if (pin !== null && (pin.length === 0 || pin.length > 512)) throw new StoreError('invalid', where, 'pin must be 1 to 512 characters');
    return this.#write(() => {
      const camera = this.#requireCamera(idOrName, where);
      this.#stmt('UPDATE cameras SET onvif_pin = ? WHERE id = ?').run(pin, camera.id);
      return this.#requireCamera(camera.id, where);
    });
  }

  /**
   * Marks the camera removed and forgets its credentials. The row stays so its number is never
   * reused; its name is free again. Returns false if it was not active.
   */
  removeCamera(idOrName: string): boolean {
    return this.#durable(() => {
      const row = this.#cameraRow(idOrName);
      if (row === undefined || row.removed_at !== null) return false;
      this.#stmt('UPDATE cameras SET removed_at = ?, username = NULL, password = NULL WHERE id = ?').run(this.#now(), row.id);
      return true;
    });
  }

  // ---- devices (phones) ---------------------------------------------------------------------

  /** Enrols a phone from the certificate the hub issued it; ids and keys come from the certificate. */
  addDevice(device: { name: string; certificate: DeviceCertificate; scope?: DeviceScope | null }): Device {
    const where = 'addDevice';
    const name = checkName(device.name, 'device', where);
    const c = device.certificate;
    const id = idHex(c.deviceId, 'device id', where);
    const encoded = encodeCertificate(c);
    const scope = scopeColumns(device.scope, where);
    if (c.role === 'guest' && scope[0] === null) throw new StoreError('invalid', where, 'a guest has a scope');
    if (c.role === 'owner' && scope[0] !== null) throw new StoreError('invalid', where, 'an owner has no scope');
    return this.#durable(() => {
      if (this.#stmt('SELECT 1 FROM devices WHERE id = ?').get(id) !== undefined) {
        // A revoked phone stays revoked: re-pairing must bring a new device identity.
        throw new StoreError('exists', where, `device ${id.slice(0, 8)} is already enrolled or was revoked`);
      }
      try {
        this.#stmt(`INSERT INTO devices (id, name, role, certificate, relay_key, exchange_key, signing_key, paired_at, scope_cameras, scope_from_ms, scope_until_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(id, name, c.role, blob(encoded), keyHex(c.relayKey, 'relay key', where),
            keyHex(c.exchangeKey, 'exchange key', where), keyHex(c.signingKey, 'signing key', where), this.#now(), ...scope);
      } catch (e) {
        if (isUniqueViolation(e)) throw new StoreError('exists', where, 'another device has the same key', { cause: e });
        throw e;
      }
      return this.#requireDevice(id, where);
    });
  }

  /** Oldest first; revoked devices only when asked. */
  listDevices(opts: { includeRevoked?: boolean } = {}): Device[] {
    const sql = opts.includeRevoked === true
      ? 'SELECT * FROM devices ORDER BY paired_at, id'
      : 'SELECT * FROM devices WHERE revoked_at IS NULL ORDER BY paired_at, id';
    return this.#stmt<DeviceRow>(sql).all().map(toDevice);
  }

  /** By id, revoked or not: check `revokedAt` before trusting it. */
  getDevice(id: string | Uint8Array): Device | undefined {
    const row = this.#stmt<DeviceRow>('SELECT * FROM devices WHERE id = ?').get(idHex(id, 'device id', 'getDevice'));
    return row === undefined ? undefined : toDevice(row);
  }

  #requireDevice(id: string, where: string): Device {
    const row = this.#stmt<DeviceRow>('SELECT * FROM devices WHERE id = ?').get(id);
    if (row === undefined) throw new StoreError('not-found', where, `no device ${id.slice(0, 8)}`);
    return toDevice(row);
  }

  /** The unrevoked device with this Noise static key (revoked too only when asked). */
  findDeviceByExchangeKey(key: string | Uint8Array, opts: { includeRevoked?: boolean } = {}): Device | undefined {
    return this.#findByKey('exchange_key', keyHex(key, 'exchange key', 'findDeviceByExchangeKey'), opts.includeRevoked === true);
  }

  /** The unrevoked device with this relay login key (revoked too only when asked). */
  findDeviceByRelayKey(key: string | Uint8Array, opts: { includeRevoked?: boolean } = {}): Device | undefined {
    return this.#findByKey('relay_key', keyHex(key, 'relay key', 'findDeviceByRelayKey'), opts.includeRevoked === true);
  }

  #findByKey(column: 'exchange_key' | 'relay_key', hex: string, includeRevoked: boolean): Device | undefined {
    const sql = includeRevoked
      ? `SELECT * FROM devices WHERE ${column} = ?`
      : `SELECT * FROM devices WHERE ${column} = ? AND revoked_at IS NULL`;
    const row = this.#stmt<DeviceRow>(sql).get(hex);
    return row === undefined ? undefined : toDevice(row);
  }

  renameDevice(id: string | Uint8Array, newName: string): Device {
    const where = 'renameDevice';
    const hex = idHex(id, 'device id', where);
    const name = checkName(newName, 'device', where);
    return this.#write(() => {
      const changed = this.#stmt('UPDATE devices SET name = ? WHERE id = ?').run(name, hex).changes;
      if (changed === 0) throw new StoreError('not-found', where, `no device ${hex.slice(0, 8)}`);
      return this.#requireDevice(hex, where);
    });
  }

  /**
   * Sets an active phone's cameras and window (null: every camera, at any time); the caller appends
   * the roster log entry in the same transaction and starts a new epoch (main/phones/scope.ts).
   */
  setDeviceScope(id: string | Uint8Array, scope: DeviceScope | null): Device {
    const where = 'setDeviceScope';
    const hex = idHex(id, 'device id', where);
    const columns = scopeColumns(scope, where);
    return this.#durable(() => {
      const device = this.getDevice(hex);
      if (device === undefined || device.revokedAt !== null) throw new StoreError('not-found', where, `no active device ${hex.slice(0, 8)}`);
      if (device.role === 'guest' && columns[0] === null) throw new StoreError('invalid', where, 'a guest has a scope');
      if (device.role === 'owner' && columns[0] !== null) throw new StoreError('invalid', where, 'an owner has no scope');
      this.#stmt('UPDATE devices SET scope_cameras = ?, scope_from_ms = ?, scope_until_ms = ? WHERE id = ?').run(...columns, hex);
      return this.#requireDevice(hex, where);
    });
  }

  /** Revokes for good; true if it was active. The caller starts a new epoch ('device-removed'). */
  revokeDevice(id: string | Uint8Array): boolean {
    const hex = idHex(id, 'device id', 'revokeDevice');
    return this.#durable(() => this.#stmt('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.#now(), hex).changes === 1);
  }

  /** Records that the phone was just seen; false if unknown. */
  touchDevice(id: string | Uint8Array, at: number = this.#now()): boolean {
    const hex = idHex(id, 'device id', 'touchDevice');
    return this.#stmt('UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?').run(at, hex).changes === 1;
  }

  /** Highest command sequence accepted from the device; -1n before the first. */
  lastCommandSeq(id: string | Uint8Array): bigint {
    const where = 'lastCommandSeq';
    const hex = idHex(id, 'device id', where);
    const row = this.#stmt<{ last_command_seq: string }>('SELECT last_command_seq FROM devices WHERE id = ?').get(hex);
    if (row === undefined) throw new StoreError('not-found', where, `no device ${hex.slice(0, 8)}`);
    return BigInt(row.last_command_seq);
  }

  /**
   * Records an accepted command's sequence number. Only moves forward: returns false (and changes
   * nothing) if seq is not above the stored one, which is a replay another process already accepted.
   */
  setLastCommandSeq(id: string | Uint8Array, seq: bigint): boolean {
    const where = 'setLastCommandSeq';
    const hex = idHex(id, 'device id', where);
    if (seq < 0n || seq > 0xffff_ffff_ffff_ffffn) throw new StoreError('invalid', where, 'sequence must be a u64');
    return this.#durable(() => {
      const current = this.lastCommandSeq(hex);
      if (seq <= current) return false;
      this.#stmt('UPDATE devices SET last_command_seq = ? WHERE id = ?').run(seq.toString(), hex);
      return true;
    });
  }

  // ---- invites ------------------------------------------------------------------------------

  /** Stores a new open invite (crypto/invite.ts `Invite` fits); returns its id in hex. */
  addInvite(invite: { inviteId: Uint8Array | string; secret: Secret | Uint8Array; expiresAt: number; role?: Role; scope?: DeviceScope | null }): string {
    const where = 'addInvite';
    const scope = scopeColumns(invite.scope, where);
    const id = idHex(invite.inviteId, 'invite id', where);
    const secret = invite.secret instanceof Secret ? invite.secret.expose() : invite.secret;
    if (secret.length === 0) throw new StoreError('invalid', where, 'empty invite secret');
    if (!Number.isSafeInteger(invite.expiresAt)) throw new StoreError('invalid', where, 'expiresAt must be Unix seconds');
    this.#durable(() => {
      try {
        this.#stmt("INSERT INTO invites (id, secret, created_at, expires_at, state, role, scope_cameras, scope_from_ms, scope_until_ms) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?)")
          .run(id, blob(this.#key.seal(SEAL_INVITE_SECRET, id, secret)), this.#now(), invite.expiresAt, invite.role ?? null, ...scope);
      } catch (e) {
        if (isUniqueViolation(e)) throw new StoreError('exists', where, `invite ${id.slice(0, 8)} already exists`, { cause: e });
        throw e;
      }
    });
    return id;
  }

  getInvite(id: string | Uint8Array): StoredInvite | undefined {
    const hex = idHex(id, 'invite id', 'getInvite');
    const row = this.#stmt<InviteRow>('SELECT * FROM invites WHERE id = ?').get(hex);
    if (row === undefined) return undefined;
    const expired = row.state === 'open' && row.expires_at <= this.#now();
    const secret = row.secret === null || expired ? null : new Secret(this.#key.open(SEAL_INVITE_SECRET, row.id, row.secret), 'invite secret');
    return {
      id: row.id, secret, createdAt: row.created_at, expiresAt: row.expires_at,
      state: expired ? 'expired' : row.state, deviceId: row.device_id, role: row.role, scope: scopeOfRow(row),
    };
  }

  /**
   * Claims an open, unexpired invite for a device, once: a single conditional UPDATE, so of any
   * number of processes trying, exactly one gets true. The secret is forgotten with it.
   */
  markInviteUsed(id: string | Uint8Array, deviceId: string | Uint8Array): boolean {
    const hex = idHex(id, 'invite id', 'markInviteUsed');
    const device = idHex(deviceId, 'device id', 'markInviteUsed');
    return this.#durable(() => this.#stmt(
      "UPDATE invites SET state = 'used', device_id = ?, secret = NULL WHERE id = ? AND state = 'open' AND expires_at > ?",
    ).run(device, hex, this.#now()).changes === 1);
  }

  /** True if it was open. */
  cancelInvite(id: string | Uint8Array): boolean {
    const hex = idHex(id, 'invite id', 'cancelInvite');
    return this.#durable(() => this.#stmt(
      "UPDATE invites SET state = 'cancelled', secret = NULL WHERE id = ? AND state = 'open'",
    ).run(hex).changes === 1);
  }

  /** Marks open invites past their expiry as expired (and forgets their secrets); returns how many. */
  expireInvites(now: number = this.#now()): number {
    return this.#write(() => this.#stmt(
      "UPDATE invites SET state = 'expired', secret = NULL WHERE state = 'open' AND expires_at <= ?",
    ).run(now).changes);
  }

  // ---- audit log ----------------------------------------------------------------------------

  /** Appends to the audit log; detail is JSON and must not hold secrets (refused if it looks so). */
  audit(actor: AuditActor, action: AuditAction, detail: Record<string, unknown> = {}): number {
    const where = `audit(${action})`;
    if (actor !== 'hub' && actor !== 'owner' && !HEX_ID.test(actor)) throw new StoreError('invalid', where, "actor must be 'hub', 'owner' or a device id");
    if (!AUDIT_ACTIONS.includes(action)) throw new StoreError('invalid', where, 'unknown action');
    const json = auditJson(detail, where);
    return Number(this.#stmt('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)').run(this.#now(), actor, action, json).lastInsertRowid);
  }

  /** Newest first. `since`: Unix seconds, inclusive; `before`: an entry id, for paging back. */
  listAudit(opts: { limit?: number; since?: number; before?: number } = {}): AuditEntry[] {
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? 100)), MAX_AUDIT_PAGE);
    return this.#stmt<AuditRow>('SELECT * FROM audit WHERE at >= ? AND id < ? ORDER BY id DESC LIMIT ?')
      .all(opts.since ?? 0, opts.before ?? Number.MAX_SAFE_INTEGER, limit)
      .map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }
}
