// What a backup holds (PROTOCOL §18.1): the hub's identity and the rows it needs to come back as the
// same hub: cameras (with their passwords: the hub cannot reach them otherwise), their recording and
// detection settings, every device ever paired (a removed phone stays removed), the roster log, and
// the recovery keys' public halves, and the recording epochs recordings on disk need (each epoch's
// signed public record and every phone's sealed copy of its seed, as `recording-keys` hands them
// out), so a restored hub can give phones the keys to recordings made before. Not the recordings,
// their index, events, invites, push subscriptions or the audit log: recordings stay where they are
// (a restore re-indexes the files that survived: main/recording/reindex.ts).
//
// The payload is JSON (binary in base64url), read back with every field checked: it comes out of an
// authenticated backup, but a restore must still fail clearly, never half-write a store.
import { fromBase64url, toBase64url, toHex } from '../../crypto/bytes.ts';
import { labeledHash } from '../../crypto/hash.ts';
import { LABEL_BACKUP } from '../../crypto/labels.ts';
import { exportHubIdentity, type HubIdentity } from '../../crypto/identity.ts';
import type { Store } from '../store/db.ts';

export const PAYLOAD_VERSION = 1;
/** Counters the backup carries; a restore moves each past where the old hub may have taken it. */
export const COUNTERS = ['epoch', 'camera_number', 'recording_epoch', 'segment', 'event'] as const;

export interface CameraRowOut {
  id: string; number: number; topic: string; name: string; url: string; username: string | null; password: string | null;
  username_param: string | null; password_param: string | null; kind: string; onvif_pin: string | null; added_at: number;
}
export interface DeviceRowOut {
  id: string; name: string; role: string; certificate: string; relay_key: string; exchange_key: string; signing_key: string;
  paired_at: number; last_seen: number | null; revoked_at: number | null; last_command_seq: string;
}

/** One recording epoch as the hub stores it (main/store/recordings.ts): public and signed, and each phone's sealed seed. */
export interface RecordingEpochOut {
  number: number;
  createdAtMs: number;
  /** encodeRecordingEpoch, base64url. */
  epoch: string;
  keys: { deviceId: string; sealed: string }[];
}

/**
 * Bytes of recording epochs (records and sealed seeds, before base64url) a backup carries at most:
 * an epoch is 1309 bytes and 1205 per phone, so about 34 epochs of 100 phones, about 1100 (three
 * years of daily epochs) of 2. Past it the oldest epochs are left out, and their recordings do not
 * come back with a restore (PROTOCOL §18.1).
 */
export const MAX_BACKUP_EPOCH_BYTES = 4 * 1024 * 1024;

export interface BackupPayload {
  v: number;
  identity: string;
  counters: Record<string, number>;
  cameras: CameraRowOut[];
  recordingSettings: { camera_id: string; mode: string; keep_days: number }[];
  detectionSettings: { camera_id: string; motion: number; sensitivity: number; masks: string; zones: string }[];
  devices: DeviceRowOut[];
  rosterLog: string[];
  /** meta.backup_recovery (main/backup/recovery.ts): public keys only. */
  recovery: string | null;
  /** Oldest first. Absent in backups made before it was added: read as none. */
  recordingEpochs: RecordingEpochOut[];
}

/**
 * The epochs a restore needs: each with a segment in the index, and the newest (the one recording
 * now, which may have none yet), newest first until MAX_BACKUP_EPOCH_BYTES; returned oldest first.
 * An epoch with no segment is of no use after a restore (events, which hold epochs too, are not in
 * the backup), so a hub recording nothing carries one epoch.
 */
