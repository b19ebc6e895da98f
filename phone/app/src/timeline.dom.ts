// The recordings timeline of one camera (PROTOCOL §15): a day at a time, recorded ranges, gaps and
// event marks on a track; drag to scrub (a segment's keyframe shown at once, keyframes of the
// visible range fetched ahead into a bounded cache); play from any point at 1× or 2× (whole
// segments through Media Source) or 4×/8× (keyframes only); export a range as an MP4 and its
// proof. Everything comes over the same hub link as live video: the hub sends stored ciphertext
// and this page opens it with the recording keys the hub sealed to this phone (phone/core/recordings.ts).
// The day's events are marks above the track (buttons: a tap seeks to the event's pre-roll), opened
// with the same keys (phone/core/events.ts); new ones come from the hub's notices (addEvent).
import { fromHex } from '../../../crypto/bytes.ts';
import { clipProof, encodeClipProof } from '../../../crypto/clip-proof.ts';
import type { SegmentInfo } from '../../../crypto/phone-commands.ts';
import type { OpenedSegment } from '../../../crypto/recording.ts';
import { PhoneEvents, type PhoneEvent } from '../../core/events.ts';
import type { CameraInfo, HubLink } from '../../core/hub-link.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { PhoneRecordings, keyframeOf, segmentsBetween, writeClip, type Keyframe } from '../../core/recordings.ts';
import { kindLabel } from './events.ts';
import { playability } from './player.dom.ts';
import { RecordingPlayer, type Placed } from './timeline-player.dom.ts';
import {
  ByteCache, Coverage, KEYFRAMES_ONLY_FROM, ZOOM_LEVELS_MS, clockLabel, dayLabel, dayOf, eventMarks, exportName, fractionOf, gaps,
  layout, prefetchPlan, segmentFor, shiftDay, ticks, timeAt, windowAt, zoomStep, type Span, type Speed,
} from './timeline.ts';

/** Decoded keyframes kept for scrubbing (bytes of init + fragment). */
const KEYFRAME_CACHE_BYTES = 24 * 1024 * 1024;
/** Whole opened segments kept (the one scrubbed to is often the one played next). */
const SEGMENT_CACHE_BYTES = 12 * 1024 * 1024;
/** Keyframes fetched ahead per view. */
const PREFETCH_MOST = 12;
/** Around a time asked for, the segment list fetched from the hub (ms each side). */
const LIST_AROUND_MS = 60_000;
/** Playback keeps this much media ahead of the play head (s of media, times the speed). */
const AHEAD_S = 6;
/** The most an export holds in memory before it is saved. */
const MAX_EXPORT_BYTES = 512 * 1024 * 1024;
/** How often today's ranges are asked for again (ms), and the play head and cursor moved. */
const REFRESH_MS = 10_000;
const TICK_MS = 200;

type Mode = 'idle' | 'scrub' | 'play';

