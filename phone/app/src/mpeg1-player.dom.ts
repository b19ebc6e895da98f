// Live playback without Media Source (iOS 16 and older, PROTOCOL §9.7): the hub's mpeg1 profile, MPEG-1
// video and MP2 audio in MPEG-TS, decoded by JSMpeg in WebAssembly onto a canvas. @cycjimmy/jsmpeg-player
// is chosen over phoboslab's JSMpeg, which it is built from, because it is the one that is maintained
// and published on npm (phoboslab's is not published at all; the `jsmpeg` package there is a 2016
// copy); only its `Player` is used, fed by the source below, never its network sources (Ajax,
// WebSocket) or its VideoElement (which writes innerHTML). Fragments it is given are already
// authenticated; FragmentOrder decides which of them the decoder sees, as for the MSE player.
import JSMpeg from '@cycjimmy/jsmpeg-player';
import type { OpenedFrame } from '../../../crypto/frame.ts';
import { FragmentOrder } from '../../core/fragment-order.ts';
import type { PlayerHooks, PlayerState } from './player.dom.ts';

/** A JSMpeg destination (its TS demuxer). */
interface Destination {
  write(data: Uint8Array): void;
}

/**
 * A JSMpeg source that is handed bytes instead of fetching them: the decrypted TS stream. JSMpeg's
 * source API (connect, start, resume, destroy, established, completed, progress; `streaming` makes
 * it play as soon as it can, with no buffering for a static file).
 */
class PushedSource {
  readonly streaming = true;
  established = false;
  completed = false;
  progress = 0;
  #destination: Destination | undefined;
  #pending: Uint8Array[] = [];

  connect(destination: Destination): void {
    this.#destination = destination;
  }

  start(): void {
    this.established = true;
    this.progress = 1;
    for (const b of this.#pending) this.#destination?.write(b);
    this.#pending = [];
  }

  resume(): void {}

  destroy(): void {
    this.#destination = undefined;
    this.#pending = [];
  }

  write(data: Uint8Array): void {
    if (this.established) this.#destination?.write(data);
    else if (this.#pending.length < MAX_PENDING) this.#pending.push(data);
  }
}

/** What waits until the WebAssembly decoder is compiled (a GOP's fragments). */
const MAX_PENDING = 240;

/** JSMpeg's player, as much of it as is used here. */
interface JsmpegPlayer {
  volume: number;
  audioOut?: { unlock(callback: () => void): void; unlocked?: boolean; context?: AudioContext };
  destroy(): void;
}

export class Mpeg1Player {
  readonly order = new FragmentOrder();
  /** Pictures decoded (the MSE player counts fragments appended: both say the decoder is fed). */
  appended = 0;
  readonly #player: JsmpegPlayer;
  readonly #source: PushedSource;
  #lossMark = -1;
  #closed = false;
  #firstFrame = false;
  #muted = true;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly hooks: PlayerHooks,
  ) {
    const source = new PushedSource();
    this.#source = source;
    this.#player = new JSMpeg.Player('', {
      // JSMpeg builds its source with `new source(url, options)`: a constructor returning ours.
      source: function Source() {
        return source;
      },
      canvas,
      audio: true,
      video: true,
      pauseWhenHidden: false,
      // The hub keeps the stream near live (100 ms fragments); JSMpeg then decodes as it arrives.
      videoBufferSize: 1024 * 1024,
      onVideoDecode: () => this.#decoded(),
    }) as JsmpegPlayer;
    // Muted until the user unmutes: browsers only start sound after a gesture anyway.
    this.#player.volume = 0;
    this.#setState('waiting', 'Waiting for video from the hub…');
  }

  /** Whether JSMpeg can play here: it needs a canvas (WebGL or 2D) and, for sound, Web Audio. */
  static supported(): boolean {
    return typeof document !== 'undefined' && typeof document.createElement('canvas').getContext === 'function';
  }

  get muted(): boolean {
    return this.#muted;
  }

  /** Sound on (call from a tap: iOS starts Web Audio only inside a gesture) or off. */
  setMuted(muted: boolean): void {
    this.#muted = muted;
    this.#player.volume = muted ? 0 : 1;
    if (!muted) this.#player.audioOut?.unlock(() => undefined);
  }

  /** Whether the stream has sound JSMpeg can play (MP2 in the TS, and Web Audio here). */
  get hasAudioOutput(): boolean {
    return this.#player.audioOut !== undefined;
  }

  /** An authenticated frame of this stream. `lossMark` rises when any fragment was lost upstream. */
  push(frame: OpenedFrame, lossMark: number): void {
    if (this.#closed) return;
    if (this.#lossMark >= 0 && lossMark !== this.#lossMark) this.order.resync();
    this.#lossMark = lossMark;
    const decision = this.order.accept(frame);
    if (decision === 'skip') return;
    // The init (PAT, PMT) and the fragments are one TS byte stream to the demuxer (PROTOCOL §9.7).
    this.#source.write(frame.payload);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#player.destroy();
  }

  #decoded(): void {
    this.appended++;
    if (!this.#firstFrame) {
      this.#firstFrame = true;
      this.hooks.onFirstFrame?.();
      this.#setState('playing', '');
    }
  }

  #setState(state: PlayerState, detail: string): void {
    this.hooks.onState(state, detail);
  }
}