function exportRecordingEpochs(store: Store): RecordingEpochOut[] {
  const epochs = store.statement<{ number: number; created_at_ms: number; epoch: Buffer }>(
    `SELECT number, created_at_ms, epoch FROM recording_epochs e
     WHERE EXISTS (SELECT 1 FROM segments s WHERE s.epoch = e.number) OR number = (SELECT max(number) FROM recording_epochs)
     ORDER BY number DESC`).all();
  const keysOf = store.statement<{ device_id: string; sealed: Buffer }>('SELECT device_id, sealed FROM recording_keys WHERE epoch = ? ORDER BY device_id');
  const out: RecordingEpochOut[] = [];
  let bytes = 0;
  for (const e of epochs) {
    const keys = keysOf.all(e.number);
    bytes += e.epoch.length + keys.reduce((n, k) => n + k.sealed.length, 0);
    if (bytes > MAX_BACKUP_EPOCH_BYTES) break;
    out.push({ number: e.number, createdAtMs: e.created_at_ms, epoch: toBase64url(e.epoch), keys: keys.map((k) => ({ deviceId: k.device_id, sealed: toBase64url(k.sealed) })) });
  }
  return out.reverse();
}

/** The rows, read in one transaction so they agree with each other. */
export function exportPayload(store: Store, hub: HubIdentity): Uint8Array {
  return store.transaction(() => {
    const counters: Record<string, number> = {};
    for (const name of COUNTERS) counters[name] = store.statement<{ value: number }>('SELECT value FROM counters WHERE name = ?').get(name)?.value ?? 0;
    const cameras = store.statement<Omit<CameraRowOut, 'password'>>(
      `SELECT id, number, topic, name, url, username, username_param, password_param, kind, onvif_pin, added_at
       FROM cameras WHERE removed_at IS NULL ORDER BY number`).all().map((c) => {
      const password = store.cameraPasswordForBackup(c.id);
      const out = { ...c, password: password === null ? null : toBase64url(password) };
      password?.fill(0);
      return out;
    });
    const active = new Set(cameras.map((c) => c.id));
    // Every column, so columns later steps add (a guest's scope) come back too; the certificate in base64url.
    const devices = store.statement<Omit<DeviceRowOut, 'certificate'> & { certificate: Buffer }>('SELECT * FROM devices ORDER BY paired_at, id')
      .all().map((d) => ({ ...d, certificate: toBase64url(d.certificate) }));
    const recovery = store.statement<{ value: Buffer }>("SELECT value FROM meta WHERE name = 'backup_recovery'").get();
    const payload: BackupPayload = {
      v: PAYLOAD_VERSION,
      identity: toBase64url(exportHubIdentity(hub)),
      counters,
      cameras,
      recordingSettings: store.statement<BackupPayload['recordingSettings'][number]>('SELECT camera_id, mode, keep_days FROM recording_settings').all()
        .filter((r) => active.has(r.camera_id)),
      detectionSettings: store.statement<BackupPayload['detectionSettings'][number]>('SELECT camera_id, motion, sensitivity, masks, zones FROM detection_settings').all()
        .filter((r) => active.has(r.camera_id)),
      devices,
      rosterLog: store.rosterLog(0, 1_000_000).map((r) => toBase64url(r.entry)),
      recovery: recovery === undefined ? null : recovery.value.toString('utf8'),
      recordingEpochs: exportRecordingEpochs(store),
    };
    return new TextEncoder().encode(JSON.stringify(payload));
  });
}

/** Columns beyond the ones named here, kept as they are if they are plain values (text, numbers, null). */
function extraColumns(row: Record<string, unknown>): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(row)) {
    if (/^[a-z_]{1,40}$/.test(k) && (v === null || typeof v === 'string' || Number.isSafeInteger(v))) out[k] = v as string | number | null;
  }
  return out;
}

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new PayloadError(`backup payload: ${what} is not text`);
  return v;
}
function int(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v)) throw new PayloadError(`backup payload: ${what} is not a whole number`);
  return v as number;
}
function strOrNull(v: unknown, what: string): string | null {
  return v === null ? null : str(v, what);
}
function intOrNull(v: unknown, what: string): number | null {
  return v === null ? null : int(v, what);
}

