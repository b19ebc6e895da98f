// The owner's cameras on a running hub: adding, renaming and removing one (each audited; adding or
// removing one starts a new epoch, since the set of keys changes), their status for the UI and the
// command line, and watching one on the hub itself.
import type { CameraInfo, NewCameraInput, ProfileInfo } from '../../contract/hub-ui.ts';
import { HubError } from '../api/errors.ts';
import type { Camera, EpochReason, Store } from '../store/db.ts';
import type { LiveCameras } from './live-cameras.ts';
import type { LocalViewer, LocalViewers } from './local-viewers.ts';
import type { H264Profile } from './profile-feed.ts';
import type { Mpeg1Profile } from './mpeg1-feed.ts';

export interface CamerasParts {
  store: Pick<Store, 'addCamera' | 'getCamera' | 'renameCamera' | 'removeCamera' | 'listCameras' | 'audit'>;
  live: LiveCameras;
  viewers: LocalViewers;
  /** Relay watchers of a topic, on every link. */
  watchers(topic: string): number;
  newEpoch(reason: EpochReason): void;
  /** Tell the phones the list of cameras changed. */
  changed(): void;
}

export class Cameras {
  constructor(private readonly p: CamerasParts) {}

  add(input: NewCameraInput): Camera {
    const camera = this.p.store.addCamera(input);
    this.p.store.audit('owner', 'camera-added', { camera: camera.id });
    // The new camera needs a key in this epoch: start a new one so every phone gets it.
    this.p.newEpoch('camera-added');
    this.p.live.start(camera);
    this.p.changed();
    return camera;
  }

  rename(idOrName: string, name: string): Camera {
    const before = this.p.store.getCamera(idOrName);
    if (before === undefined) throw new HubError('not-found', 'no such camera');
    const camera = this.p.store.renameCamera(before.id, name);
    const live = this.p.live.get(camera.number);
    if (live !== undefined) live.camera = camera;
    this.p.store.audit('owner', 'camera-renamed', { camera: camera.id, from: before.name, to: camera.name });
    this.p.changed();
    return camera;
  }

  async remove(idOrName: string): Promise<boolean> {
    const camera = this.p.store.getCamera(idOrName);
    // The store still finds a removed camera by its id: removing it again does nothing.
    if (camera === undefined || camera.removedAt !== null) return false;
    await this.p.live.stop(camera.number);
    this.p.store.removeCamera(camera.id);
    this.p.store.audit('owner', 'camera-removed', { camera: camera.id });
    this.p.newEpoch('camera-removed');
    this.p.changed();
    return true;
  }

  /** Plaintext viewing in this process (the UI's tiles). Returns the function that stops it. */
  watchLocal(idOrName: string, viewer: LocalViewer): () => void {
    const camera = this.p.store.getCamera(idOrName);
    const live = camera && camera.removedAt === null ? this.p.live.get(camera.number) : undefined;
    if (live === undefined) throw new HubError('not-found', 'no such camera');
    const release = this.p.live.holdLive(camera!.number);
    const stop = this.p.viewers.watch(live.stream, viewer);
    return () => {
      stop();
      release();
    };
  }

  status(): CameraInfo[] {
    return this.p.store.listCameras().map((camera) => {
      const live = this.p.live.get(camera.number);
      const init = live?.feed.init;
      const state = live?.feed.state;
      const profiles = [live?.profile?.transcoder, live?.mpeg1?.transcoder].flatMap((p) => (p ? [p] : []));
      return {
        id: camera.id, name: camera.name, number: camera.number, topic: camera.topic, url: camera.url, kind: camera.kind,
        state: state?.state ?? 'stopped',
        ...(state?.error ? { error: state.error } : {}),
        ...(init ? { mime: init.mime, codecs: init.codecs.join(','), width: init.width, height: init.height } : {}),
        watchers: this.p.watchers(camera.topic),
        fragments: live?.feed.fragments ?? 0,
        bytes: live?.feed.bytes ?? 0,
        ...(profiles.length > 0 ? { profiles: profiles.map((p) => this.#profileStatus(p, init?.codecs ?? [])) } : {}),
      };
    });
  }

  #profileStatus(profile: H264Profile | Mpeg1Profile, nativeCodecs: readonly string[]): ProfileInfo {
    const state = profile.feed.state;
    const { mime, codecs } = profile.describe(nativeCodecs);
    return {
      name: profile.name, number: profile.number, topic: profile.topic, running: profile.running,
      state: state.state, ...(state.error ? { error: state.error } : {}), mime, codecs,
      watchers: this.p.watchers(profile.topic), starts: profile.starts, fragments: profile.feed.fragments,
    };
  }
}
