// snapshot and ptz: ONVIF against the camera with the owner's stored credentials (PROTOCOL §10.2).
// A snapshot's JPEG is larger than one session message, so it goes as numbered blob notices before
// the result. PTZ moves run one at a time per camera, a few queued per phone, each authorised again
// when its turn comes (main/onvif/ptz-queue.ts).
import { ROLE_ALLOWS } from '../../../crypto/command.ts';
import { toBase64url } from '../../../crypto/bytes.ts';
import type { Notice } from '../../../crypto/messages.ts';
import { CommandRefused } from '../../../crypto/phone-commands.ts';
import type { LiveCameras } from '../../media/live-cameras.ts';
import { checkPtzArgs, ptz, snapshot, type PtzArgs } from '../../onvif/camera-control.ts';
import { isOnvifError } from '../../onvif/errors.ts';
import type { PtzQueue } from '../../onvif/ptz-queue.ts';
import type { Store } from '../../store/db.ts';
import { liveCamera, type Handler } from './handlers.ts';

/** Raw bytes per snapshot chunk: base64 of it fits one session message with room to spare. */
export const SNAPSHOT_CHUNK_BYTES = 36 * 1024;

export interface CameraControlParts {
  store: Store;
  cameras: Pick<LiveCameras, 'get'>;
  ptzQueue: PtzQueue;
  notify(deviceId: string, notice: Notice): void;
}

/** ONVIF failures become a refusal the phone can show (they name no secrets). */
async function onvif<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isOnvifError(e)) throw new CommandRefused('camera-failed', e.message);
    throw e;
  }
}

export function takeSnapshot(p: CameraControlParts): Handler<'snapshot'> {
  return async (args, { device, seq }) => {
    const live = liveCamera(p.store, p.cameras, args.camera);
    const jpeg = await onvif(() => snapshot(p.store, live.camera.id));
    p.store.audit(device.id, 'snapshot', { camera: live.camera.id });
    const blob = String(seq);
    const chunks = Math.ceil(jpeg.length / SNAPSHOT_CHUNK_BYTES);
    for (let i = 0; i < chunks; i++) {
      p.notify(device.id, { type: 'blob', id: blob, index: i, data: toBase64url(jpeg.subarray(i * SNAPSHOT_CHUNK_BYTES, (i + 1) * SNAPSHOT_CHUNK_BYTES)) });
    }
    return { blob, chunks, bytes: jpeg.length, type: 'image/jpeg' };
  };
}

export function steer(p: CameraControlParts): Handler<'ptz'> {
  return async (args, { device }) => {
    const live = liveCamera(p.store, p.cameras, args.camera);
    const ptzArgs: PtzArgs = {
      ...(args.move !== undefined ? { move: [...args.move] } : {}),
      ...(args.seconds !== undefined ? { seconds: args.seconds } : {}),
      ...(args.stop === true ? { stop: true } : {}),
      ...(args.preset !== undefined ? { preset: args.preset } : {}),
    };
    await onvif(async () => {
      checkPtzArgs(ptzArgs);
      // One PTZ action at a time per camera, a few per phone; asked again when its turn comes.
      const mayStillSteer = () => {
        const d = p.store.getDevice(device.id);
        return d !== undefined && d.revokedAt === null && ROLE_ALLOWS[d.role].includes('ptz');
      };
      await p.ptzQueue.run(device.id, live.camera.id, mayStillSteer, (signal) => ptz(p.store, live.camera.id, ptzArgs, { signal }));
    });
    p.store.audit(device.id, 'ptz', { camera: live.camera.id, ...(ptzArgs.stop ? { stop: true } : {}), ...(ptzArgs.preset !== undefined ? { preset: String(ptzArgs.preset) } : {}) });
    return { ok: true };
  };
}
