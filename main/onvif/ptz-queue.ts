// PTZ actions wait in line per camera: a move runs for its seconds, then the next starts. The line
// is where a stolen owner phone would pile up hours of moves, so:
//  * each phone may have at most `maxPerPhone` actions waiting or running per camera; more are
//    refused at once ('queue-full');
//  * an action is authorised again when its turn comes (the phone may have been removed, or lost
//    its owner role, while it waited): if not, it is dropped ('withdrawn');
//  * withdraw(phone), called when the phone is removed, drops its waiting actions and stops the
//    one that runs (its move is cut short: the camera gets Stop at once).
import { OnvifError } from './errors.ts';

/** Actions one phone may have waiting or running per camera: 4 moves of at most 30 s is 2 min. */
export const MAX_PTZ_QUEUED_PER_PHONE = 4;

/** What a queued action does when its turn comes; it should end soon after `signal` aborts. */
export type PtzAction = (signal: AbortSignal) => Promise<void>;

interface Entry {
  readonly deviceId: string;
  readonly stillAllowed: () => boolean;
  readonly action: PtzAction;
  readonly stop: AbortController;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  running: boolean;
}

const shortId = (id: string) => id.slice(0, 8);

export class PtzQueue {
  readonly #maxPerPhone: number;
  /** Per camera id: the running action first, then those waiting, in arrival order. */
  readonly #lines = new Map<string, Entry[]>();
  #closed = false;

  constructor(opts: { maxPerPhone?: number } = {}) {
    const max = opts.maxPerPhone ?? MAX_PTZ_QUEUED_PER_PHONE;
    if (!Number.isInteger(max) || max < 1 || max > 64) throw new RangeError('maxPerPhone must be an integer in [1, 64]');
    this.#maxPerPhone = max;
  }

  /**
   * Queues `action` for `cameraId` on behalf of `deviceId`; settles when it has run (or was
   * refused, withdrawn, or failed). `stillAllowed` is asked when its turn comes.
   */
  run(deviceId: string, cameraId: string, stillAllowed: () => boolean, action: PtzAction): Promise<void> {
    const where = `ptz(camera=${shortId(cameraId)}, device=${shortId(deviceId)})`;
    if (this.#closed) return Promise.reject(new OnvifError('withdrawn', where, 'the hub is shutting down'));
    const line = this.#lines.get(cameraId) ?? [];
    if (line.filter((e) => e.deviceId === deviceId).length >= this.#maxPerPhone) {
      return Promise.reject(new OnvifError('queue-full', where, `the PTZ queue for this camera already holds ${this.#maxPerPhone} actions of this phone; wait until they are done`));
    }
    return new Promise<void>((resolve, reject) => {
      line.push({ deviceId, stillAllowed, action, stop: new AbortController(), resolve, reject, running: false });
      this.#lines.set(cameraId, line);
      if (line.length === 1) this.#next(cameraId);
    });
  }

  /** Actions waiting or running for a camera (all phones). */
  size(cameraId: string): number {
    return this.#lines.get(cameraId)?.length ?? 0;
  }

  /**
   * Drops everything `deviceId` has queued, on every camera, and stops its running actions.
   * Returns how many actions it dropped or stopped.
   */
  withdraw(deviceId: string, reason = 'the phone was removed from the hub'): number {
    let n = 0;
    for (const [cameraId, line] of this.#lines) {
      for (const entry of [...line]) {
        if (entry.deviceId !== deviceId) continue;
        n++;
        this.#drop(cameraId, line, entry, reason);
      }
    }
    return n;
  }

  /** Drops every waiting action and stops the running ones (hub shutdown). */
  close(): void {
    this.#closed = true;
    for (const [cameraId, line] of this.#lines) for (const entry of [...line]) this.#drop(cameraId, line, entry, 'the hub is shutting down');
  }

  #drop(cameraId: string, line: Entry[], entry: Entry, reason: string): void {
    // A running action ends itself once aborted (and #next moves on); a waiting one leaves now.
    entry.stop.abort(new OnvifError('withdrawn', `ptz(camera=${shortId(cameraId)}, device=${shortId(entry.deviceId)})`, reason));
    if (entry.running) return;
    line.splice(line.indexOf(entry), 1);
    if (line.length === 0) this.#lines.delete(cameraId);
    entry.reject(entry.stop.signal.reason);
  }

  #next(cameraId: string): void {
    const line = this.#lines.get(cameraId);
    const entry = line?.[0];
    if (line === undefined || entry === undefined) return;
    const where = `ptz(camera=${shortId(cameraId)}, device=${shortId(entry.deviceId)})`;
    const done = (error?: unknown) => {
      line.shift();
      if (line.length === 0 && this.#lines.get(cameraId) === line) this.#lines.delete(cameraId);
      if (error === undefined) entry.resolve();
      else entry.reject(error);
      this.#next(cameraId);
    };
    let allowed: boolean;
    try {
      allowed = entry.stillAllowed();
    } catch (e) {
      return done(e);
    }
    if (!allowed) return done(new OnvifError('withdrawn', where, 'the phone may no longer steer this camera (removed, or no longer an owner)'));
    entry.running = true;
    let ran: Promise<void>;
    try {
      ran = entry.action(entry.stop.signal);
    } catch (e) {
      ran = Promise.reject(e);
    }
    ran.then(
      () => done(entry.stop.signal.aborted ? entry.stop.signal.reason : undefined),
      (e: unknown) => done(entry.stop.signal.aborted ? entry.stop.signal.reason : e),
    );
  }
}
