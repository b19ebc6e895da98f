// The hub's content keys. One random 32-byte key per camera per epoch, held only in memory: a hub
// restart starts a new epoch with fresh keys, so a frame counter restarting at 0 can never repeat a
// (key, nonce) pair (T8). A new epoch also starts on every phone added or removed and every 24 h;
// the old sealers are closed in the same step, so the first frame after a removal is already sealed
// under the new epoch (T2). Frames captured before a change may be sealed again under the new epoch
// only if the roster gained nobody since they were captured (`sharedSince`, T3).
import { FrameSealer } from '../crypto/frame.ts';
import { bytesToHex, hexToBytes } from './hex.ts';
import { nodeFrameAead } from './node-aead.ts';
import { type HubIdentity } from '../crypto/identity.ts';
import { newContentKey, signKeyUpdate, type CameraKey } from '../crypto/keyupdate.ts';
import { rosterHash, type RosterEntry } from '../crypto/roster.ts';

export interface KeyedCamera {
  readonly id: string;
  readonly number: number;
}

export class EpochKeys {
  #epoch = -1;
  #keys = new Map<number, CameraKey>();
  #sealers = new Map<number, FrameSealer>();
  #roster: RosterEntry[] = [];
  #startedAt = 0;
  #sharedSince = 0;

  /** `now`: Unix ms (Date.now; tests inject a clock). */
  constructor(private readonly hub: HubIdentity, private readonly now: () => number = Date.now) {}

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Starts `epoch` (from the store's counter, which never repeats) for these cameras and this roster.
   * `joined`: a phone on the roster already starts getting keys now (a guest's window opened), so
   * nothing captured before may be sealed again under this epoch, as if it had just been added.
   */
  begin(epoch: number, cameras: readonly KeyedCamera[], roster: readonly RosterEntry[], joined = false): void {
    if (epoch <= this.#epoch) throw new Error(`epoch must go forward (${this.#epoch} -> ${epoch})`);
    for (const s of this.#sealers.values()) s.close();
    for (const k of this.#keys.values()) k.key.wipe();
    this.#keys = new Map();
    this.#sealers = new Map();
    const before = new Set(this.#roster.map((m) => bytesToHex(m.deviceId)));
    const grew = joined || this.#epoch < 0 || roster.some((m) => !before.has(bytesToHex(m.deviceId)));
    this.#epoch = epoch;
    this.#startedAt = this.now();
    if (grew) this.#sharedSince = this.#startedAt;
    this.#roster = [...roster];
    for (const c of cameras) this.#addCamera(c);
  }

  /**
   * Keys one more stream in the current epoch (a camera's h264 profile, found once its codec is
   * known). A number keyed already is refused: a second key or sealer for it would fork its counter.
   * The caller hands every phone the key update again.
   */
  addCamera(camera: KeyedCamera): void {
    if (this.#epoch < 0) throw new Error('no epoch yet');
    if (this.#keys.has(camera.number)) throw new Error(`camera number ${camera.number} already has a key in epoch ${this.#epoch}`);
    this.#addCamera(camera);
  }

  has(cameraNumber: number): boolean {
    return this.#keys.has(cameraNumber);
  }

  #addCamera(camera: KeyedCamera): void {
    const key: CameraKey = { cameraId: hexToBytes(camera.id), cameraNumber: camera.number, key: newContentKey() };
    this.#keys.set(camera.number, key);
    this.#sealers.set(camera.number, new FrameSealer({
      hubId: this.hub.hubId, cameraId: key.cameraId, cameraNumber: camera.number, epoch: this.#epoch, key: key.key,
    }, { aead: nodeFrameAead })); // OpenSSL: same bytes as the phones' libsodium, about 3x faster
  }

  /** When the current epoch began (Unix ms): frames captured before it belong to the old roster. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /**
   * Since when (Unix ms) every phone on the current roster has been on it: the start of the newest
   * epoch that added a phone (or of the first epoch). Video captured from then on may be sealed
   * again under the current epoch (the cached GOP after a removal or the daily rotation): a removed
   * phone holds no key of it, and every phone that does was there when it was captured. Video from
   * before it must not be (T3).
   */
  get sharedSince(): number {
    return this.#sharedSince;
  }

  sealer(cameraNumber: number): FrameSealer | undefined {
    return this.#sealers.get(cameraNumber);
  }

  /**
   * The signed key update that hands `recipient` the camera keys of the current epoch: every one, or
   * only those of the cameras (hex ids) in `only` (a guest's or scoped viewer's, main/phones/scope.ts).
   */
  keyUpdateFor(recipient: Uint8Array, only?: ReadonlySet<string>): Uint8Array {
    const keys = [...this.#keys.values()];
    return signKeyUpdate(this.hub, {
      epoch: this.#epoch,
      rosterHash: rosterHash(this.#epoch, this.#roster),
      recipient,
      issuedAt: this.now(),
      cameras: only === undefined ? keys : keys.filter((k) => only.has(bytesToHex(k.cameraId))),
    });
  }
}
