// The one contract between the hub's UI and the hub: every call the UI makes, with its arguments and
// its answer, the IPC channel names and the object the Electron preload exposes. The hub implements
// it once (main/api/service.ts, HubService) and serves it two ways, as thin adapters: Electron IPC
// (main/electron/ipc.main.ts, hub.preload.ts) and the local HTTP API (main/api/local-api.ts). The UI
// reaches it through a HubBridge of the same two kinds (renderer/bridge-ipc.ts, bridge-http.ts).
//
// Pure types and constants: no DOM, no Node, no Electron, so main/ and renderer/ both import it.

/** Every bridge call answers with a value or an error message, never a throw. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export type CameraState = 'starting' | 'live' | 'stalled' | 'backoff' | 'stopped' | 'failed';

/** Why the relay link is down (relay/client.ts RelayFailure): a stable code and a message for people. */
export interface RelayProblem {
  code: string;
  message: string;
  url: string;
  status?: number;
}

export interface HubStatus {
  hubId: string;
  epoch: number;
  relay: string;
  relayProblem: RelayProblem | null;
  /** The LAN endpoint's address, when it runs. */
  lan: string | null;
  phonesOnline: number;
  /** 'file' means only file permissions protect the hub's keys at rest. */
  keyProtection: string;
  ffmpegProblem: string | null;
}

export interface CameraInfo {
  id: string;
  name: string;
  number: number;
  /** Its relay topic (hex): what the relay sees of it. */
  topic: string;
  url: string;
  kind: string;
  state: CameraState;
  error?: string;
  mime?: string;
  codecs?: string;
  width?: number;
  height?: number;
  watchers: number;
  fragments: number;
  bytes: number;
  /** Streams the hub makes from this camera on demand (the h264 profile of an H.265 camera). */
  profiles?: ProfileInfo[];
}

/** A camera's h264 profile: the hub's transcode of it, for browsers that cannot play H.265. */
export interface ProfileInfo {
  name: string;
  number: number;
  topic: string;
  /** Whether its transcoder runs now (only while a phone watches, plus a grace period). */
  running: boolean;
  state: CameraState;
  error?: string;
  mime: string;
  codecs: string;
  watchers: number;
  starts: number;
  fragments: number;
}

export interface NewCameraInput {
  name: string;
  url: string;
  kind?: 'rtsp' | 'test-pattern';
}

export interface CameraRef {
  id: string;
  name: string;
  number: number;
}

export interface Invite {
  id: string;
  link: string;
  /** Unix seconds. */
  expiresAt: number;
}

export type InviteStatus =
  | { state: 'waiting' }
  | { state: 'confirm'; code: string; name: string }
  | { state: 'approved'; deviceId: string; name: string }
  | { state: 'refused' }
  | { state: 'expired' }
  | { state: 'cancelled' };

export type Role = 'owner' | 'viewer' | 'guest';

/** Which cameras (ids) a guest or scoped viewer sees, and when (Unix ms, 0 for none); PROTOCOL §16.3. */
export interface ScopeInfo {
  cameras: string[];
  from: number;
  until: number;
}

/** What an invite grants (`vigil invite --role R --camera NAME... --from T --until T`). Times Unix ms. */
export interface InviteAccess {
  role: Role;
  /** Camera names or ids; none: every camera. */
  cameras?: string[];
  from?: number;
  until?: number;
}

/**
 * A paired phone's new scope (`vigil devices scope`, the Phones screen), in place of the one it has:
 * camera names or ids, none for every camera (viewers only: a guest always has some). Times Unix ms;
 * not given: kept as they are; 0: none.
 */
export interface ScopeChange {
  cameras: string[];
  from?: number;
  until?: number;
}

export interface PairedPhone {
  id: string;
  name: string;
  role: Role;
}

export interface Phone {
  id: string;
  name: string;
  role: Role;
  /** Unix seconds. */
  pairedAt: number;
  lastSeen: number | null;
  revoked: boolean;
  /** Set for a guest or a viewer limited to some cameras. */
  scope?: ScopeInfo;
}

