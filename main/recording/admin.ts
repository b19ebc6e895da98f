// The owner's side of recordings: each camera's mode and keep days, and what its recordings take on
// disk (`vigil record`, `vigil recordings`, the UI). Works on a running hub (which then re-reads the
// camera's mode at once) and on a stopped one's store alike.
import type { RecordingInfo } from '../../contract/hub-ui.ts';
import type { Store } from '../store/db.ts';
import type { RecordingIndex, RecordingMode } from '../store/recordings.ts';
import { EVENTS_MODE_NOTE } from './recorder.ts';

export interface RecordingAdminParts {
  store: Pick<Store, 'listCameras' | 'getCamera' | 'audit'>;
  index: Pick<RecordingIndex, 'settings' | 'setSettings' | 'totals'>;
  /** The running hub's recorder, if any. */
  recorder?: { settingsChanged(cameraId: string): void; status(cameraId: string): { recording: boolean } };
}

export class RecordingAdmin {
  constructor(private readonly p: RecordingAdminParts) {}

  /** Every active camera, and removed ones whose recordings are still kept. */
  list(): RecordingInfo[] {
    const totals = new Map(this.p.index.totals().map((t) => [t.cameraId, t]));
    const cameras = this.p.store.listCameras({ includeRemoved: true }).filter((c) => c.removedAt === null || totals.has(c.id));
    return cameras.map((c) => {
      const s = this.p.index.settings(c.id);
      const t = totals.get(c.id);
      return {
        cameraId: c.id, name: c.name, mode: s.mode, keepDays: s.keepDays,
        bytes: t?.bytes ?? 0, segments: t?.segments ?? 0, oldest: t?.oldestMs ?? null, newest: t?.newestMs ?? null,
        recording: this.p.recorder?.status(c.id).recording ?? false,
        ...(s.mode === 'events' ? { note: EVENTS_MODE_NOTE } : {}),
        ...(c.removedAt !== null ? { note: 'camera removed; its recordings go with retention' } : {}),
      };
    });
  }

  set(camera: string, mode: RecordingMode, keepDays?: number): RecordingInfo {
    const s = this.p.index.setSettings(camera, mode, keepDays);
    this.p.store.audit('owner', 'recording-settings', { camera: s.cameraId, mode: s.mode, keepDays: s.keepDays });
    this.p.recorder?.settingsChanged(s.cameraId);
    return this.list().find((i) => i.cameraId === s.cameraId)!;
  }
}
