// The calls the hub answers, each with the check of its arguments, and the one typed way to run a
// call by name on HubService. Both adapters use it: Electron IPC serves the UI's calls (UI_CALLS,
// exactly the contract), the local HTTP API those plus the command line's (LOCAL_CALLS). Arguments
// arrive as untrusted JSON or structured clones: each check returns the contract's argument tuple or
// throws HubError('bad-argument'), and bounds what it lets through.
import {
  isCallName, type CallArgs, type CallName, type CallValue, type InviteAccess, type NewCameraInput, type Role, type ScopeChange,
} from '../../contract/hub-ui.ts';
import { HubError } from './errors.ts';
import type { HubLocalApi } from './service.ts';

export type LocalCallName = keyof HubLocalApi;
export type LocalCallArgs<K extends LocalCallName> = Parameters<HubLocalApi[K]>;
export type LocalCallValue<K extends LocalCallName> = Awaited<ReturnType<HubLocalApi[K]>>;

type Check<A> = (raw: readonly unknown[]) => A;

/** Longest text argument (names, URLs, ids): the store has tighter limits of its own. */
const MAX_TEXT = 2048;

function text(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new HubError('bad-argument', `missing "${name}"`);
  if (v.length > MAX_TEXT) throw new HubError('bad-argument', `"${name}" is too long`);
  return v;
}

/** Invite and phone ids: 32 hex digits. */
function hexId(v: unknown, name: string): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{32}$/.test(v)) throw new HubError('bad-argument', `"${name}" must be 32 hex digits`);
  return v;
}

function newCamera(v: unknown): NewCameraInput {
  if (typeof v !== 'object' || v === null) throw new HubError('bad-argument', 'missing the camera ({name, url, kind})');
  const input = v as Record<string, unknown>;
  const kind = input.kind === 'test-pattern' ? 'test-pattern' : 'rtsp';
  return { name: text(input.name, 'name'), url: kind === 'test-pattern' ? 'test-pattern:' : text(input.url, 'url'), kind };
}

function role(v: unknown): Role {
  const r = v ?? 'owner';
  if (r !== 'owner' && r !== 'viewer' && r !== 'guest') throw new HubError('bad-argument', 'role must be owner, viewer or guest');
  return r;
}

function cameraNames(v: unknown): string[] {
  const cameras = v ?? [];
  if (!Array.isArray(cameras) || cameras.length > 64) throw new HubError('bad-argument', '"cameras" is a list of at most 64 camera names');
  return cameras.map((c, i) => text(c, `cameras[${i}]`));
}

/** A scope's time: Unix ms, 0 for none; undefined when not given. */
function scopeTime(t: unknown, name: string): number | undefined {
  if (t === undefined || t === null) return undefined;
  if (!Number.isSafeInteger(t) || (t as number) < 0) throw new HubError('bad-argument', `"${name}" must be Unix ms`);
  return t as number;
}

/** An invite's role and scope (main/phones/scope.ts checks the cameras and times against the hub). */
function inviteAccess(v: unknown): InviteAccess {
  if (typeof v !== 'object' || v === null) throw new HubError('bad-argument', 'access is {role, cameras?, from?, until?}');
  const a = v as Record<string, unknown>;
  return { role: role(a.role), cameras: cameraNames(a.cameras), from: scopeTime(a.from, 'from') ?? 0, until: scopeTime(a.until, 'until') ?? 0 };
}

/** A phone's new scope (main/phones/scope.ts checks it against the phone's role and the hub's cameras). */
function scopeChange(v: unknown): ScopeChange {
  if (typeof v !== 'object' || v === null) throw new HubError('bad-argument', 'the scope is {cameras, from?, until?}');
  const a = v as Record<string, unknown>;
  const from = scopeTime(a.from, 'from');
  const until = scopeTime(a.until, 'until');
  return { cameras: cameraNames(a.cameras), ...(from !== undefined ? { from } : {}), ...(until !== undefined ? { until } : {}) };
}

function finite(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HubError('bad-argument', `"${name}" must be a number`);
  return v;
}

