// Recorded video through Media Source Extensions, for the timeline (timeline.dom.ts): one picture at
// a time while the user scrubs (a segment's init and keyframe fragment appended, the play head put
// on it), or whole segments one after another for playback. The SourceBuffer is in `sequence` mode:
// each append lands right after the last, whatever its recorded decode times (segments of another
// camera run start from 0 again; a scrub goes back in time), so the player never has to rewrite a
// fragment. It keeps at most KEEP_S seconds of media (bounded memory on phones).
import { equalBytes } from '../../../crypto/bytes.ts';
import { mediaSourceClass } from './player.dom.ts';

/** Media kept in the SourceBuffer behind the play head (s). */
const KEEP_S = 20;
/** How long an append, a seek or a first picture may take before it counts as failed (ms). */
const STEP_TIMEOUT_MS = 8000;

export class RecordingPlayerError extends Error {
  override readonly name = 'RecordingPlayerError';
}

/** Where a segment's media landed in the player's time (s). */
export interface Placed {
  readonly mediaStart: number;
  readonly mediaEnd: number;
}

export class RecordingPlayer {
  /** Pictures shown by showPicture, and frames painted (requestVideoFrameCallback, where present). */
  pictures = 0;
  framesPainted = 0;
  readonly #video: HTMLVideoElement;
  readonly #type: string;
  readonly #url: string;
  readonly #ready: Promise<SourceBuffer>;
  #sb: SourceBuffer | undefined;
  #lastInit: Uint8Array | undefined;
  /** Appends and removes, one after another. */
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(video: HTMLVideoElement, type: string) {
    this.#video = video;
    this.#type = type;
    const MS = mediaSourceClass();
    if (MS === undefined) throw new RecordingPlayerError('this browser has no Media Source Extensions');
    const ms = new MS();
    video.muted = true;
    video.playsInline = true;
    video.autoplay = false;
    (video as HTMLVideoElement & { disableRemotePlayback: boolean }).disableRemotePlayback = true;
    this.#ready = new Promise<SourceBuffer>((resolve, reject) => {
      ms.addEventListener('sourceopen', () => {
        try {
          const sb = ms.addSourceBuffer(this.#type);
          sb.mode = 'sequence';
          this.#sb = sb;
          resolve(sb);
        } catch (e) {
          reject(new RecordingPlayerError(`cannot open the decoder (${e instanceof Error ? e.message : String(e)})`));
        }
      }, { once: true });
    });
    this.#ready.catch(() => undefined);
    this.#url = URL.createObjectURL(ms);
    video.src = this.#url;
    this.#countFrames();
  }

  get video(): HTMLVideoElement {
    return this.#video;
  }

  /** The end of the media appended so far (s). */
  get end(): number {
    const b = this.#sb?.buffered;
    return b === undefined || b.length === 0 ? 0 : b.end(b.length - 1);
  }

  /** Shows one picture: the keyframe fragment appended after what is there, the play head on it, paused. */
  showPicture(init: Uint8Array, fragment: Uint8Array): Promise<void> {
    return this.#serial(async (sb) => {
      this.#video.pause();
      const placed = await this.#appendMedia(sb, init, [fragment]);
      // Just inside the picture: a millisecond in, or halfway where it lasts less. The first frame
      // an ingest writes may last 1 tick (11 µs): ffmpeg gives the first packet of an RTSP stream
      // no timestamp and the second one the first real one, so it clamps the second to 1 tick
      // later. A seek past the appended range finds no picture.
      await this.#seek(placed.mediaStart + Math.min(0.001, (placed.mediaEnd - placed.mediaStart) / 2));
      this.pictures++;
      await this.#trim(sb, placed.mediaStart);
    });
  }

  /** Appends a whole segment's media after what is there; says where it landed. */
  appendSegment(init: Uint8Array, fragments: readonly Uint8Array[]): Promise<Placed> {
    return this.#serial(async (sb) => {
      const placed = await this.#appendMedia(sb, init, fragments);
      await this.#trim(sb, Math.min(this.#video.currentTime, placed.mediaStart));
      return placed;
    });
  }

  seek(t: number): Promise<void> {
    return this.#serial(async () => this.#seek(t));
  }

  play(rate: number): void {
    this.#video.playbackRate = rate;
    this.#video.play().catch(() => undefined);
  }

  pause(): void {
    this.#video.pause();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#video.pause();
    this.#video.removeAttribute('src');
    this.#video.load();
    URL.revokeObjectURL(this.#url);
  }

  #serial<T>(step: (sb: SourceBuffer) => Promise<T>): Promise<T> {
    const run = this.#chain.catch(() => undefined).then(async () => {
      if (this.#closed) throw new RecordingPlayerError('closed');
      return step(await withTimeout(this.#ready, 'the decoder did not open'));
    });
    this.#chain = run;
    return run;
  }

  async #appendMedia(sb: SourceBuffer, init: Uint8Array, fragments: readonly Uint8Array[]): Promise<Placed> {
    // A fresh group: the next frame lands at the end of the last, whatever its recorded time.
    if (!sb.updating) sb.abort();
    if (this.#lastInit === undefined || !equalBytes(this.#lastInit, init)) {
      await this.#append(sb, init);
      this.#lastInit = init;
    }
    const before = this.end;
    let total = 0;
    for (const f of fragments) total += f.length;
    const media = new Uint8Array(total);
    let at = 0;
    for (const f of fragments) {
      media.set(f, at);
      at += f.length;
    }
    await this.#append(sb, media);
    // The range the media landed in (sequence mode: starting at the old end).
    const b = sb.buffered;
    let start = before;
    for (let i = 0; i < b.length; i++) if (b.end(i) > before) {
      start = Math.max(before, b.start(i));
      break;
    }
    return { mediaStart: start, mediaEnd: this.end };
  }

  #append(sb: SourceBuffer, bytes: Uint8Array): Promise<void> {
    return withTimeout(new Promise<void>((resolve, reject) => {
      const done = () => {
        sb.removeEventListener('updateend', done);
        sb.removeEventListener('error', failed);
        resolve();
      };
      const failed = () => {
        sb.removeEventListener('updateend', done);
        sb.removeEventListener('error', failed);
        reject(new RecordingPlayerError('the video decoder refused the recording'));
      };
      sb.addEventListener('updateend', done);
      sb.addEventListener('error', failed);
      try {
        sb.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
      } catch (e) {
        sb.removeEventListener('updateend', done);
        sb.removeEventListener('error', failed);
        reject(new RecordingPlayerError(`appending the recording failed (${e instanceof Error ? e.message : String(e)})`));
      }
    }), 'appending took too long');
  }

  async #seek(t: number): Promise<void> {
    const v = this.#video;
    const seeked = new Promise<void>((resolve) => v.addEventListener('seeked', () => resolve(), { once: true }));
    v.currentTime = t;
    await withTimeout(seeked, 'the decoder did not find the picture');
  }

  /** Drops what is more than KEEP_S behind `keepFrom`. */
  async #trim(sb: SourceBuffer, keepFrom: number): Promise<void> {
    const b = sb.buffered;
    if (b.length === 0 || keepFrom - KEEP_S <= b.start(0) + 1) return;
    await withTimeout(new Promise<void>((resolve) => {
      sb.addEventListener('updateend', () => resolve(), { once: true });
      try {
        sb.remove(b.start(0), keepFrom - KEEP_S);
      } catch {
        resolve(); // an optimisation: the next append tries again
      }
    }), 'removing old video took too long');
  }

  #countFrames(): void {
    const v = this.#video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };
    if (typeof v.requestVideoFrameCallback !== 'function') return;
    const again = (): void => {
      if (this.#closed) return;
      this.framesPainted++;
      v.requestVideoFrameCallback!(again);
    };
    v.requestVideoFrameCallback(again);
  }
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RecordingPlayerError(what)), STEP_TIMEOUT_MS);
    }),
  ]);
}
