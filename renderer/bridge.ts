// The one contract between the hub's UI and the hub. The UI talks to the hub only through a
// HubBridge; two implementations exist: over the local HTTP API (headless, bridge-http.ts) and over
// Electron IPC through the preload's one exposed object (bridge-ipc.ts, main/electron/*). Channel
// names live here too, so the preload, the Electron main process and the renderer cannot drift.
//
// Pure types and constants: no DOM, no Node, no Electron, so every side may import it.

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
  phonesOnline: number;
  /** 'file' means only file permissions protect the hub's keys at rest. */
  keyProtection: string;
  ffmpegProblem: string | null;
}

export interface CameraInfo {
  id: string;
  name: string;
  number: number;
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

export type Role = 'owner' | 'viewer';

export interface Phone {
  id: string;
  name: string;
  role: Role;
  /** Unix seconds. */
  pairedAt: number;
  lastSeen: number | null;
  revoked: boolean;
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

/** What a live tile receives: plaintext fMP4 from the hub's own process, never from the network. */
export interface LiveSink {
  onInit(mime: string): void;
  onData(chunk: Uint8Array): void;
  onEnd(error?: string): void;
}

export interface LiveHandle {
  close(): void;
}

/** The calls the UI makes. Every one has a timeout and resolves to a Result. */
export interface HubCalls {
  status(): Promise<Result<HubStatus>>;
  listCameras(): Promise<Result<CameraInfo[]>>;
  addCamera(input: NewCameraInput): Promise<Result<CameraRef>>;
  renameCamera(id: string, name: string): Promise<Result<CameraRef>>;
  removeCamera(id: string): Promise<Result<{ removed: boolean }>>;
  /** null when this hub has no discovery (yet). */
  discovery(): Promise<Result<DiscoveredDevice[] | null>>;
  createInvite(): Promise<Result<Invite>>;
  inviteStatus(id: string): Promise<Result<InviteStatus>>;
  approveInvite(id: string, role: Role): Promise<Result<{ id: string; name: string; role: Role }>>;
  refuseInvite(id: string): Promise<Result<{ refused: boolean }>>;
  listPhones(): Promise<Result<Phone[]>>;
  revokePhone(id: string): Promise<Result<{ revoked: boolean }>>;
  relay(): Promise<Result<RelayInfo>>;
  audit(limit: number): Promise<Result<AuditEntry[]>>;
}

export interface HubBridge extends HubCalls {
  /** 'http' in a browser tab on the headless hub, 'ipc' in the desktop app. */
  readonly kind: 'http' | 'ipc';
  openLive(cameraId: string, sink: LiveSink): LiveHandle;
}

export type CallName = keyof HubCalls;
export type CallArgs<K extends CallName> = Parameters<HubCalls[K]>;
export type CallValue<K extends CallName> = Awaited<ReturnType<HubCalls[K]>>;

/** IPC channel per call (ipcMain.handle / ipcRenderer.invoke). */
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
  relay: 'vigil:relay',
  audit: 'vigil:audit',
} as const satisfies Record<CallName, `vigil:${string}`>;

export const CALL_NAMES = Object.keys(CALL_CHANNELS) as CallName[];

/** How each call maps onto the hub's local API; the HTTP bridge and the Electron main process share it. */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
}

const seg = encodeURIComponent;

export function apiRequestFor<K extends CallName>(name: K, ...args: CallArgs<K>): ApiRequest {
  const a = args as unknown[];
  const s = (i: number) => seg(String(a[i]));
  switch (name as CallName) {
    case 'status': return { method: 'GET', path: '/api/status' };
    case 'listCameras': return { method: 'GET', path: '/api/cameras' };
    case 'addCamera': return { method: 'POST', path: '/api/cameras', body: a[0] };
    case 'renameCamera': return { method: 'POST', path: `/api/cameras/${s(0)}/rename`, body: { name: a[1] } };
    case 'removeCamera': return { method: 'DELETE', path: `/api/cameras/${s(0)}` };
    case 'discovery': return { method: 'GET', path: '/api/discovery' };
    case 'createInvite': return { method: 'POST', path: '/api/invites', body: {} };
    case 'inviteStatus': return { method: 'GET', path: `/api/invites/${s(0)}` };
    case 'approveInvite': return { method: 'POST', path: `/api/invites/${s(0)}/approve`, body: { role: a[1] } };
    case 'refuseInvite': return { method: 'POST', path: `/api/invites/${s(0)}/refuse`, body: {} };
    case 'listPhones': return { method: 'GET', path: '/api/devices' };
    case 'revokePhone': return { method: 'POST', path: `/api/devices/${s(0)}/revoke`, body: {} };
    case 'relay': return { method: 'GET', path: '/api/relay' };
    case 'audit': return { method: 'GET', path: `/api/audit?limit=${Math.max(1, Math.min(1000, Math.floor(Number(a[0]) || 100)))}` };
    default: return unreachable(name as never);
  }
}

/** A hub without discovery has no such route: that is "no discovery here", not an error. */
export function discoveryFromApi(r: Result<unknown>): Result<DiscoveredDevice[] | null> {
  if (!r.ok) return r.error === 'no such route' ? ok(null) : r;
  const list = Array.isArray(r.value) ? r.value : (r.value as { devices?: unknown } | null)?.devices;
  return ok(Array.isArray(list) ? (list as DiscoveredDevice[]) : []);
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
export const SLOW_CALLS: ReadonlySet<CallName> = new Set<CallName>(['addCamera', 'approveInvite', 'revokePhone', 'removeCamera', 'createInvite']);

/** The object the preload exposes as `window.vigilHub` (contextBridge.exposeInMainWorld). */
export interface PreloadApi {
  invoke<K extends CallName>(name: K, ...args: CallArgs<K>): Promise<CallValue<K>>;
  openLive(cameraId: string): Promise<Result<{ streamId: number }>>;
  closeLive(streamId: number): void;
  /** Subscribes to live events; returns the unsubscribe function. */
  onLive(listener: (streamId: number, event: LiveEvent) => void): () => void;
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

/** For exhaustive switches: a case that cannot happen. */
export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
