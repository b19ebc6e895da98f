// What the hub does for a phone's snapshot and PTZ commands (after it has checked the command:
// T9 is the caller's job), and what `vigil camera add --from-discovery` does. A camera can be
// controlled only if it was added from ONVIF discovery: its pin holds the device service URL.
import { decodePin, encodePin, type OnvifPin } from '../discovery/pins.ts';
import type { DiscoveredDevice } from '../discovery/merge.ts';
import { splitCameraUrl } from '../store/camera-url.ts';
import type { Camera, Store } from '../store/db.ts';
import { OnvifSession, type PtzVector } from './client.ts';
import { OnvifError } from './errors.ts';
import { fetchSnapshot } from './snapshot-fetch.ts';

export interface ControlOptions {
  readonly timeoutMs?: number;
  readonly maxSnapshotBytes?: number;
  /** ptz: once aborted, nothing more is sent but Stop; a move under way is cut short. */
  readonly signal?: AbortSignal;
}

export interface PtzArgs {
  /** Pan, tilt, zoom velocities, each in [-1, 1]. */
  readonly move?: PtzVector;
  /** How long to move before stopping (default 1 s, at most 30 s). */
  readonly seconds?: number;
  readonly stop?: boolean;
  readonly preset?: string | number;
}

export const MAX_PTZ_SECONDS = 30;

function serialOf(d: { manufacturer: string; model: string; serialNumber: string }): string | undefined {
  return d.serialNumber === '' ? undefined : `${d.manufacturer}/${d.model}/${d.serialNumber}`;
}

export interface Controlled {
  camera: Camera;
  pin: OnvifPin & { xaddr: string };
  session: OnvifSession;
  username?: string;
  password?: string;
}

/**
 * An ONVIF session to a camera added from discovery, with the owner's credentials, after checking
 * that the device still says it is the one the owner pinned (manufacturer/model/serial): every
 * user of a camera's ONVIF service (snapshot, PTZ, events, the substream) opens it here.
 */
export async function openPinnedSession(store: Pick<Store, 'getCamera' | 'cameraUrlWithCredentials'>, cameraId: string, what: string, opts: Pick<ControlOptions, 'timeoutMs'> = {}): Promise<Controlled> {
  return open(store, cameraId, what, opts);
}