export interface RelayInfo {
  url: string | null;
  state: string;
  problem: RelayProblem | null;
  phonesOnline: number;
  watchingNow: number;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** A device found on the LAN; never added without the owner. */
export interface DiscoveredDevice {
  id: string;
  name: string;
  /** How it was found: 'onvif', 'mdns', ... */
  via: string;
  address: string;
  url?: string;
}

/** The roster log (PROTOCOL §16): every change of who holds the keys, oldest first, and the code owners compare. */
export interface RosterReport {
  /** 30 digits in groups of 5: the same on every phone that sees the same log. */
  safetyCode: string;
  length: number;
  entries: {
    seq: number; at: number; change: 'added' | 'removed' | 'role-changed' | 'history-shared' | 'restored'; deviceId: string; name: string; role: Role; by: string;
    /** A guest's or scoped viewer's cameras and window. */
    scope?: ScopeInfo;
    /** history-shared: the owner phone (device id) that sealed recording epochs first..last (`epochs` of them) to this one. */
    history?: { from: string; firstEpoch: number; lastEpoch: number; epochs: number };
  }[];
}

export type RecordingMode = 'continuous' | 'events' | 'off';

/** A camera's recordings (PROTOCOL §15): its settings and what they take on disk; times Unix ms. */
export interface RecordingInfo {
  cameraId: string;
  name: string;
  mode: RecordingMode;
  keepDays: number;
  bytes: number;
  segments: number;
  oldest: number | null;
  newest: number | null;
  /** A segment is being written now. */
  recording: boolean;
  /** E.g. that `events` records nothing yet. */
  note?: string;
}

/** What all recordings take against what the hub may use (PROTOCOL §15.6), in bytes. */
export interface RecordingStorage {
  /** What the index counts for every camera's segments. */
  used: number;
  /** `vigil hub --storage-max-gb`; null when none was given (keep days and the free floor only). */
  quota: number | null;
  /** The disk holding the data directory: free for the hub, and its size. */
  free: number;
  total: number;
  /** Free space the hub never records into (oldest recordings go first). */
  floor: number;
}

/**
 * Recordings played on this computer (THREAT-MODEL T13): only the desktop app with an OS keychain
 * can (the hub's main process opens them with the desktop viewer's keys); a headless hub never.
 */
export interface DesktopRecordings {
  /** This hub can keep recording keys here: the desktop app, with a real OS keychain. */
  available: boolean;
  /** The owner turned it on (the desktop viewer is enrolled and its wrapped key on disk). */
  enabled: boolean;
  /** Why not, when not available (for people). */
  why?: string;
}

/** A camera's recorded ranges between two times (Unix ms), oldest first: segments less than 5 s apart merged. */
export interface RecordingRanges {
  cameraId: string;
  ranges: { start: number; end: number }[];
}

/**
 * A range played on this computer: an MP4 held in the hub's memory (never on disk) for a minute,
 * given once to `recordingClip` (the bridge's, not a call: bytes do not go through JSON).
 */
export interface RecordingClip {
  clip: string;
  mime: string;
  bytes: number;
  /** The first and last recorded time in the file (the segments' own), Unix ms. */
  start: number;
  end: number;
  /** Segments in the file, those in it only up to a damage, and those left out. */
  segments: number;
  partial: number;
  left: number;
  /** One line per segment left out or played in part, as `vigil-phone play` says them. */
  lines: string[];
}

/**
 * The calls, by what each answers. On the hub a failed call throws (a HubError with a stable code);
 * over a bridge it resolves to `{ok: false, error}` instead (HubCalls).
 */
export interface HubApi {
  status(): Promise<HubStatus>;
  listCameras(): Promise<CameraInfo[]>;
  addCamera(input: NewCameraInput): Promise<CameraRef>;
  renameCamera(id: string, name: string): Promise<CameraRef>;
  removeCamera(id: string): Promise<{ removed: boolean }>;
  /** null when this hub has no discovery (yet). */
  discovery(): Promise<DiscoveredDevice[] | null>;
  /** The UI gives no lifetime (the default); with `access`, the role and scope the phone it pairs gets (PROTOCOL §16.3). */
  createInvite(ttlSeconds?: number, access?: InviteAccess): Promise<Invite>;
  inviteStatus(id: string): Promise<InviteStatus>;
  approveInvite(id: string, role: Role): Promise<PairedPhone>;
  refuseInvite(id: string): Promise<{ refused: boolean }>;
  listPhones(): Promise<Phone[]>;
  revokePhone(id: string): Promise<{ revoked: boolean }>;
  /** Changes a phone's cameras and window without pairing again: a roster log entry and a new epoch (PROTOCOL §16.3). */
  setPhoneScope(id: string, change: ScopeChange): Promise<Phone>;
  relay(): Promise<RelayInfo>;
  /** The newest entries first; at most 1000. */
  audit(limit: number): Promise<AuditEntry[]>;
  /** Each camera's recording settings and disk use. */
  recordings(): Promise<RecordingInfo[]>;
  /** Sets a camera's (by id or name) mode, and its keep days when given. */
  setRecording(camera: string, mode: RecordingMode, keepDays?: number): Promise<RecordingInfo>;
  /** All recordings' bytes against the quota and the disk's free space. */
  recordingStorage(): Promise<RecordingStorage>;
  roster(): Promise<RosterReport>;
  /** Whether recordings can play on this computer, and whether they do. */
  desktopRecordings(): Promise<DesktopRecordings>;
  /** Turns it on (the desktop viewer enrolled, every phone sees it added) or off (removed); kept in the app's settings. */
  setDesktopRecordings(enabled: boolean): Promise<DesktopRecordings>;
  /** A camera's (by id or name) recorded ranges in [from, to). */
  recordingRanges(camera: string, from: number, to: number): Promise<RecordingRanges>;
  /** Opens a camera's recordings from `from` for `seconds` with the desktop viewer's keys, into one MP4. */
  playRecording(camera: string, from: number, seconds: number): Promise<RecordingClip>;
}

export type CallName = keyof HubApi;
export type CallArgs<K extends CallName> = Parameters<HubApi[K]>;
export type CallValue<K extends CallName> = Awaited<ReturnType<HubApi[K]>>;

/** The calls as the UI makes them: each has a timeout and resolves to a Result. */
export type HubCalls = { [K in CallName]: (...args: CallArgs<K>) => Promise<Result<CallValue<K>>> };

/** IPC channel per call (ipcMain.handle / ipcRenderer.invoke); the keys are exactly the calls. */
export const CALL_CHANNELS = {
  status: 'vigil:status',
  listCameras: 'vigil:list-cameras',
  addCamera: 'vigil:add-camera',
  renameCamera: 'vigil:rename-camera',
  removeCamera: 'vigil:remove-camera',
  discovery: 'vigil:discovery',
  createInvite: 'vigil:create-invite',
  inviteStatus: 'vigil:invite-status',
  approveInvite: 'vigil:approve-invite',
  refuseInvite: 'vigil:refuse-invite',
  listPhones: 'vigil:list-phones',
  revokePhone: 'vigil:revoke-phone',
  setPhoneScope: 'vigil:set-phone-scope',
  relay: 'vigil:relay',
  audit: 'vigil:audit',
  recordings: 'vigil:recordings',
  setRecording: 'vigil:set-recording',
  recordingStorage: 'vigil:recording-storage',
  roster: 'vigil:roster',
  desktopRecordings: 'vigil:desktop-recordings',
  setDesktopRecordings: 'vigil:set-desktop-recordings',
  recordingRanges: 'vigil:recording-ranges',
  playRecording: 'vigil:play-recording',
} as const satisfies Record<CallName, `vigil:${string}`>;

export const CALL_NAMES = Object.keys(CALL_CHANNELS) as CallName[];

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && Object.hasOwn(CALL_CHANNELS, name);
}

