// Media to phones: a media bus consumer that seals each fragment of a watched stream once, under
// the epoch's content key for its camera number, and publishes it on the stream's relay topic.
// A stream nobody watches on any link is not sealed at all. A phone that starts watching gets the
// init segment and the GOP so far sent to it directly, so its picture starts at once.
import type { FrameType } from '../../crypto/frame.ts';
import { Envelope, encodeEnvelope } from '../../crypto/messages.ts';
import type { IngestFragment, IngestInit } from '../../native/ingest.ts';
import { FLAG_INIT, FLAG_KEYFRAME } from '../../relay/codec.ts';
import type { EpochKeys } from '../epoch-keys.ts';
import { hexToBytes } from '../hex.ts';
import type { HubLinks } from '../hub-links.ts';
import type { MediaConsumer, MediaStream } from '../media/media-bus.ts';
import type { PhoneSessions } from '../phone-sessions.ts';
import type { Device } from '../store/db.ts';

export class PhonePublisher implements MediaConsumer {
  constructor(
    private readonly keys: EpochKeys,
    private readonly links: HubLinks,
    private readonly sessions: Pick<PhoneSessions, 'linkOf'>,
  ) {}

  /** A stream is sent to the relay only while someone watches it there. */
  watched(stream: MediaStream): boolean {
    return this.links.watchers(stream.topic) > 0;
  }

  init(stream: MediaStream, init: IngestInit): void {
    if (this.watched(stream)) this.#publish(stream, 'init', init.data, Date.now(), FLAG_INIT);
  }

  fragment(stream: MediaStream, f: IngestFragment): void {
    if (this.watched(stream)) this.#publish(stream, f.keyframe ? 'keyframe' : 'delta', f.data, f.captureTime, f.keyframe ? FLAG_KEYFRAME : 0);
  }

  /** After an epoch change: watchers get the init segments again, sealed under the new epoch. */
  resendInits(streams: Iterable<MediaStream>): void {
    for (const stream of streams) {
      const init = stream.init;
      if (init !== undefined && this.watched(stream)) this.#publish(stream, 'init', init.data, Date.now(), FLAG_INIT);
    }
  }

  readonly #payloadRoom = (size: number): Uint8Array => this.links.payloadRoom(size);

  #publish(stream: MediaStream, frameType: FrameType, data: Uint8Array, captureTime: number, flags: number): void {
    const sealer = this.keys.sealer(stream.number);
    if (sealer === undefined) return;
    // Sealed straight into the links' send buffer: no array of its own per fragment.
    const wire = sealer.sealInto({ track: 'video', captureTime, frameType, payload: data }, this.#payloadRoom);
    this.links.publish(stream.topic, flags, wire);
  }

  /** Sends one phone the init segment and the GOP so far, sealed, so its picture starts at once. */
  sendStart(stream: MediaStream, device: Device): void {
    const via = this.sessions.linkOf(device.id);
    if (via === undefined) return;
    const sealer = this.keys.sealer(stream.number);
    const init = stream.init;
    if (sealer === undefined || init === undefined) return;
    const to = hexToBytes(device.relayKey);
    const frames: [FrameType, Uint8Array, number][] = [['init', init.data, Date.now()]];
    // The GOP only if every phone on the roster was on it when the GOP began: after a removal or the
    // daily rotation the first tap is instant (sealed under the new epoch, which a removed phone has
    // no key of: T2), but a phone added now gets nothing captured before (T3). EpochKeys.sharedSince.
    const gop = stream.gop;
    if (gop.length > 0 && gop[0]!.captureTime >= this.keys.sharedSince) {
      for (const f of gop) frames.push([f.keyframe ? 'keyframe' : 'delta', f.data, f.captureTime]);
    }
    for (const [frameType, payload, captureTime] of frames) {
      const wire = sealer.seal({ track: 'video', captureTime, frameType, payload });
      void via.send(to, encodeEnvelope(Envelope.FRAME, wire)).catch(() => undefined);
    }
  }
}
