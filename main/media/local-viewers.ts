// Local viewing on the hub itself (the UI's live tiles): a media bus consumer handing each camera's
// own stream, in plaintext, to viewers in this process. The hub is the root of trust and the UI
// server serves it on the token-guarded local API port; nothing here leaves the process otherwise.
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import type { MediaConsumer, MediaStream } from './media-bus.ts';

export interface LocalViewer {
  onInit(data: Uint8Array, mime: string): void;
  onFragment(data: Uint8Array, keyframe: boolean): void;
  /** The camera was removed or the hub is closing. */
  onEnd?(): void;
}

function mimeOf(init: IngestInit): string {
  return `${init.mime}; codecs="${init.codecs.join(',')}"`;
}

export class LocalViewers implements MediaConsumer {
  /** By camera id; only cameras' own streams (a profile is for browsers that cannot play them). */
  readonly #viewers = new Map<string, Set<LocalViewer>>();

  /** The init segment and the GOP so far at once, then every fragment. Returns the function that stops it. */
  watch(stream: MediaStream, viewer: LocalViewer): () => void {
    let viewers = this.#viewers.get(stream.cameraId);
    if (viewers === undefined) this.#viewers.set(stream.cameraId, (viewers = new Set()));
    viewers.add(viewer);
    const init = stream.init;
    if (init !== undefined) {
      viewer.onInit(init.data, mimeOf(init));
      for (const f of stream.gop) viewer.onFragment(f.data, f.keyframe);
    }
    return () => {
      viewers.delete(viewer);
      if (viewers.size === 0) this.#viewers.delete(stream.cameraId);
    };
  }

  init(stream: MediaStream, init: IngestInit): void {
    if (stream.kind !== 'camera') return;
    for (const v of this.#viewers.get(stream.cameraId) ?? []) v.onInit(init.data, mimeOf(init));
  }

  fragment(stream: MediaStream, f: IngestFragment): void {
    if (stream.kind !== 'camera') return;
    for (const v of this.#viewers.get(stream.cameraId) ?? []) v.onFragment(f.data, f.keyframe);
  }

  ended(stream: MediaStream): void {
    if (stream.kind !== 'camera') return;
    for (const v of this.#viewers.get(stream.cameraId) ?? []) v.onEnd?.();
    this.#viewers.delete(stream.cameraId);
  }

  /** The hub closes: every viewer is told. */
  endAll(): void {
    for (const viewers of this.#viewers.values()) for (const v of viewers) v.onEnd?.();
    this.#viewers.clear();
  }
}