/**
 * Over the local HTTP API every call is `POST /api/call/NAME` with the JSON body `{"args": [...]}`
 * and the bearer token; the answer is the value as JSON (200), or `{"error", "code"}` with the
 * status of the error's code (main/api/local-api.ts).
 */
export const CALL_PATH_PREFIX = '/api/call/';

export function callPath(name: string): string {
  return CALL_PATH_PREFIX + name;
}

export interface CallBody {
  args: unknown[];
}

/** Live streams over IPC: open/close are invokes; data flows main → renderer as events. */
export const LIVE_CHANNELS = {
  open: 'vigil:live-open',
  close: 'vigil:live-close',
  /** (streamId, LiveEvent) */
  event: 'vigil:live-event',
} as const;

export type LiveEvent =
  | { type: 'init'; mime: string }
  | { type: 'data'; chunk: Uint8Array }
  | { type: 'end'; error?: string };

/** Per-call timeouts (ms): long enough for a slow disk, short enough that the UI says so. */
export const CALL_TIMEOUT_MS = 10_000;
/** Adding a camera and approving a phone wait for the store and the relay. */
export const SLOW_CALL_TIMEOUT_MS = 20_000;
export const SLOW_CALLS: ReadonlySet<CallName> = new Set<CallName>(['addCamera', 'approveInvite', 'revokePhone', 'setPhoneScope', 'removeCamera', 'createInvite', 'setDesktopRecordings', 'playRecording']);

/**
 * A played range's MP4 (RecordingClip.clip), given once: over IPC an invoke on CLIP_CHANNEL that
 * answers `Result<Uint8Array>`; over the local HTTP API `GET /api/clip/ID` with the token.
 */
export const CLIP_CHANNEL = 'vigil:recording-clip';
export const CLIP_PATH_PREFIX = '/api/clip/';
/** A clip id: 32 hex digits. */
export const CLIP_ID = /^[0-9a-f]{32}$/;

/** The object the preload exposes as `window.vigilHub` (contextBridge.exposeInMainWorld). */
export interface PreloadApi {
  invoke<K extends CallName>(name: K, ...args: CallArgs<K>): Promise<Result<CallValue<K>>>;
  openLive(cameraId: string): Promise<Result<{ streamId: number }>>;
  closeLive(streamId: number): void;
  /** Subscribes to live events; returns the unsubscribe function. */
  onLive(listener: (streamId: number, event: LiveEvent) => void): () => void;
  /** A played range's MP4 bytes (CLIP_CHANNEL), once. */
  recordingClip(clip: string): Promise<Result<Uint8Array>>;
}
export const PRELOAD_GLOBAL = 'vigilHub';

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}
export function fail<T = never>(error: string): Result<T> {
  return { ok: false, error };
}

/** Races a promise against a timeout; the message says which call timed out. */
export function withTimeout<T>(what: string, ms: number, p: Promise<Result<T>>): Promise<Result<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Result<T>>((resolve) => {
    timer = setTimeout(() => resolve(fail(`${what} timed out after ${Math.round(ms / 1000)} s: is the hub still running?`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