async function open(store: Pick<Store, 'getCamera' | 'cameraUrlWithCredentials'>, cameraId: string, what: string, opts: Pick<ControlOptions, 'timeoutMs'>): Promise<Controlled> {
  const where = `${what}(camera=${cameraId.slice(0, 8)})`;
  const camera = store.getCamera(cameraId);
  if (camera === undefined || camera.removedAt !== null) throw new OnvifError('not-found', where, 'no such camera');
  const pin = decodePin(camera.onvifPin);
  if (pin?.xaddr === undefined) throw new OnvifError('no-onvif', where, `camera "${camera.name}" was not added from ONVIF discovery, so the hub has no ONVIF service to ask; add it with 'vigil camera add --from-discovery'`);
  const creds = camera.kind === 'rtsp' ? splitCameraUrl(store.cameraUrlWithCredentials(camera.id)) : undefined;
  const username = creds?.username ?? undefined;
  const password = creds?.password ?? undefined;
  const session = await OnvifSession.connect({
    xaddr: pin.xaddr, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  if (pin.serial !== undefined) {
    const now = serialOf(await session.deviceInformation());
    if (now !== undefined && now !== pin.serial) {
      throw new OnvifError('identity-changed', where, `the device at ${new URL(pin.xaddr).host} says it is ${now}, not the pinned ${pin.serial}; refusing to control it`);
    }
  }
  return { camera, pin: pin as OnvifPin & { xaddr: string }, session, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** A JPEG from the camera (GetSnapshotUri, then an HTTP GET with the owner's credentials). */
export async function snapshot(store: Store, cameraId: string, opts: ControlOptions = {}): Promise<Uint8Array> {
  const c = await open(store, cameraId, 'snapshot', opts);
  const uri = await c.session.snapshotUri();
  return fetchSnapshot(uri, {
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    credentialHost: new URL(c.pin.xaddr).hostname.replace(/^\[|\]$/g, ''),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.maxSnapshotBytes !== undefined ? { maxBytes: opts.maxSnapshotBytes } : {}),
  });
}

/** Checks PTZ arguments without touching the network (so a bad command fails fast). */
export function checkPtzArgs(args: PtzArgs, where = 'ptz'): void {
  const actions = [args.move !== undefined, args.stop === true, args.preset !== undefined].filter(Boolean).length;
  if (actions !== 1) throw new OnvifError('invalid-argument', where, 'give exactly one of move, stop, preset');
  if (args.move !== undefined) {
    if (args.move.length !== 3 || !args.move.every((n) => Number.isFinite(n) && n >= -1 && n <= 1)) throw new OnvifError('invalid-argument', where, 'move wants pan,tilt,zoom each in [-1, 1]');
  }
  if (args.seconds !== undefined && !(Number.isFinite(args.seconds) && args.seconds > 0 && args.seconds <= MAX_PTZ_SECONDS)) {
    throw new OnvifError('invalid-argument', where, `seconds must be in (0, ${MAX_PTZ_SECONDS}]`);
  }
  if (args.preset !== undefined) {
    const p = String(args.preset);
    if (typeof args.preset === 'number' && !(Number.isInteger(args.preset) && args.preset >= 0 && args.preset < 1e6)) throw new OnvifError('invalid-argument', where, 'preset number out of range');
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(p)) throw new OnvifError('invalid-argument', where, 'preset must be 1-64 characters of A-Z a-z 0-9 _ . : -');
  }
}

/**
 * Moves (for `seconds`, then stops), stops, or goes to a preset. A numeric preset is matched
 * against the camera's preset list by position (1 = first) unless a preset has that token.
 */
export async function ptz(store: Store, cameraId: string, args: PtzArgs, opts: ControlOptions = {}): Promise<void> {
  const where = `ptz(camera=${cameraId.slice(0, 8)})`;
  checkPtzArgs(args, where);
  const signal = opts.signal;
  signal?.throwIfAborted();
  const c = await open(store, cameraId, 'ptz', opts);
  // Connecting takes a few requests: the phone may have been removed meanwhile.
  signal?.throwIfAborted();
  const profile = c.session.ptzProfile();
  if (profile === undefined) throw new OnvifError('no-ptz', where, `camera "${c.camera.name}" has no PTZ (no PTZ service or no profile with a PTZ configuration)`);
  if (args.stop === true) {
    await c.session.stop(profile.token);
  } else if (args.move !== undefined) {
    const seconds = args.seconds ?? 1;
    await c.session.continuousMove(profile.token, args.move, Math.ceil(seconds * 1000));
    await abortableSleep(seconds * 1000, signal);
    // Also when aborted: the move must not go on for the rest of its seconds.
    await c.session.stop(profile.token);
    signal?.throwIfAborted();
  } else if (args.preset !== undefined) {
    let token = String(args.preset);
    if (typeof args.preset === 'number') {
      const presets = await c.session.presets(profile.token);
      const byToken = presets.find((p) => p.token === token);
      const byPosition = presets[args.preset - 1];
      if (byToken === undefined && byPosition === undefined) throw new OnvifError('invalid-argument', where, `camera "${c.camera.name}" has no preset ${args.preset} (it has ${presets.length})`);
      token = (byToken ?? byPosition)!.token;
    }
    signal?.throwIfAborted();
    await c.session.gotoPreset(profile.token, token);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface AddFromDiscoveryInput {
  readonly device: DiscoveredDevice;
  readonly name?: string;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs?: number;
}

export interface CameraToAdd {
  readonly name: string;
  /** Without credentials. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** encodePin(...) for store.setCameraOnvifPin, or null (mDNS-only device: no identity to pin). */
  readonly pin: string | null;
  readonly via: 'onvif' | 'mdns';
  readonly device?: { manufacturer: string; model: string; serialNumber: string };
}

/**
 * Works out what to add for a device the owner picked: for an ONVIF device, connects with the
 * owner's credentials (the first time any are sent to it), reads its identity and asks it for its
 * stream URI; for an mDNS-only device, the URI its announcement gave. Adds nothing itself.
 */
export async function prepareCameraFromDiscovery(input: AddFromDiscoveryInput): Promise<CameraToAdd> {
  const d = input.device;
  const where = `addFromDiscovery(device=${d.id})`;
  const creds = { ...(input.username !== undefined ? { username: input.username } : {}), ...(input.password !== undefined ? { password: input.password } : {}) };
  const xaddr = d.onvif?.xaddrs[0];
  if (xaddr !== undefined) {
    const session = await OnvifSession.connect({ xaddr, ...creds, ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}) });
    const info = await session.deviceInformation();
    const url = await session.streamUri();
    const serial = serialOf(info);
    const name = input.name ?? (d.name.slice(0, 64).trim() || `${info.manufacturer} ${info.model}`.trim() || 'ONVIF camera');
    return {
      name, url, ...creds, via: 'onvif',
      pin: encodePin({ ...(d.onvif !== undefined ? { endpoint: d.onvif.endpoint } : {}), ...(serial !== undefined ? { serial } : {}), xaddr }),
      device: { manufacturer: info.manufacturer, model: info.model, serialNumber: info.serialNumber },
    };
  }
  if (d.streamUri === undefined) throw new OnvifError('no-onvif', where, 'the device announced no stream URI and no ONVIF service; add it by URL instead');
  return { name: input.name ?? d.name.slice(0, 64), url: d.streamUri, ...creds, via: 'mdns', pin: null };
}