/** The payload read back; anything out of shape is a PayloadError (never a partial restore). */
export function readPayload(bytes: Uint8Array): BackupPayload {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new PayloadError('backup payload is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || raw.v !== PAYLOAD_VERSION) throw new PayloadError(`backup payload version ${String((raw as { v?: unknown })?.v)} is not ${PAYLOAD_VERSION}`);
  const list = (v: unknown, what: string): Record<string, unknown>[] => {
    if (!Array.isArray(v)) throw new PayloadError(`backup payload: ${what} is not a list`);
    return v as Record<string, unknown>[];
  };
  const counters: Record<string, number> = {};
  for (const name of COUNTERS) counters[name] = int((raw.counters as Record<string, unknown> | undefined)?.[name], `counter ${name}`);
  return {
    v: PAYLOAD_VERSION,
    identity: str(raw.identity, 'identity'),
    counters,
    cameras: list(raw.cameras, 'cameras').map((c) => ({
      id: str(c.id, 'camera id'), number: int(c.number, 'camera number'), topic: str(c.topic, 'camera topic'), name: str(c.name, 'camera name'),
      url: str(c.url, 'camera url'), username: strOrNull(c.username, 'camera username'), password: strOrNull(c.password, 'camera password'),
      username_param: strOrNull(c.username_param, 'camera username_param'), password_param: strOrNull(c.password_param, 'camera password_param'),
      kind: str(c.kind, 'camera kind'), onvif_pin: strOrNull(c.onvif_pin, 'camera onvif_pin'), added_at: int(c.added_at, 'camera added_at'),
    })),
    recordingSettings: list(raw.recordingSettings, 'recordingSettings').map((r) => ({ camera_id: str(r.camera_id, 'camera_id'), mode: str(r.mode, 'mode'), keep_days: int(r.keep_days, 'keep_days') })),
    detectionSettings: list(raw.detectionSettings, 'detectionSettings').map((r) => ({
      camera_id: str(r.camera_id, 'camera_id'), motion: int(r.motion, 'motion'), sensitivity: int(r.sensitivity, 'sensitivity'), masks: str(r.masks, 'masks'), zones: str(r.zones, 'zones'),
    })),
    devices: list(raw.devices, 'devices').map((d) => ({
      ...extraColumns(d),
      id: str(d.id, 'device id'), name: str(d.name, 'device name'), role: str(d.role, 'device role'), certificate: str(d.certificate, 'certificate'),
      relay_key: str(d.relay_key, 'relay_key'), exchange_key: str(d.exchange_key, 'exchange_key'), signing_key: str(d.signing_key, 'signing_key'),
      paired_at: int(d.paired_at, 'paired_at'), last_seen: intOrNull(d.last_seen, 'last_seen'), revoked_at: intOrNull(d.revoked_at, 'revoked_at'),
      last_command_seq: str(d.last_command_seq, 'last_command_seq'),
    })),
    rosterLog: (() => {
      if (!Array.isArray(raw.rosterLog)) throw new PayloadError('backup payload: rosterLog is not a list');
      return raw.rosterLog.map((e) => str(e, 'roster entry'));
    })(),
    recovery: strOrNull(raw.recovery ?? null, 'recovery'),
    recordingEpochs: (raw.recordingEpochs === undefined ? [] : list(raw.recordingEpochs, 'recordingEpochs')).map((e) => ({
      number: int(e.number, 'recording epoch number'), createdAtMs: int(e.createdAtMs, 'recording epoch createdAtMs'), epoch: str(e.epoch, 'recording epoch'),
      keys: list(e.keys, 'recording epoch keys').map((k) => ({ deviceId: str(k.deviceId, 'recording key deviceId'), sealed: str(k.sealed, 'recording key') })),
    })),
  };
}

/**
 * The backup's *version* (PROTOCOL §18.3): a hash of what a restore brings back that an owner would
 * miss, so a phone keeping the backup fetches a new one when it moves. It leaves out what changes
 * all the time and a restore does not need fresh: a device's last-seen time and last command number
 * (a command's 60 s lifetime outlasts a restore), and the counters but for every half of
 * RESTORE_COUNTER_GAP (a restore moves them a whole gap past the backup's).
 */
export function materialVersion(payload: Uint8Array): string {
  const p = JSON.parse(new TextDecoder().decode(payload)) as BackupPayload;
  // Counters only coarsely: a kept backup whose counters fall half the restore gap behind is stale.
  const counters = Object.fromEntries(Object.entries(p.counters).map(([k, v]) => [k, Math.floor(v / (RESTORE_COUNTER_GAP / 2))]));
  const material = { ...p, counters, devices: p.devices.map((d) => ({ ...d, last_seen: null, last_command_seq: '' })) };
  return toHex(labeledHash(LABEL_BACKUP, 16, new TextEncoder().encode(JSON.stringify(material))));
}

/** How far a restore moves each counter past the backup's (PROTOCOL §18.4): epochs a phone saw since stay behind. */
export const RESTORE_COUNTER_GAP = 1_000_000;

/**
 * Writes a payload into a fresh store, in one transaction: all of it or none. The store MUST hold no
 * hub yet (the caller checks), so nothing of another hub is mixed in. SQLite's own CHECKs and foreign
 * keys refuse rows out of shape.
 */
export function writePayload(store: Store, p: BackupPayload, identity: Uint8Array): void {
  store.transaction(() => {
    store.saveHubIdentity(identity);
    for (const name of COUNTERS) {
      const value = name === 'camera_number' ? p.counters[name]! : p.counters[name]! + RESTORE_COUNTER_GAP;
      store.statement('UPDATE counters SET value = ? WHERE name = ?').run(value, name);
    }
    for (const c of p.cameras) {
      const password = c.password === null ? null : fromBase64url(c.password);
      const sealed = password === null ? null : Buffer.from(store.sealCameraPassword(c.id, password));
      password?.fill(0);
      store.statement(`INSERT INTO cameras (id, number, topic, name, url, username, password, username_param, password_param, kind, onvif_pin, added_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(c.id, c.number, c.topic, c.name, c.url, c.username, sealed, c.username_param, c.password_param, c.kind, c.onvif_pin, c.added_at);
    }
    for (const r of p.recordingSettings) store.statement('INSERT INTO recording_settings (camera_id, mode, keep_days) VALUES (?, ?, ?)').run(r.camera_id, r.mode, r.keep_days);
    for (const r of p.detectionSettings) {
      store.statement('INSERT INTO detection_settings (camera_id, motion, sensitivity, masks, zones) VALUES (?, ?, ?, ?, ?)').run(r.camera_id, r.motion, r.sensitivity, r.masks, r.zones);
    }
    // Only columns this store's devices table has (a name comes from the payload, never into SQL unchecked).
    const columns = new Set(store.statement<{ name: string }>('SELECT name FROM pragma_table_info(\'devices\')').all().map((c) => c.name));
    for (const d of p.devices) {
      const row: Record<string, unknown> = { ...d, certificate: Buffer.from(fromBase64url(d.certificate)) };
      const names = Object.keys(row).filter((k) => columns.has(k));
      store.statement(`INSERT INTO devices (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(...names.map((k) => row[k]));
    }
    p.rosterLog.forEach((e, seq) => store.statement('INSERT INTO roster_log (seq, entry) VALUES (?, ?)').run(seq, Buffer.from(fromBase64url(e))));
    if (p.recovery !== null) store.statement("INSERT INTO meta (name, value) VALUES ('backup_recovery', ?)").run(Buffer.from(p.recovery, 'utf8'));
    // Checked by the caller (restoreHub: signed by this hub, each seed addressed to its phone and epoch).
    for (const e of p.recordingEpochs) {
      store.statement('INSERT INTO recording_epochs (number, created_at_ms, epoch) VALUES (?, ?, ?)').run(e.number, e.createdAtMs, Buffer.from(fromBase64url(e.epoch)));
      for (const k of e.keys) store.statement('INSERT INTO recording_keys (epoch, device_id, sealed) VALUES (?, ?, ?)').run(e.number, k.deviceId, Buffer.from(fromBase64url(k.sealed)));
    }
  });
}
