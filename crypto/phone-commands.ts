// What each phone command takes and answers (PROTOCOL §10.2), shared by the hub that answers and
// every phone that asks. crypto/command.ts signs and checks a command; this module says what its
// arguments and result are, so that a new action the hub does not answer, or an answer of the wrong
// shape, fails to compile, and refusals travel as stable codes the phone can act on.
import type { Action } from './command.ts';
import type { CryptoErrorCode } from './errors.ts';
import { PushArgsError, readPushSettings, readPushSubscribe, type PushPrefs, type PushSettingsResult, type PushSubscribeArgs } from './push-prefs.ts';

/**
 * A stream the hub makes from a camera: `h264`, the H.264 transcode of an H.265 camera; `mpeg1`,
 * MPEG-1 in MPEG-TS for browsers without Media Source (PROTOCOL §10.2).
 */
export type ProfileName = 'h264' | 'mpeg1';
export const PROFILE_NAMES: readonly ProfileName[] = ['h264', 'mpeg1'];

/** A profile of a camera: its own number, key and topic. */
export interface StreamProfile {
  readonly name: ProfileName;
  readonly topic: string;
  readonly number: number;
  /** h264: until the hub's transcoder first ran, a likely value (avc1.640028). */
  readonly mime?: string;
  readonly codecs?: string;
}

/** A camera as phones see it (`list-cameras`). */
export interface CameraListing {
  readonly id: string;
  readonly name: string;
  readonly number: number;
  readonly topic: string;
  readonly state?: string;
  readonly mime?: string;
  readonly codecs?: string;
  /** Added from ONVIF discovery: it may take snapshots and PTZ (the camera says if not). */
  readonly ptz?: boolean;
  readonly snapshot?: boolean;
  readonly profiles?: readonly StreamProfile[];
}

export interface WatchArgs {
  readonly camera: string;
  /** Watch one of the camera's profiles instead of its own stream. */
  readonly profile?: ProfileName;
}

export interface WatchResult {
  readonly ok: true;
  readonly epoch: number;
  /** The hub's clock (Unix ms) when it answered: bounds the phone's view of it (§11.4). */
  readonly hubTime: number;
  readonly profile?: ProfileName;
  readonly number?: number;
}

export interface SnapshotResult {
  /** The id of the blob notices that carried the JPEG, in `chunks` parts. */
  readonly blob: string;
  readonly chunks: number;
  readonly bytes: number;
  readonly type: 'image/jpeg';
}

/** Exactly one of move (for `seconds`), stop, or preset. */
export interface PtzArgs {
  readonly camera: string;
  readonly move?: readonly [number, number, number];
  readonly seconds?: number;
  readonly stop?: true;
  readonly preset?: string | number;
}

export interface Done {
  readonly ok: true;
}

/** One recording epoch this phone holds a key of (PROTOCOL §15.1), base64url. */
export interface RecordingKey {
  /** encodeRecordingEpoch: the epoch's public key, signed by the hub. */
  readonly epoch: string;
  /** sealEpochKey to this phone: only it opens the seed. */
  readonly sealed: string;
}

/** A recorded segment as the hub's index has it (PROTOCOL §15.3); times Unix ms. */
export interface SegmentInfo {
  /** The segment id (decimal; a u64). */
  readonly id: string;
  readonly epoch: number;
  readonly start: number;
  readonly end: number;
  readonly bytes: number;
  /** False while it is written, or when the hub stopped before closing it. */
  readonly closed: boolean;
}

export interface RecordingsArgs {
  readonly camera: string;
  /** Unix ms; default: 24 h before `to`. */
  readonly from?: number;
  /** Unix ms; default: now. */
  readonly to?: number;
}

export interface RecordingsResult {
  /** Continuous stretches, merged from segments less than a few seconds apart. */
  readonly ranges: readonly { readonly start: number; readonly end: number }[];
  /** Oldest first, at most MAX_SEGMENTS_LISTED (the newest are dropped; ask a narrower range). */
  readonly segments: readonly SegmentInfo[];
  readonly mode: 'continuous' | 'events' | 'off';
}

/** One epoch's seed an owner phone sealed to another phone (sealEpochKey; PROTOCOL §15.7). */
export interface SharedEpochKey {
  readonly epoch: number;
  /** base64url of sealEpochKey to the receiving phone. */
  readonly sealed: string;
}