export interface TimelineParts {
  readonly link: HubLink;
  readonly profile: PhoneProfile;
  readonly camera: CameraInfo;
  /** Open at this time (Unix ms; an event's pre-roll), else at the newest recording. */
  readonly at?: number;
  /** Back to live video. */
  onLive(): void;
}

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class TimelineView {
  readonly #p: TimelineParts;
  readonly #recs: PhoneRecordings;
  readonly #player: RecordingPlayer | undefined;
  readonly #keyframes = new ByteCache<Keyframe>(KEYFRAME_CACHE_BYTES);
  readonly #opened = new ByteCache<OpenedSegment>(SEGMENT_CACHE_BYTES);
  /** Segments known, by id; and which times were listed already. */
  readonly #segments = new Map<string, SegmentInfo>();
  #sorted: SegmentInfo[] = [];
  readonly #listed = new Coverage();
  #ranges: Span[] = [];
  readonly #events: PhoneEvents;
  /** This camera's events of the day shown, by id (newest revision). */
  readonly #dayEvents = new Map<number, PhoneEvent>();
  /** What the marks were last drawn for: they are buttons, redrawn only when this changes (focus stays). */
  #marksDrawn = '';
  #day: Span;
  #zoom = 2;
  #view: Span;
  #cursor: number;
  #mode: Mode = 'idle';
  #speed: Speed = 1;
  /** Bumped whenever what is wanted changes: older work stops at its next step. */
  #generation = 0;
  #wantedPicture: number | undefined;
  #picturing = false;
  /** One segment fetch at a time (the hub sends one at a time per phone anyway). */
  #fetching: Promise<unknown> = Promise.resolve();
  #prefetchGeneration = 0;
  /** Playback: where each appended segment landed, to turn the play head into a time. */
  #placed: { info: SegmentInfo; at: Placed; start: number; end: number }[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #exportUrls: string[] = [];
  readonly #cleanups: (() => void)[] = [];

  constructor(parts: TimelineParts) {
    this.#p = parts;
    this.#recs = new PhoneRecordings(parts.link, parts.profile);
    this.#events = new PhoneEvents(parts.link, parts.profile, this.#recs);
    const now = Date.now();
    const at = parts.at !== undefined ? Math.min(parts.at, now) : now;
    this.#day = dayOf(at);
    this.#cursor = at;
    this.#view = windowAt(this.#day, ZOOM_LEVELS_MS[this.#zoom]!, at);
    const video = $<HTMLVideoElement>('rec-video');
    const playable = playability(parts.camera.mime, parts.camera.codecs);
    if (playable.ok) {
      this.#player = new RecordingPlayer(video, playable.type);
    } else {
      this.#player = undefined;
      this.#say(`Recordings of this camera cannot be shown in this browser (${playable.reason}) Export still works.`);
    }
    $('timeline').hidden = false;
    video.hidden = false;
    this.#wire();
    this.#render();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    this.#refreshTimer = setInterval(() => {
      if (this.#day.end > Date.now()) void this.#loadDay(false);
    }, REFRESH_MS);
    void this.#start();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    clearInterval(this.#timer);
    clearInterval(this.#refreshTimer);
    for (const c of this.#cleanups) c();
    this.#player?.close();
    this.#recs.close();
    this.#keyframes.clear();
    this.#opened.clear();
    for (const u of this.#exportUrls) URL.revokeObjectURL(u);
    $('timeline').hidden = true;
    $('rec-video').hidden = true;
    $('tl-marks').replaceChildren();
    for (const a of [$<HTMLAnchorElement>('tl-save-clip'), $<HTMLAnchorElement>('tl-save-proof')]) {
      a.hidden = true;
      a.removeAttribute('href');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Loading

  async #start(): Promise<void> {
    this.#say('Loading recordings…');
    try {
      await this.#recs.refreshKeys();
      if (this.#recs.refusedKeys.length > 0) console.warn(`recording keys refused: ${this.#recs.refusedKeys.join('; ')}`);
      await this.#loadDay(true);
    } catch (e) {
      if (!this.#closed) this.#say(`Cannot list recordings: ${message(e)}`);
      return;
    }
    void this.#loadEvents();
    // Start where asked (an event), else on the newest recording of the day (a few seconds before its end).
    const last = this.#ranges[this.#ranges.length - 1];
    if (this.#p.at !== undefined) this.#moveCursor(this.#cursor, true);
    else if (last !== undefined) this.#moveCursor(Math.max(last.start, last.end - 3000), true);
    else this.#render();
  }

  /** The day's events of this camera, from the hub's list (only epochs this phone holds a key of). */
  async #loadEvents(): Promise<void> {
    const day = this.#day;
    try {
      const { events, refused } = await this.#events.list({ camera: this.#p.camera.id, since: day.start });
      if (refused.length > 0) console.warn(`events refused: ${refused.slice(0, 3).join('; ')}`);
      if (this.#closed || day !== this.#day) return;
      for (const e of events) if (e.start < day.end) this.#putEvent(e);
      $('timeline').dataset.events = String(this.#dayEvents.size);
      this.#render();
    } catch (e) {
      if (!this.#closed) console.warn(`cannot list events: ${message(e)}`);
    }
  }

  #putEvent(e: PhoneEvent): void {
    const old = this.#dayEvents.get(e.id);
    if (old === undefined || e.revision >= old.revision) this.#dayEvents.set(e.id, e);
  }

  /** An event the hub just told of (opened by the app's events list): a mark if it is this camera's, this day. */
  addEvent(e: PhoneEvent): void {
    if (this.#closed || e.cameraId !== this.#p.camera.id || e.start < this.#day.start || e.start >= this.#day.end) return;
    this.#putEvent(e);
    $('timeline').dataset.events = String(this.#dayEvents.size);
    this.#render();
  }

  /**
   * An owner shared recording epochs from `from` on with this phone (a 'history-shared' roster
   * alert): their keys are fetched, and the past they open shows without leaving the timeline.
   */
  async historyShared(from: number): Promise<void> {
    if (this.#closed) return;
    await this.#recs.refreshKeys(from);
    if (this.#closed) return;
    $('timeline').dataset.keys = String(this.#recs.keys.size);
    await this.#loadEvents();
    if (this.#mode !== 'play') this.#requestPicture(this.#cursor);
  }

  async #loadDay(first: boolean): Promise<void> {
    const day = this.#day;
    const r = await this.#recs.list(this.#p.camera.id, day.start, Math.min(day.end, Date.now() + 60_000));
    if (this.#closed || day !== this.#day) return;
    this.#ranges = r.ranges.map((x) => ({ start: x.start, end: x.end }));
    this.#addSegments(r.segments);
    const root = $('timeline');
    root.dataset.ranges = String(this.#ranges.length);
    root.dataset.mode = this.#mode;
    if (first) this.#say(this.#ranges.length === 0
      ? (r.mode === 'off' ? 'This camera does not record (set it on the hub: vigil record).' : r.mode === 'events' ? 'Nothing recorded this day: this camera records events only.' : 'Nothing recorded this day.')
      : '');
    this.#render();
  }

  #addSegments(list: readonly SegmentInfo[]): void {
    let added = false;
    for (const s of list) {
      const old = this.#segments.get(s.id);
      if (old === undefined || old.end !== s.end || old.closed !== s.closed) {
        this.#segments.set(s.id, s);
        added = true;
      }
    }
    if (added) this.#sorted = [...this.#segments.values()].sort((a, b) => a.start - b.start);
  }

  /** Makes sure the segments overlapping [from, to) are known (asks the hub for what is not). */
  async #ensureListed(from: number, to: number): Promise<void> {
    const now = Date.now();
    for (const gap of this.#listed.missing({ start: Math.floor(from), end: Math.ceil(to) })) {
      const got = await segmentsBetween(this.#recs, this.#p.camera.id, gap.start, gap.end);
      this.#addSegments(got);
      // What is still being recorded may grow: only the past is marked as listed.
      this.#listed.add({ start: gap.start, end: Math.min(gap.end, now - 15_000) });
    }
  }

  /** A segment opened, from the cache or the hub (one fetch at a time). */
  #openSegment(info: SegmentInfo): Promise<OpenedSegment> {
    const run = this.#fetching.catch(() => undefined).then(async () => {
      const cached = this.#opened.get(info.id);
      if (cached !== undefined && info.closed) return cached;
      const got = await this.#recs.fetch(this.#p.camera.id, info);
      if (!got.ok) throw new Error(got.why);
      let bytes = 0;
      for (const c of got.segment.chunks) bytes += c.payload.length;
      this.#opened.set(info.id, got.segment, bytes);
      const kf = keyframeOf(info.id, got.segment);
      if (kf !== undefined) this.#keyframes.set(info.id, kf, kf.init.length + kf.fragment.length);
      this.#updateStats();
      return got.segment;
    });
    this.#fetching = run;
    return run;
  }

  async #keyframe(info: SegmentInfo): Promise<Keyframe> {
    const cached = this.#keyframes.get(info.id);
    if (cached !== undefined) return cached;
    const seg = await this.#openSegment(info);
    const kf = keyframeOf(info.id, seg);
    if (kf === undefined) throw new Error(seg.damaged !== undefined ? `the segment is damaged (${seg.damaged})` : 'the segment holds no picture');
    return kf;
  }

  // -------------------------------------------------------------------------------------------
  // Scrubbing

  #moveCursor(t: number, picture: boolean): void {
    // Whole ms: the hub takes times as integers (and the play head's are fractions).
    this.#cursor = Math.round(Math.min(Math.max(t, this.#day.start), this.#day.end - 1));
    if (this.#cursor < this.#view.start || this.#cursor >= this.#view.end) {
      this.#view = windowAt(this.#day, ZOOM_LEVELS_MS[this.#zoom]!, this.#cursor);
    }
    this.#render();
    if (picture) this.#requestPicture(this.#cursor);
  }

  /** Shows the keyframe nearest `t`; while one is on its way, only the newest wish is kept. */
  #requestPicture(t: number): void {
    this.#wantedPicture = t;
    if (this.#picturing) return;
    this.#picturing = true;
    void (async () => {
      try {
        while (this.#wantedPicture !== undefined && !this.#closed) {
          const want = this.#wantedPicture;
          this.#wantedPicture = undefined;
          await this.#showPictureAt(want);
        }
      } finally {
        this.#picturing = false;
      }
      this.#prefetch();
    })();
  }

  async #showPictureAt(t: number): Promise<void> {
    // A play pressed while this picture was on its way wins: shown late, the picture would pause
    // the video and land after the segment playing (seen on a loaded machine: playback stayed
    // paused).
    const generation = this.#generation;
    const stillWanted = () => !this.#closed && this.#player !== undefined && this.#mode !== 'play' && generation === this.#generation;
    try {
      await this.#ensureListed(t - LIST_AROUND_MS, t + LIST_AROUND_MS);
    } catch (e) {
      this.#say(`Cannot list recordings: ${message(e)}`);
      return;
    }
    const seg = segmentFor(this.#sorted, t);
    if (seg === undefined) {
      this.#say(`Nothing recorded at ${clockLabel(t, true)}.`);
      return;
    }
    try {
      const kf = await this.#keyframe(seg);
      if (!stillWanted()) return;
      // If the finger moved on meanwhile, this one is still shown (a picture now beats none), then the newer.
      await this.#player!.showPicture(kf.init, kf.fragment);
      if (!stillWanted()) return;
      const video = this.#player!.video;
      video.dataset.picture = seg.id;
      video.dataset.pictureTime = String(kf.time);
      this.#say(`${clockLabel(kf.time, true)} (keyframe)`);
      this.#updateStats();
    } catch (e) {
      this.#say(`No picture at ${clockLabel(t, true)}: ${message(e)}`);
    }
  }

  /**
   * Fetches keyframes ahead for the visible range, nearest the cursor first, one at a time; stops
   * (without waiting for the hub) as soon as the view, the cursor or the mode changes.
   */
  #prefetch(): void {
    const generation = ++this.#prefetchGeneration;
    void (async () => {
      try {
        const view = this.#view;
        // A wide view: list only around a few points inside recorded ranges, not the whole day.
        const samples = layoutSamples(this.#ranges, view, PREFETCH_MOST);
        for (const t of samples) {
          if (generation !== this.#prefetchGeneration || this.#closed) return;
          await this.#ensureListed(t - 5000, t + 5000);
        }
        const plan = prefetchPlan(this.#sorted, view, this.#cursor, PREFETCH_MOST).filter((s) => !this.#keyframes.has(s.id));
        for (const s of plan) {
          if (generation !== this.#prefetchGeneration || this.#closed || this.#picturing || this.#mode === 'play') return;
          await this.#keyframe(s).catch(() => undefined);
        }
      } catch {
        // Fetching ahead is best effort.
      }
    })();
  }

  // -------------------------------------------------------------------------------------------
  // Playing

  #play(speed: Speed): void {
    if (this.#player === undefined) return;
    this.#speed = speed;
    this.#mode = 'play';
    this.#wantedPicture = undefined; // a drag's last wish, not yet fetched, is not shown over the play
    this.#prefetchGeneration++;
    const generation = ++this.#generation;
    this.#placed = [];
    $('timeline').dataset.speed = String(speed);
    this.#render();
    if (speed >= KEYFRAMES_ONLY_FROM) void this.#playKeyframes(generation);
    else void this.#playSegments(generation);
  }

  #pause(): void {
    this.#generation++;
    this.#mode = 'scrub';
    this.#player?.pause();
    this.#render();
  }

  /** 1× and 2×: whole segments appended in order, a few seconds ahead of the play head. */
  async #playSegments(generation: number): Promise<void> {
    const player = this.#player!;
    const from = this.#cursor;
    let next = await this.#segmentFrom(from, true).catch(() => undefined);
    let first = true;
    while (generation === this.#generation && !this.#closed) {
      if (next === undefined) {
        // The end of what is recorded: wait for more (recording goes on), or stop at the end.
        if (player.video.ended || player.end - player.video.currentTime < 0.3) {
          if (this.#day.end <= Date.now()) return this.#ended();
        }
        await this.#sleep(1000);
        const last = this.#placed[this.#placed.length - 1];
        next = await this.#segmentFrom(last !== undefined ? last.end : from, false).catch(() => undefined);
        if (next === undefined && last !== undefined && player.end - player.video.currentTime < 0.3 && Date.now() - last.end > 15_000) return this.#ended();
        continue;
      }
      if (!first && player.end - player.video.currentTime > AHEAD_S * this.#speed) {
        await this.#sleep(TICK_MS);
        continue;
      }
      let seg: OpenedSegment;
      try {
        seg = await this.#openSegment(next);
      } catch (e) {
        this.#say(`Skipped ${clockLabel(next.start, true)}: ${message(e)}`);
        next = await this.#segmentFrom(next.end, false).catch(() => undefined);
        continue;
      }
      if (generation !== this.#generation) return;
      const [init, ...media] = seg.chunks;
      if (init?.kind !== 'init' || media.length === 0) {
        next = await this.#segmentFrom(next.end, false).catch(() => undefined);
        continue;
      }
      const at = await player.appendSegment(init.payload, media.map((c) => c.payload));
      const start = media[0]!.time;
      const end = seg.proof?.end ?? Math.max(next.end, media[media.length - 1]!.time);
      this.#placed.push({ info: next, at, start, end });
      if (this.#placed.length > 50) this.#placed.shift();
      if (first) {
        first = false;
        const offset = Math.max(0, Math.min((from - start) / 1000, at.mediaEnd - at.mediaStart - 0.1));
        await player.seek(at.mediaStart + offset);
        if (generation !== this.#generation) return;
        player.play(this.#speed);
        this.#say(`Playing at ${this.#speed}×`);
      }
      next = await this.#segmentFrom(end, false).catch(() => undefined);
    }
  }

  /** 4× and 8×: one keyframe per segment, each shown for its segment's length divided by the speed. */
  async #playKeyframes(generation: number): Promise<void> {
    const player = this.#player!;
    player.pause();
    let t = this.#cursor;
    let seg = await this.#segmentFrom(t, true).catch(() => undefined);
    this.#say(`Playing at ${this.#speed}× (keyframes only)`);
    while (seg !== undefined && generation === this.#generation && !this.#closed) {
      const shownAt = performance.now();
      try {
        const kf = await this.#keyframe(seg);
        if (generation !== this.#generation) return;
        await player.showPicture(kf.init, kf.fragment);
        player.video.dataset.picture = seg.id;
        player.video.dataset.pictureTime = String(kf.time);
        this.#updateStats();
      } catch (e) {
        this.#say(`Skipped ${clockLabel(seg.start, true)}: ${message(e)}`);
      }
      t = Math.max(t, seg.start);
      const next = await this.#segmentFrom(seg.end, false).catch(() => undefined);
      // Fetch the next keyframe while this one is on screen.
      if (next !== undefined) void this.#keyframe(next).catch(() => undefined);
      const showFor = (seg.end - t) / this.#speed;
      const stepStart = t;
      while (generation === this.#generation && performance.now() - shownAt < showFor) {
        await this.#sleep(Math.min(TICK_MS, showFor));
        this.#moveCursor(Math.min(seg.end, stepStart + (performance.now() - shownAt) * this.#speed), false);
      }
      if (generation !== this.#generation) return;
      seg = next;
      if (seg !== undefined) {
        t = seg.start;
        this.#moveCursor(t, false);
      }
    }
    if (generation === this.#generation) this.#ended();
  }

  /** The segment holding `t` (or the first after it), asking the hub for the list around it. */
  async #segmentFrom(t: number, holding: boolean): Promise<SegmentInfo | undefined> {
    await this.#ensureListed(t - 5000, t + LIST_AROUND_MS);
    if (holding) {
      const s = segmentFor(this.#sorted, t, 0);
      if (s !== undefined) return s;
    }
    return this.#sorted.find((s) => s.start >= t - 1 && (holding || s.end > t));
  }

  #ended(): void {
    this.#mode = 'scrub';
    this.#player?.pause();
    this.#say('End of the recordings.');
    this.#render();
  }

  /** The play head as a time (1×, 2×): by where the segments landed. */
  #tick(): void {
    if (this.#mode !== 'play' || this.#speed >= KEYFRAMES_ONLY_FROM || this.#player === undefined) return;
    const now = this.#player.video.currentTime;
    const p = this.#placed.find((x) => x.at.mediaStart <= now && now < x.at.mediaEnd) ?? [...this.#placed].reverse().find((x) => x.at.mediaStart <= now);
    if (p === undefined) return;
    const span = p.at.mediaEnd - p.at.mediaStart;
    const t = p.start + Math.min(1, (now - p.at.mediaStart) / Math.max(span, 0.001)) * (p.end - p.start);
    this.#moveCursor(t, false);
    this.#updateStats();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // -------------------------------------------------------------------------------------------
  // Export

  async #export(): Promise<void> {
    const seconds = Number($<HTMLSelectElement>('tl-export-length').value);
    const from = this.#cursor;
    const to = from + seconds * 1000;
    const button = $<HTMLButtonElement>('tl-export');
    const status = $('tl-export-status');
    button.disabled = true;
    status.textContent = 'Exporting…';
    const parts: Uint8Array[] = [];
    let bytes = 0;
    const notes: string[] = [];
    try {
      const out = await writeClip(this.#recs, this.#p.camera.id, from, to, {
        evidence: true,
        write: (b) => {
          bytes += b.length;
          if (bytes > MAX_EXPORT_BYTES) throw new Error(`the clip is larger than ${MAX_EXPORT_BYTES >> 20} MB: export a shorter range`);
          parts.push(Uint8Array.from(b));
        },
        say: (line) => notes.push(line),
      });
      if (out.segments === 0) {
        status.textContent = `Nothing to export from ${clockLabel(from, true)}${notes.length > 0 ? `: ${notes[0]}` : ' (only whole segments the hub signed can be exported)'}.`;
        return;
      }
      const proof = encodeClipProof(clipProof(this.#p.profile.hub, fromHex(this.#p.camera.id), this.#p.camera.name, out.proof));
      for (const u of this.#exportUrls) URL.revokeObjectURL(u);
      const name = exportName(this.#p.camera.name, out.start!);
      const clipUrl = URL.createObjectURL(new Blob(parts as BlobPart[], { type: 'video/mp4' }));
      const proofUrl = URL.createObjectURL(new Blob([proof], { type: 'application/json' }));
      this.#exportUrls = [clipUrl, proofUrl];
      const clip = $<HTMLAnchorElement>('tl-save-clip');
      clip.href = clipUrl;
      clip.download = name;
      clip.textContent = `Save clip (${(out.bytes / 1048576).toFixed(1)} MB)`;
      clip.hidden = false;
      const proofLink = $<HTMLAnchorElement>('tl-save-proof');
      proofLink.href = proofUrl;
      proofLink.download = `${name}.proof`;
      proofLink.textContent = 'Save its proof';
      proofLink.hidden = false;
      status.textContent = `${out.segments} segments, ${clockLabel(out.start!, true)} to ${clockLabel(out.end!, true)}.`
        + (out.left > 0 ? ` Left out: ${out.left} (${notes.slice(0, 2).join('; ')}).` : '')
        + ' Keep the proof beside the clip: anyone can check it with `vigil verify-export`.';
      clip.click();
    } catch (e) {
      status.textContent = `Export failed: ${message(e)}`;
    } finally {
      button.disabled = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // The page

  #say(text: string): void {
    $('tl-state').textContent = text;
  }

  #updateStats(): void {
    const root = $('timeline');
    root.dataset.cachedKeyframes = String(this.#keyframes.size);
    root.dataset.cachedBytes = String(this.#keyframes.bytes + this.#opened.bytes);
    if (this.#player !== undefined) {
      root.dataset.pictures = String(this.#player.pictures);
      root.dataset.framesPainted = String(this.#player.framesPainted);
    }
    const c = this.#recs.counters;
    root.dataset.noKey = String(c.noKey);
    root.dataset.damaged = String(c.damaged);
  }

  #render(): void {
    if (this.#closed) return;
    const now = Date.now();
    const view = this.#view;
    const root = $('timeline');
    root.dataset.mode = this.#mode;
    root.dataset.viewStart = String(view.start);
    root.dataset.viewEnd = String(view.end);
    $('tl-day').textContent = dayLabel(this.#day, now);
    $<HTMLButtonElement>('tl-next').disabled = this.#day.end > now;
    const short = view.end - view.start <= 3600_000;
    $('tl-view').textContent = `${clockLabel(view.start, false)}–${clockLabel(view.end, false)}`;
    const track = $('tl-track');
    const nodes: HTMLElement[] = [];
    for (const g of layout(gaps(this.#ranges, view, now), view, 0)) nodes.push(bar('tl-gap', g));
    for (const r of layout(this.#ranges, view)) nodes.push(bar('tl-range', r));
    const marks = eventMarks([...this.#dayEvents.values()], view);
    for (const m of marks) {
      // On the track, a line only (the slider's parts are not read out); the buttons are above it.
      const el = document.createElement('span');
      el.className = 'tl-event';
      el.style.left = `${m.left}%`;
      el.dataset.event = String(m.id);
      el.setAttribute('aria-hidden', 'true');
      nodes.push(el);
    }
    this.#drawMarks(marks, view);
    for (const t of ticks(view)) {
      const el = document.createElement('span');
      el.className = 'tl-tick';
      el.style.left = `${fractionOf(view, t) * 100}%`;
      el.textContent = clockLabel(t, short && view.end - view.start <= 600_000);
      nodes.push(el);
    }
    const cursor = document.createElement('span');
    cursor.id = 'tl-cursor';
    cursor.style.left = `${fractionOf(view, this.#cursor) * 100}%`;
    cursor.dataset.time = String(Math.round(this.#cursor));
    nodes.push(cursor);
    track.replaceChildren(...nodes);
    track.setAttribute('aria-valuetext', new Date(this.#cursor).toLocaleString());
    $('tl-time').textContent = clockLabel(this.#cursor, true);
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-speed]')) {
      b.setAttribute('aria-pressed', String(this.#mode === 'play' && Number(b.dataset.speed) === this.#speed));
    }
    $<HTMLButtonElement>('tl-pause').disabled = this.#mode !== 'play';
  }

  /** The event marks as buttons above the track: each says its kind and time, a tap seeks to its pre-roll. */
  #drawMarks(marks: ReturnType<typeof eventMarks>, view: Span): void {
    const key = `${view.start}:${view.end}:${marks.map((m) => `${m.id}@${m.time}/${m.kind}`).join(',')}`;
    if (key === this.#marksDrawn) return;
    this.#marksDrawn = key;
    const withSeconds = view.end - view.start <= 3600_000;
    $('tl-marks').replaceChildren(...marks.map((m) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tl-mark';
      b.style.left = `${m.left}%`;
      b.dataset.event = String(m.id);
      b.dataset.time = String(m.time);
      b.dataset.seek = String(m.seek);
      b.dataset.kind = m.kind;
      const words = `${kindLabel(m.kind)} at ${clockLabel(m.time, true)}`;
      b.setAttribute('aria-label', `${words}: play from ${Math.round((m.time - m.seek) / 1000)} s before`);
      b.title = words;
      b.textContent = withSeconds ? '▼' : '▾';
      return b;
    }));
  }

  #on<K extends keyof HTMLElementEventMap>(el: HTMLElement, type: K, fn: (ev: HTMLElementEventMap[K]) => void): void {
    el.addEventListener(type, fn);
    this.#cleanups.push(() => el.removeEventListener(type, fn));
  }

  #wire(): void {
    const track = $('tl-track');
    let dragging = false;
    const at = (ev: PointerEvent): number => {
      const r = track.getBoundingClientRect();
      return timeAt(this.#view, (ev.clientX - r.left) / r.width);
    };
    const scrubTo = (t: number): void => {
      if (this.#mode === 'play') this.#pause();
      this.#mode = 'scrub';
      this.#moveCursor(t, false);
      this.#requestPicture(t);
    };
    this.#on($('tl-marks'), 'click', (ev) => {
      const mark = (ev.target as HTMLElement).closest<HTMLElement>('.tl-mark');
      if (mark !== null) scrubTo(Number(mark.dataset.seek));
    });
    this.#on(track, 'pointerdown', (ev) => {
      dragging = true;
      track.setPointerCapture(ev.pointerId);
      scrubTo(at(ev));
    });
    this.#on(track, 'pointermove', (ev) => {
      if (dragging) scrubTo(at(ev));
    });
    const stop = (): void => {
      dragging = false;
    };
    this.#on(track, 'pointerup', stop);
    this.#on(track, 'pointercancel', stop);
    this.#on(track, 'keydown', (ev) => {
      const step = ev.key === 'ArrowLeft' ? -1 : ev.key === 'ArrowRight' ? 1 : 0;
      if (step === 0) return;
      ev.preventDefault();
      scrubTo(this.#cursor + step * (this.#view.end - this.#view.start) / 60);
    });
    const day = (n: number): void => {
      this.#day = shiftDay(this.#day.start, n);
      this.#ranges = [];
      this.#dayEvents.clear();
      this.#pause();
      this.#view = windowAt(this.#day, ZOOM_LEVELS_MS[this.#zoom]!, this.#day.start + (this.#day.end - this.#day.start) / 2);
      this.#cursor = Math.round(Math.min(this.#view.start + (this.#view.end - this.#view.start) / 2, Date.now()));
      this.#render();
      void this.#loadEvents();
      void this.#loadDay(true).then(() => {
        const last = this.#ranges[this.#ranges.length - 1];
        if (last !== undefined) this.#moveCursor(last.start, true);
      }).catch((e: unknown) => this.#say(`Cannot list recordings: ${message(e)}`));
    };
    this.#on($('tl-prev'), 'click', () => day(-1));
    this.#on($('tl-next'), 'click', () => day(1));
    const zoom = (step: number): void => {
      this.#zoom = zoomStep(this.#zoom, step);
      this.#view = windowAt(this.#day, ZOOM_LEVELS_MS[this.#zoom]!, this.#cursor);
      this.#render();
      if (this.#mode !== 'play') this.#prefetch();
    };
    this.#on($('tl-zoom-in'), 'click', () => zoom(1));
    this.#on($('tl-zoom-out'), 'click', () => zoom(-1));
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-speed]')) {
      this.#on(b, 'click', () => this.#play(Number(b.dataset.speed) as Speed));
    }
    this.#on($('tl-pause'), 'click', () => this.#pause());
    this.#on($('tl-live'), 'click', () => this.#p.onLive());
    this.#on($('tl-export'), 'click', () => void this.#export());
  }
}

function bar(className: string, b: { left: number; width: number; start: number; end: number }): HTMLElement {
  const el = document.createElement('span');
  el.className = className;
  el.style.left = `${b.left}%`;
  el.style.width = `${b.width}%`;
  el.dataset.start = String(b.start);
  el.dataset.end = String(b.end);
  return el;
}

/** Up to `most` times spread over the view that fall inside recorded ranges. */
function layoutSamples(ranges: readonly Span[], view: Span, most: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < most; i++) {
    const t = view.start + ((i + 0.5) * (view.end - view.start)) / most;
    const r = ranges.find((x) => x.start <= t && t < x.end) ?? ranges.find((x) => x.end > view.start && x.start < view.end && Math.abs(x.start - t) < (view.end - view.start) / most);
    if (r !== undefined) out.push(Math.min(Math.max(t, r.start), r.end - 1));
  }
  return [...new Set(out)];
}
