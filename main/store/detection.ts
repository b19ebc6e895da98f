// The store's part for detection (PROTOCOL §17.1): each camera's motion setting, sensitivity, masks
// and zones (table detection_settings, migration step 4). `vigil detect` writes here, from another
// process too; a running hub notices the change (dataVersion) and applies it.
import { DEFAULT_SENSITIVITY, MAX_SENSITIVITY, MIN_SENSITIVITY } from '../events/motion.ts';
import type { Rect } from '../events/hub-events.ts';
import { checkRects, rectsFromJson, rectsToJson, ZoneError } from '../events/zones.ts';
import type { Store } from './db.ts';
import { StoreError } from './errors.ts';

export interface DetectionSettings {
  readonly cameraId: string;
  readonly motion: boolean;
  readonly sensitivity: number;
  readonly masks: readonly Rect[];
  readonly zones: readonly Rect[];
}

export interface DetectionChange {
  readonly motion?: boolean;
  readonly sensitivity?: number;
  /** Replaces the camera's masks (an empty list clears them). */
  readonly masks?: readonly Rect[];
  readonly zones?: readonly Rect[];
}

interface Row {
  camera_id: string;
  motion: number;
  sensitivity: number;
  masks: string;
  zones: string;
}

function toSettings(r: Row): DetectionSettings {
  let masks: Rect[] = [];
  let zones: Rect[] = [];
  // A row edited by hand into nonsense watches everything rather than failing the hub.
  try {
    masks = rectsFromJson(r.masks, 'masks');
    zones = rectsFromJson(r.zones, 'zones');
  } catch {
    masks = [];
    zones = [];
  }
  const sensitivity = Number.isInteger(r.sensitivity) && r.sensitivity >= MIN_SENSITIVITY && r.sensitivity <= MAX_SENSITIVITY ? r.sensitivity : DEFAULT_SENSITIVITY;
  return { cameraId: r.camera_id, motion: r.motion === 1, sensitivity, masks, zones };
}

export class DetectionStore {
  constructor(private readonly store: Pick<Store, 'statement' | 'transaction' | 'getCamera'>) {}

  /** A camera's settings; motion off, default sensitivity, no masks or zones when never set. */
  settings(cameraId: string): DetectionSettings {
    const row = this.store.statement<Row>('SELECT camera_id, motion, sensitivity, masks, zones FROM detection_settings WHERE camera_id = ?').get(cameraId);
    return row === undefined ? { cameraId, motion: false, sensitivity: DEFAULT_SENSITIVITY, masks: [], zones: [] } : toSettings(row);
  }

  /** Every camera that has a row. */
  all(): DetectionSettings[] {
    return this.store.statement<Row>('SELECT camera_id, motion, sensitivity, masks, zones FROM detection_settings').all().map(toSettings);
  }

  /** Changes a camera's (by id or name) settings; what is not given stays. */
  set(idOrName: string, change: DetectionChange): DetectionSettings {
    const where = 'setDetectionSettings';
    if (change.sensitivity !== undefined && !(Number.isInteger(change.sensitivity) && change.sensitivity >= MIN_SENSITIVITY && change.sensitivity <= MAX_SENSITIVITY)) {
      throw new StoreError('invalid', where, `sensitivity must be a whole number ${MIN_SENSITIVITY}..${MAX_SENSITIVITY}`);
    }
    let masks: Rect[] | undefined;
    let zones: Rect[] | undefined;
    try {
      if (change.masks !== undefined) masks = checkRects(change.masks, 'mask');
      if (change.zones !== undefined) zones = checkRects(change.zones, 'zone');
    } catch (e) {
      if (e instanceof ZoneError) throw new StoreError('invalid', where, e.message, { cause: e });
      throw e;
    }
    const camera = this.store.getCamera(idOrName);
    if (camera === undefined || camera.removedAt !== null) throw new StoreError('not-found', where, 'no such camera');
    return this.store.transaction(() => {
      const now = this.settings(camera.id);
      const next: DetectionSettings = {
        cameraId: camera.id, motion: change.motion ?? now.motion, sensitivity: change.sensitivity ?? now.sensitivity,
        masks: masks ?? now.masks, zones: zones ?? now.zones,
      };
      this.store.statement(`INSERT INTO detection_settings (camera_id, motion, sensitivity, masks, zones) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (camera_id) DO UPDATE SET motion = excluded.motion, sensitivity = excluded.sensitivity, masks = excluded.masks, zones = excluded.zones`)
        .run(camera.id, next.motion ? 1 : 0, next.sensitivity, rectsToJson(next.masks), rectsToJson(next.zones));
      return next;
    });
  }

  /**
   * SQLite's data_version: it changes when another connection (another process: `vigil detect`)
   * committed to the database, so a running hub re-reads settings only then.
   */
  dataVersion(): number {
    return this.store.statement<{ data_version: number }>('PRAGMA data_version').get()?.data_version ?? 0;
  }
}