export interface ShareHistoryArgs {
  /** The receiving phone's device id (hex). */
  readonly to: string;
  /** Oldest first, distinct epochs, 1..MAX_SHARED_KEYS of them. */
  readonly keys: readonly SharedEpochKey[];
}

export interface ShareHistoryResult {
  /** Keys stored for the receiving phone. */
  readonly stored: number;
  /** Keys it held already (left as they were). */
  readonly held: number;
  /** The roster log entry that says so (none when nothing was stored). */
  readonly entry?: number;
}

/** Sealed seeds one `share-history` carries (each about 1.6 kB of base64): the phone sends more in turn. */
export const MAX_SHARED_KEYS = 20;

export interface EventsArgs {
  /** Camera id or name; all cameras when absent. */
  readonly camera?: string;
  /** Events that started at or after this (Unix ms). */
  readonly since?: number;
  /** Event ids above this only: the next page after the last id listed. */
  readonly after?: number;
}

/** One event as a list carries it: its details sealed to a recording epoch (crypto/event.ts briefEvent, base64url). */
export interface EventListing {
  readonly id: number;
  readonly sealed: string;
}

export interface EventsResult {
  /** Oldest id first; only events of epochs this phone holds a key of. */
  readonly events: readonly EventListing[];
  /** More follow: ask again with `after` = the last id listed. */
  readonly more: boolean;
}

/** A page of the hub's backup (crypto/backup.ts), base64url. */
export interface BackupPage {
  /** Names this backup (a hash of it): pages of one id belong together. */
  readonly id: string;
  readonly total: number;
  readonly offset: number;
  readonly data: string;
  /** With offset 0, to an owner phone the owners' key was split to: its share, sealed to it. */
  readonly share?: string;
  /** What a restore would bring back, hashed (PROTOCOL §18.3): a phone keeping the backup fetches it again when this moves. */
  readonly version: string;
}

/** The most events one `events` answer lists (fewer when they do not fit one message). */
export const MAX_EVENTS_LISTED = 100;

/** The most segments one `recordings` answer lists. */
export const MAX_SEGMENTS_LISTED = 2000;
/** Every action's arguments and result. Keyed by `Action`: an action missing here fails to compile. */
export type PhoneCommands = {
  [A in Action]: {
    'list-cameras': { args: null; result: CameraListing[] };
    watch: { args: WatchArgs; result: WatchResult };
    unwatch: { args: WatchArgs; result: Done };
    snapshot: { args: { readonly camera: string }; result: SnapshotResult };
    ptz: { args: PtzArgs; result: Done };
    settings: { args: null; result: never };
    'recording-keys': { args: { readonly since?: number }; result: { readonly keys: readonly RecordingKey[] } };
    recordings: { args: RecordingsArgs; result: RecordingsResult };
    /** The segment's stored bytes, exactly as on disk (ciphertext), in `blob` notices. */
    segment: { args: { readonly camera: string; readonly id: string }; result: { readonly blob: string; readonly chunks: number; readonly bytes: number } };
    /** Roster log entries from `since` on (crypto/roster-log.ts, base64url), a page at a time; `length`: how many the log holds. */
    'roster-log': { args: { readonly since: number }; result: { readonly entries: readonly string[]; readonly length: number } };
    /** Owners: another phone's certificate (the hub signed it), to seal history to its keys. */
    'device-certificate': { args: { readonly device: string }; result: { readonly certificate: string } };
    /** Owners: epoch seeds sealed to another phone, stored for it and said in the roster log. */
    'share-history': { args: ShareHistoryArgs; result: ShareHistoryResult };
    /** Events (PROTOCOL §17.2.2), a page at a time. */
    events: { args: EventsArgs; result: EventsResult };
    /** One event's whole sealed record, its preview picture included (base64url). */
    'event-image': { args: { readonly id: number }; result: { readonly id: number; readonly sealed: string } };
    /** Web Push (§17.3): this phone's subscription and preferences; the answer names the hub's VAPID key. */
    'push-subscribe': { args: PushSubscribeArgs; result: PushSettingsResult };
    'push-unsubscribe': { args: null; result: Done };
    /** Without prefs: reads them (and the VAPID key an app subscribes with); with: changes them. */
    'push-settings': { args: { readonly prefs?: PushPrefs }; result: PushSettingsResult };
    /** Owners: a page of the hub's sealed backup, with this phone's sealed share on the first (PROTOCOL §18.3). */
    backup: { args: { readonly offset: number; readonly peek?: boolean }; result: BackupPage };
  }[A];
};

