// ONVIF control with the owner's credentials, on npm `onvif` (agsh) 0.8: it signs every request
// with a WS-Security UsernameToken digest (and answers HTTP digest challenges), and it talks to the
// ONVIF device mock the tests use. What we add around it:
//  * preserveAddress: service URLs the device returns are forced to the host:port the owner added,
//    so a device cannot send our signed requests elsewhere;
//  * a bounded agent (size cap, DTD refusal) and short time-outs;
//  * tokens we put into requests are checked (the library does not escape them);
//  * typed errors (OnvifError).
import onvif from 'onvif';
import type { Cam, CamOptions } from 'onvif';
import { BoundedAgent, DEFAULT_MAX_REPLY_BYTES } from './bounded-agent.ts';
import { OnvifError, toOnvifError } from './errors.ts';

export interface OnvifTarget {
  /** The device service URL, e.g. http://192.168.1.20/onvif/device_service. */
  readonly xaddr: string;
  readonly username?: string;
  readonly password?: string;
  /** Per request (default 8 s). */
  readonly timeoutMs?: number;
  readonly maxReplyBytes?: number;
}

export interface DeviceInformation {
  readonly manufacturer: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly serialNumber: string;
  readonly hardwareId: string;
}

export interface MediaProfile {
  readonly token: string;
  readonly name: string;
  readonly encoding?: string;
  readonly width?: number;
  readonly height?: number;
  readonly hasPtz: boolean;
}

export type PtzVector = readonly [pan: number, tilt: number, zoom: number];

/** ONVIF tokens are xs:string ReferenceToken (max 64); we allow the safe subset real devices use. */
const TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function checkToken(token: string, what: string, where: string): string {
  if (!TOKEN.test(token)) throw new OnvifError('invalid-argument', where, `${what} must be 1-64 characters of A-Z a-z 0-9 _ . : -`);
  return token;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, 256) : typeof v === 'number' ? String(v) : '';
}

export class OnvifSession {
  readonly #cam: Cam;
  readonly #where: string;

  private constructor(cam: Cam, where: string) {
    this.#cam = cam;
    this.#where = where;
  }

