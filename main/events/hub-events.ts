// What the hub noticed on a camera (PROTOCOL §17): detectors produce events, the events bus hands them
// to whatever needs them (the sealer that stores them and tells phones, the recorder's events mode,
// Web Push). A new detector (ONVIF camera events, a model that finds people) is one module that calls
// the bus; the consumers do not change. Detectors never see keys, consumers never see pixels.

/** The kinds phones know how to show; a detector maps its own findings onto these. */
export type EventKind = 'motion' | 'tamper' | 'line-crossing' | 'person' | 'vehicle' | 'animal';
export const EVENT_KINDS: readonly EventKind[] = ['motion', 'tamper', 'line-crossing', 'person', 'vehicle', 'animal'];

/** A zone or mask: a rectangle in fractions of the picture (0..1), so it holds at any resolution. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface DetectedEvent {
  /** The camera's id (the store's). */
  readonly cameraId: string;
  readonly kind: EventKind;
  /** Which detector found it ('motion', 'onvif', ...): for logs and the event's details. */
  readonly source: string;
  /** Unix ms, on the fragments' capture clock (so it lines up with recordings). */
  readonly startMs: number;
  /** Set on `ended`. */
  readonly endMs?: number;
  /** 0..1, the strongest the detector saw. */
  readonly score: number;
  /** Names of the zones it touched; empty when the camera has none. */
  readonly zones: readonly string[];
  /** A small JPEG at the event's peak, when the detector has one. */
  readonly preview?: Uint8Array;
  /**
   * On `started` without a preview: the detector is making one and sends it in an `updated` of the
   * same key (with or without a picture, if it failed) before anything else of that event.
   */
  readonly previewFollows?: boolean;
}

export interface EventConsumer {
  /** An event began; `key` names it until `ended` (one detector, one camera, one ongoing event). */
  started?(key: string, event: DetectedEvent): void;
  /** A better picture or score while it goes on. */
  updated?(key: string, event: DetectedEvent): void;
  ended?(key: string, event: DetectedEvent): void;
}

/** Like the media bus: a consumer that throws is reported and the others still get the event. */
export class EventBus {
  readonly #consumers = new Set<EventConsumer>();

  constructor(private readonly onError: (e: unknown) => void = () => undefined) {}

  subscribe(consumer: EventConsumer): () => void {
    this.#consumers.add(consumer);
    return () => this.#consumers.delete(consumer);
  }

  started(key: string, event: DetectedEvent): void {
    this.#each((c) => c.started?.(key, event));
  }

  updated(key: string, event: DetectedEvent): void {
    this.#each((c) => c.updated?.(key, event));
  }

  ended(key: string, event: DetectedEvent): void {
    this.#each((c) => c.ended?.(key, event));
  }

  #each(call: (c: EventConsumer) => void): void {
    for (const c of this.#consumers) {
      try {
        call(c);
      } catch (e) {
        this.onError(e);
      }
    }
  }
}
