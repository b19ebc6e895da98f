// What a new viewer of a stream starts from: the latest init segment and the fragments since the
// last keyframe. Every feed (a camera's ingest, each profile's transcoder) keeps one.
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';

/** A GOP longer than this (bytes) is cut: a camera with rare keyframes must not grow memory. */
export const MAX_GOP_BYTES = 16 * 1024 * 1024;

export class StartCache {
  #init: IngestInit | undefined;
  #gop: IngestFragment[] = [];
  #gopBytes = 0;

  get init(): IngestInit | undefined {
    return this.#init;
  }

  /** The fragments since the last keyframe, oldest first. */
  get gop(): readonly IngestFragment[] {
    return this.#gop;
  }

  /** A new init segment: the GOP before it belongs to another run. */
  takeInit(init: IngestInit): void {
    this.#init = init;
    this.#dropGop();
  }

  takeFragment(f: IngestFragment): void {
    if (f.keyframe) this.#dropGop();
    if (this.#gopBytes + f.data.length <= MAX_GOP_BYTES && (this.#gop.length > 0 || f.keyframe)) {
      this.#gop.push(f);
      this.#gopBytes += f.data.length;
    }
  }

  /** The stream stopped: a restart makes new ones. */
  clear(): void {
    this.#init = undefined;
    this.#dropGop();
  }

  #dropGop(): void {
    this.#gop = [];
    this.#gopBytes = 0;
  }
}