  /** Connects (GetSystemDateAndTime, GetServices/GetCapabilities, GetProfiles, GetVideoSources). */
  static async connect(target: OnvifTarget): Promise<OnvifSession> {
    let url: URL;
    try {
      url = new URL(target.xaddr);
    } catch {
      throw new OnvifError('invalid-argument', 'onvif connect', 'device service URL does not parse');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OnvifError('invalid-argument', 'onvif connect', 'device service URL must be http(s)');
    if (url.username !== '' || url.password !== '') throw new OnvifError('invalid-argument', 'onvif connect', 'device service URL must not carry credentials');
    const where = `onvif(${url.host})`;
    const options: CamOptions = {
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
      path: url.pathname + url.search,
      useSecure: url.protocol === 'https:',
      timeout: target.timeoutMs ?? 8000,
      autoconnect: false,
      preserveAddress: true,
      ...(url.protocol === 'http:' ? { agent: new BoundedAgent(target.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES) } : {}),
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
    };
    const cam = new onvif.Cam(options);
    // The library emits 'warning' for devices with half-working media services; keep it quiet.
    cam.on('warning', () => undefined);
    await new Promise<void>((resolve, reject) => cam.connect((err) => (err ? reject(toOnvifError(err, where)) : resolve())));
    return new OnvifSession(cam, where);
  }

  #call<T>(what: string, fn: (cb: (err: Error | null, data?: T) => void) => void): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      try {
        fn((err, data) => (err ? reject(toOnvifError(err, `${this.#where} ${what}`)) : resolve(data)));
      } catch (e) {
        reject(toOnvifError(e, `${this.#where} ${what}`));
      }
    });
  }

  async deviceInformation(): Promise<DeviceInformation> {
    const d = (await this.#call<Record<string, unknown>>('GetDeviceInformation', (cb) => this.#cam.getDeviceInformation(cb))) ?? {};
    return {
      manufacturer: str(d['manufacturer']), model: str(d['model']), firmwareVersion: str(d['firmwareVersion']),
      serialNumber: str(d['serialNumber']), hardwareId: str(d['hardwareId']),
    };
  }

  /** The media profiles found while connecting. */
  profiles(): MediaProfile[] {
    const out: MediaProfile[] = [];
    for (const p of (this.#cam.profiles ?? []).slice(0, 32) as Record<string, unknown>[]) {
      const token = str((p['$'] as Record<string, unknown> | undefined)?.['token'] ?? p['token']);
      if (!TOKEN.test(token)) continue; // a token we could not safely send back
      const venc = p['videoEncoderConfiguration'] as Record<string, unknown> | undefined;
      const res = venc?.['resolution'] as Record<string, unknown> | undefined;
      const width = Number(res?.['width']);
      const height = Number(res?.['height']);
      out.push({
        token, name: str(p['name']) || token,
        ...(typeof venc?.['encoding'] === 'string' ? { encoding: venc['encoding'] } : {}),
        ...(Number.isFinite(width) && width > 0 ? { width } : {}),
        ...(Number.isFinite(height) && height > 0 ? { height } : {}),
        hasPtz: p['PTZConfiguration'] !== undefined || p['ptzConfiguration'] !== undefined,
      });
    }
    return out;
  }

  /** The profile the library picked as active (the first video source's first profile). */
  defaultProfile(): MediaProfile | undefined {
    const active = this.#cam.activeSource?.profileToken;
    const all = this.profiles();
    return all.find((p) => p.token === active) ?? all[0];
  }

  /** The device has a PTZ service and this profile a PTZ configuration. */
  ptzProfile(): MediaProfile | undefined {
    if (this.#cam.uri?.ptz === undefined) return undefined;
    const all = this.profiles();
    const active = this.defaultProfile();
    return active?.hasPtz ? active : all.find((p) => p.hasPtz);
  }

  async streamUri(profileToken?: string): Promise<string> {
    const token = checkToken(profileToken ?? this.defaultProfile()?.token ?? '', 'profile token', this.#where);
    const r = await this.#call<{ uri?: unknown }>('GetStreamUri', (cb) => this.#cam.getStreamUri({ protocol: 'RTSP', profileToken: token }, cb));
    return checkMediaUri(r?.uri, ['rtsp:', 'rtsps:'], `${this.#where} GetStreamUri`);
  }

  async snapshotUri(profileToken?: string): Promise<string> {
    const token = checkToken(profileToken ?? this.defaultProfile()?.token ?? '', 'profile token', this.#where);
    const r = await this.#call<{ uri?: unknown }>('GetSnapshotUri', (cb) => this.#cam.getSnapshotUri({ profileToken: token }, cb));
    return checkMediaUri(r?.uri, ['http:', 'https:'], `${this.#where} GetSnapshotUri`, 'no-snapshot');
  }

  async presets(profileToken: string): Promise<{ token: string; name: string }[]> {
    checkToken(profileToken, 'profile token', this.#where);
    const r = await this.#call<Record<string, unknown>>('GetPresets', (cb) => this.#cam.getPresets({ profileToken }, cb));
    return Object.entries(r ?? {}).slice(0, 256).map(([name, v]) => ({ name: name.slice(0, 64), token: str((v as Record<string, Record<string, unknown>>)?.['$']?.['token']) })).filter((p) => TOKEN.test(p.token));
  }

  async continuousMove(profileToken: string, v: PtzVector, timeoutMs?: number): Promise<void> {
    checkToken(profileToken, 'profile token', this.#where);
    const [x, y, zoom] = v.map((n) => Math.round(n * 1000) / 1000) as unknown as PtzVector;
    await this.#call('ContinuousMove', (cb) => this.#cam.continuousMove({ profileToken, x, y, zoom, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) }, cb));
  }

  async stop(profileToken: string): Promise<void> {
    checkToken(profileToken, 'profile token', this.#where);
    await this.#call('Stop', (cb) => this.#cam.stop({ profileToken, panTilt: true, zoom: true }, cb));
  }

  /**
   * The camera's PullPoint events (ONVIF Events: CreatePullPointSubscription, PullMessages, Renew,
   * Unsubscribe), as the library returns them; main/events/onvif-events.ts reads the replies.
   * The subscription's address is forced to the owner's host:port like every service (preserveAddress).
   */
  pullPoint(): { create(): Promise<unknown>; pull(limit: number): Promise<unknown>; renew(): Promise<unknown>; unsubscribe(): Promise<unknown> } {
    const cam = this.#cam as unknown as {
      agent: unknown;
      events?: { subscription?: { subscriptionReference?: { address?: unknown } } };
      createPullPointSubscription(cb: (e: Error | null, d?: unknown) => void): void;
      pullMessages(o: { messageLimit: number }, cb: (e: Error | null, d?: unknown) => void): void;
      renew(o: object, cb: (e: Error | null, d?: unknown) => void): void;
      unsubscribe(cb: (e: Error | null, d?: unknown) => void, preserveListeners?: boolean): void;
    };
    // The library sends PullMessages, Renew and Unsubscribe to the subscription's address as given
    // to http.request, without the agent every other request gets: a camera could then answer a pull
    // with a reply of any size, or a DTD. The address object takes our bounded agent here.
    const bound = (r: unknown): unknown => {
      const address = cam.events?.subscription?.subscriptionReference?.address;
      if (typeof address !== 'object' || address === null) throw new OnvifError('bad-reply', `${this.#where} CreatePullPointSubscription`, 'the camera gave no subscription address');
      // (https: the library's own TLS agent, as for every other request; the reply time-out still holds.)
      if (cam.agent instanceof BoundedAgent) (address as { agent?: unknown }).agent = cam.agent;
      return r;
    };
    return {
      create: async () => bound(await this.#call('CreatePullPointSubscription', (cb) => cam.createPullPointSubscription(cb))),
      pull: (limit) => this.#call('PullMessages', (cb) => cam.pullMessages({ messageLimit: Math.max(1, Math.min(100, Math.floor(limit))) }, cb)),
      renew: () => this.#call('Renew', (cb) => cam.renew({}, cb)),
      unsubscribe: () => this.#call('Unsubscribe', (cb) => cam.unsubscribe(cb, true)),
    };
  }

  async gotoPreset(profileToken: string, preset: string): Promise<void> {
    checkToken(profileToken, 'profile token', this.#where);
    checkToken(preset, 'preset', this.#where);
    await this.#call('GotoPreset', (cb) => this.#cam.gotoPreset({ profileToken, preset }, cb));
  }
}

function checkMediaUri(v: unknown, schemes: string[], where: string, missing: 'bad-reply' | 'no-snapshot' = 'bad-reply'): string {
  if (typeof v !== 'string' || v === '') throw new OnvifError(missing, where, 'the camera gave no URI');
  if (v.length > 2048) throw new OnvifError('bad-reply', where, 'URI longer than 2048 characters');
  let u: URL;
  try {
    u = new URL(v.trim());
  } catch {
    throw new OnvifError('bad-reply', where, 'the camera gave a URI that does not parse');
  }
  if (!schemes.includes(u.protocol)) throw new OnvifError('bad-reply', where, `unexpected URI scheme ${JSON.stringify(u.protocol)}`);
  return u.href;
}