/** A recording time: Unix ms, a whole number. */
function time(v: unknown, name: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new HubError('bad-argument', `"${name}" must be a time in Unix ms`);
  return v as number;
}

const none = (): [] => [];

/** The UI's calls: what Electron IPC serves (the preload can invoke nothing else). */
export const UI_CALLS: { readonly [K in CallName]: Check<CallArgs<K>> } = {
  status: none,
  listCameras: none,
  addCamera: (a) => [newCamera(a[0])],
  renameCamera: (a) => [text(a[0], 'id'), text(a[1], 'name')],
  removeCamera: (a) => [text(a[0], 'id')],
  discovery: none,
  // The UI's invites live the default lifetime; the role and scope it may choose.
  createInvite: (a) => (a[1] === undefined || a[1] === null ? [] : [undefined, inviteAccess(a[1])]),
  inviteStatus: (a) => [hexId(a[0], 'id')],
  approveInvite: (a) => [hexId(a[0], 'id'), role(a[1])],
  refuseInvite: (a) => [hexId(a[0], 'id')],
  listPhones: none,
  revokePhone: (a) => [hexId(a[0], 'id')],
  setPhoneScope: (a) => [hexId(a[0], 'id'), scopeChange(a[1])],
  relay: none,
  audit: (a) => [finite(a[0], 'limit')],
  recordings: none,
  setRecording: (a) => {
    if (a[1] !== 'continuous' && a[1] !== 'events' && a[1] !== 'off') throw new HubError('bad-argument', 'mode must be continuous, events or off');
    return a[2] === undefined || a[2] === null ? [text(a[0], 'camera'), a[1]] : [text(a[0], 'camera'), a[1], finite(a[2], 'keepDays')];
  },
  roster: none,
  recordingStorage: none,
  desktopRecordings: none,
  setDesktopRecordings: (a) => {
    if (typeof a[0] !== 'boolean') throw new HubError('bad-argument', 'missing "enabled" (true or false)');
    return [a[0]];
  },
  recordingRanges: (a) => [text(a[0], 'camera'), time(a[1], 'from'), time(a[2], 'to')],
  playRecording: (a) => [text(a[0], 'camera'), time(a[1], 'from'), finite(a[2], 'seconds')],
};

/** What the local HTTP API serves: the UI's calls and the command line's. */
export const LOCAL_CALLS: { readonly [K in LocalCallName]: Check<LocalCallArgs<K>> } = {
  ...UI_CALLS,
  createInvite: (a) => {
    const ttl = a[0] === undefined || a[0] === null ? undefined : finite(a[0], 'ttlSeconds');
    if (a[1] === undefined || a[1] === null) return ttl === undefined ? [] : [ttl];
    return [ttl, inviteAccess(a[1])];
  },
  setLan: (a) => {
    if (typeof a[0] !== 'boolean') throw new HubError('bad-argument', 'missing "enabled" (true or false)');
    return [a[0]];
  },
};

export const LOCAL_CALL_NAMES = Object.keys(LOCAL_CALLS) as LocalCallName[];

export function isLocalCallName(name: unknown): name is LocalCallName {
  return typeof name === 'string' && Object.hasOwn(LOCAL_CALLS, name);
}
export { isCallName };

/** HubService seen call by call, so that a call by name keeps its types. */
type UiMethods = { [K in CallName]: (...args: CallArgs<K>) => Promise<CallValue<K>> };
type LocalMethods = { [K in LocalCallName]: (...args: LocalCallArgs<K>) => Promise<LocalCallValue<K>> };

/** Runs one of the UI's calls with unchecked arguments (Electron IPC). */
export async function runUiCall<K extends CallName>(service: UiMethods, name: K, raw: readonly unknown[]): Promise<CallValue<K>> {
  const args = UI_CALLS[name](raw);
  return service[name](...args);
}

/** Runs one of the local API's calls with unchecked arguments (HTTP). */
export async function runLocalCall<K extends LocalCallName>(service: LocalMethods, name: K, raw: readonly unknown[]): Promise<LocalCallValue<K>> {
  const args = LOCAL_CALLS[name](raw);
  return service[name](...args);
}
