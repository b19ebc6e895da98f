// The store's part for Web Push (PROTOCOL §17.3): each phone's push subscription (endpoint, RFC 8291
// keys) and its preferences, one row per phone in push_subscriptions (migration step 4), and the
// hub's push counter (a row in `counters`: pushes are numbered so that a phone refuses a replay).
import { readPushPrefs, type PushPrefs } from '../../crypto/push-prefs.ts';
import type { Store } from './db.ts';
import { StoreError } from './errors.ts';

export interface PushSubscriptionRow {
  readonly deviceId: string;
  readonly endpoint: string;
  /** RFC 8291 ua_public (65 bytes) and auth_secret (16 bytes). */
  readonly p256dh: Uint8Array;
  readonly auth: Uint8Array;
  readonly prefs: PushPrefs;
  readonly createdAt: number;
}

interface Row {
  device_id: string;
  endpoint: string;
  p256dh: Buffer;
  auth: Buffer;
  prefs: string;
  created_at: number;
}

function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toRow(r: Row): PushSubscriptionRow {
  let prefs: PushPrefs;
  try {
    prefs = readPushPrefs(JSON.parse(r.prefs));
  } catch (cause) {
    throw new StoreError('invalid', `pushSubscription(device=${r.device_id.slice(0, 8)})`, 'stored preferences do not read', { cause });
  }
  return { deviceId: r.device_id, endpoint: r.endpoint, p256dh: new Uint8Array(r.p256dh), auth: new Uint8Array(r.auth), prefs, createdAt: r.created_at };
}

export class PushSubscriptions {
  constructor(private readonly store: Pick<Store, 'statement' | 'transaction'>, private readonly now: () => number = Date.now) {}

  /** Replaces the phone's subscription (a phone has one: its browser's). */
  put(s: Omit<PushSubscriptionRow, 'createdAt'>): void {
    this.store.statement(`INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, prefs, created_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, prefs = excluded.prefs, created_at = excluded.created_at`)
      .run(s.deviceId, s.endpoint, blob(s.p256dh), blob(s.auth), JSON.stringify(s.prefs), this.now());
  }

  /** Changes the preferences of an existing subscription; false when the phone has none. */
  setPrefs(deviceId: string, prefs: PushPrefs): boolean {
    return this.store.statement('UPDATE push_subscriptions SET prefs = ? WHERE device_id = ?').run(JSON.stringify(prefs), deviceId).changes === 1;
  }

  get(deviceId: string): PushSubscriptionRow | undefined {
    const r = this.store.statement<Row>('SELECT * FROM push_subscriptions WHERE device_id = ?').get(deviceId);
    return r === undefined ? undefined : toRow(r);
  }

  /** Every subscription of a phone still on the roster. */
  active(): PushSubscriptionRow[] {
    return this.store.statement<Row>(`SELECT p.* FROM push_subscriptions p JOIN devices d ON d.id = p.device_id
      WHERE d.revoked_at IS NULL ORDER BY p.device_id`).all().map(toRow);
  }

  /** Removes the phone's subscription; `endpoint` given: only if it is still that one (a 404/410 for an old endpoint leaves a new one alone). */
  remove(deviceId: string, endpoint?: string): boolean {
    return endpoint === undefined
      ? this.store.statement('DELETE FROM push_subscriptions WHERE device_id = ?').run(deviceId).changes === 1
      : this.store.statement('DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?').run(deviceId, endpoint).changes === 1;
  }

  /** The next push number, never handed out before by this hub. */
  nextSeq(): bigint {
    return this.store.transaction(() => {
      this.store.statement("INSERT OR IGNORE INTO counters (name, value) VALUES ('push', 0)").run();
      const row = this.store.statement<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'push' RETURNING value").get();
      if (row === undefined) throw new StoreError('not-found', 'nextPushSeq', 'push counter missing');
      return BigInt(row.value);
    });
  }
}