export type ArgsOf<A extends Action> = PhoneCommands[A]['args'];
export type ResultOf<A extends Action> = PhoneCommands[A]['result'];

/**
 * Why the hub did not do a command. The hub's own refusals, then the codes of the checks every
 * command passes first (`authorizeCommand`, PROTOCOL §10.3), then `failed` for anything else.
 */
export type RefusalCode =
  | 'bad-arguments'
  | 'no-such-camera'
  | 'no-such-profile'
  | 'no-profile-yet'
  | 'camera-failed'
  | 'settings-on-hub'
  | 'no-recording-key'
  | 'no-such-segment'
  | 'no-such-phone'
  | 'no-such-event'
  | 'no-backup'
  | CryptoErrorCode
  // A guest's or scoped viewer's limits (PROTOCOL §16.3): a camera outside its scope (existing or
  // not: the answer does not tell), a time outside its window, and what scoped phones never get.
  | 'not-in-scope'
  | 'outside-window'
  | 'live-only'
  | 'failed';

/** A refusal as it travels: a result with `ok = 0` and this value (PROTOCOL §10.3). */
export interface Refusal {
  readonly code: RefusalCode;
  /** For people; never names a secret. */
  readonly message: string;
}

/** A hub's refusal, as the hub throws it and the phone reads it. */
export class CommandRefused extends Error {
  override readonly name = 'CommandRefused';
  constructor(readonly code: RefusalCode, message: string) {
    super(message);
  }
}

/** A refusal value off the wire; hubs before codes sent the message alone. */
export function readRefusal(value: unknown): Refusal {
  if (typeof value === 'string') return { code: 'failed', message: value };
  if (typeof value === 'object' && value !== null) {
    const { code, message } = value as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') return { code: code as RefusalCode, message };
  }
  return { code: 'failed', message: 'the hub refused the command' };
}

// ---------------------------------------------------------------------------------------------
// Arguments as the hub reads them: JSON a phone signed, checked here before any handler sees it.

function bad(what: string): CommandRefused {
  return new CommandRefused('bad-arguments', what);
}

function record(raw: unknown): Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}

function cameraOf(a: Record<string, unknown>): string {
  // A missing or non-string camera names no camera: refused as such, not as malformed.
  return typeof a.camera === 'string' ? a.camera : '';
}

function watchArgs(raw: unknown): WatchArgs {
  const a = record(raw);
  if (a.profile === undefined) return { camera: cameraOf(a) };
  const profile = PROFILE_NAMES.find((p) => p === a.profile);
  if (profile === undefined) throw new CommandRefused('no-such-profile', 'unknown profile (this hub makes "h264" and "mpeg1")');
  return { camera: cameraOf(a), profile };
}

function ptzArgs(raw: unknown): PtzArgs {
  const a = record(raw);
  const move = a.move;
  if (move !== undefined && !(Array.isArray(move) && move.length === 3 && move.every((n) => typeof n === 'number'))) {
    throw bad('move wants pan,tilt,zoom each in [-1, 1]');
  }
  if (a.seconds !== undefined && typeof a.seconds !== 'number') throw bad('seconds must be a number');
  if (a.stop !== undefined && a.stop !== true) throw bad('stop must be true');
  if (a.preset !== undefined && typeof a.preset !== 'string' && typeof a.preset !== 'number') throw bad('preset must be a name or a number');
  // Ranges (and "exactly one of") are the camera control's to check: main/onvif/camera-control.ts.
  return {
    camera: cameraOf(a),
    ...(move !== undefined ? { move: move as [number, number, number] } : {}),
    ...(a.seconds !== undefined ? { seconds: a.seconds } : {}),
    ...(a.stop === true ? { stop: true as const } : {}),
    ...(a.preset !== undefined ? { preset: a.preset as string | number } : {}),
  };
}

/** Each action's argument reader. A mapped type over `Action`: a new action needs one. */
export const READ_ARGS: { readonly [A in Action]: (raw: unknown) => ArgsOf<A> } = {
  'list-cameras': () => null,
  watch: watchArgs,
  unwatch: watchArgs,
  snapshot: (raw) => ({ camera: cameraOf(record(raw)) }),
  ptz: ptzArgs,
  settings: () => null,
  'recording-keys': (raw) => {
    const a = record(raw);
    if (a.since !== undefined && !(Number.isInteger(a.since) && (a.since as number) >= 0)) throw bad('since must be an epoch number');
    return a.since !== undefined ? { since: a.since as number } : {};
  },
  recordings: (raw) => {
    const a = record(raw);
    for (const k of ['from', 'to'] as const) {
      if (a[k] !== undefined && !Number.isSafeInteger(a[k])) throw bad(`${k} must be a time in Unix ms`);
    }
    return { camera: cameraOf(a), ...(a.from !== undefined ? { from: a.from as number } : {}), ...(a.to !== undefined ? { to: a.to as number } : {}) };
  },
  'roster-log': (raw) => {
    const since = record(raw).since ?? 0;
    if (!(Number.isSafeInteger(since) && (since as number) >= 0)) throw bad('since must be an entry number');
    return { since: since as number };
  },
  segment: (raw) => {
    const a = record(raw);
    if (typeof a.id !== 'string' || !/^[0-9]{1,20}$/.test(a.id)) throw bad('id must be a segment id');
    return { camera: cameraOf(a), id: a.id };
  },
  'device-certificate': (raw) => ({ device: deviceOf(record(raw).device) }),
  events: (raw) => {
    const a = record(raw);
    if (a.camera !== undefined && typeof a.camera !== 'string') throw bad('camera must be a camera id or name');
    if (a.since !== undefined && !(Number.isSafeInteger(a.since) && (a.since as number) >= 0)) throw bad('since must be a time in Unix ms');
    if (a.after !== undefined && !(Number.isSafeInteger(a.after) && (a.after as number) >= 0)) throw bad('after must be an event id');
    return {
      ...(a.camera !== undefined ? { camera: a.camera as string } : {}), ...(a.since !== undefined ? { since: a.since as number } : {}),
      ...(a.after !== undefined ? { after: a.after as number } : {}),
    };
  },
  'event-image': (raw) => {
    const id = record(raw).id;
    if (!(Number.isSafeInteger(id) && (id as number) >= 1)) throw bad('id must be an event id');
    return { id: id as number };
  },
  'share-history': (raw) => {
    const a = record(raw);
    if (!Array.isArray(a.keys) || a.keys.length === 0 || a.keys.length > MAX_SHARED_KEYS) throw bad(`keys must list 1 to ${MAX_SHARED_KEYS} sealed epoch keys`);
    const seen = new Set<number>();
    const keys = a.keys.map((k: unknown) => {
      const { epoch, sealed } = record(k);
      if (!(Number.isInteger(epoch) && (epoch as number) >= 1 && (epoch as number) <= 0xffffffff) || seen.has(epoch as number)) throw bad('each key needs a distinct epoch number');
      // The sealed seed's size and fields are the hub's to check (crypto/recording.ts); here only its shape.
      if (typeof sealed !== 'string' || sealed.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(sealed)) throw bad('each key needs its sealed seed in base64url');
      seen.add(epoch as number);
      return { epoch: epoch as number, sealed };
    });
    return { to: deviceOf(a.to), keys };
  },
  'push-subscribe': (raw) => pushArgs(() => readPushSubscribe(raw)),
  'push-unsubscribe': () => null,
  'push-settings': (raw) => pushArgs(() => readPushSettings(raw)),
  backup: (raw) => {
    const { offset = 0, peek } = record(raw);
    if (!(Number.isSafeInteger(offset) && (offset as number) >= 0)) throw bad('offset must be a byte offset');
    if (peek !== undefined && typeof peek !== 'boolean') throw bad('peek is true or false');
    // peek: the id, size and version only (no data, no share), to see whether a kept backup is stale.
    return { offset: offset as number, ...(peek === true ? { peek: true } : {}) };
  },
};

/** Push arguments are read by crypto/push-prefs.ts; its complaint is a bad-arguments refusal. */
function pushArgs<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof PushArgsError) throw bad(e.message);
    throw e;
  }
}

/** A device id: 32 hex digits (lower case, as the hub writes them). */
function deviceOf(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[0-9a-f]{32}$/.test(raw)) throw new CommandRefused('no-such-phone', 'no such phone (a device id is 32 hex digits)');
  return raw;
}
