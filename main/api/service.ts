// HubService: the hub's UI contract (HubApi, contract/hub-ui.ts) implemented once, plus the few calls
// only the command line makes (HubLocalApi). Electron IPC (main/electron/ipc.main.ts) and the local
// HTTP API (local-api.ts) are thin adapters over it; arguments reach it already checked (calls.ts).
// Failures are HubErrors with a stable code, never a transport's error.
//
// It sees the hub through HubCore, the few parts it needs: it does not import hub.ts, which builds it.
import type {
  AuditEntry, CameraInfo, CameraRef, DiscoveredDevice, HubApi, HubStatus, Invite, InviteAccess, InviteStatus, NewCameraInput, PairedPhone, Phone,
  RecordingInfo, RecordingMode, RecordingStorage, RelayInfo, RelayProblem, Role, RosterReport, ScopeChange,
  DesktopRecordings, RecordingClip, RecordingRanges,
} from '../../contract/hub-ui.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import type { RelayFailure } from '../../relay/client.ts';
import type { PairingDesk } from '../pairing-desk.ts';
import type { Device, Store } from '../store/db.ts';
import { isStoreError } from '../store/errors.ts';
import type { RecordingIndex } from '../store/recordings.ts';
import { DesktopViewerError, NO_KEYCHAIN_WHY, type DesktopViewer } from '../keys/desktop-viewer.ts';
import { mergeRanges } from '../phones/commands/recordings.ts';
import { HubError } from './errors.ts';

/** Invite lifetimes the local API accepts (PROTOCOL's limits table), and its default. */
export const INVITE_TTL_S = { min: 30, max: 3600, default: 600 } as const;
/** The most audit entries one call returns. */
export const MAX_AUDIT_ENTRIES = 1000;

/** What the local API offers beyond the UI's calls: the command line's (and never the Electron page's). */
export interface HubLocalApi extends HubApi {
  /** `vigil invite --ttl S`: 30 s to 1 h; 10 min without. With `access`, the role and scope it pairs a phone with (PROTOCOL §16.3). */
  createInvite(ttlSeconds?: number, access?: InviteAccess): Promise<Invite>;
  /** Stops or starts the LAN endpoint on the same port (hubs started with --lan only). */
  setLan(enabled: boolean): Promise<{ enabled: boolean; url: string | null }>;
}

/** The parts of the hub (hub.ts, Hub) the service works with. */
export interface HubCore {
  readonly identity: { readonly hubId: Uint8Array };
  readonly keys: { readonly epoch: number };
  readonly sessions: { readonly online: number };
  readonly store: Pick<Store, 'keyProtection' | 'listDevices' | 'listAudit' | 'getCamera'>;
  readonly desk: Pick<PairingDesk, 'createInvite' | 'status' | 'approve' | 'refuse'>;
  readonly relayUrl: string | undefined;
  readonly relayState: string;
  readonly relayProblem: RelayFailure | undefined;
  readonly lanUrl: string | undefined;
  readonly ffmpegProblem: string | undefined;
  readonly cameras: {
    status(): CameraInfo[];
    add(input: NewCameraInput): CameraRef;
    rename(idOrName: string, name: string): CameraRef;
    remove(idOrName: string): Promise<boolean>;
  };
  revokeDevice(id: string): Promise<boolean>;
  changePhoneScope(id: string, change: ScopeChange): Promise<Device>;
  setLan(enabled: boolean): Promise<void>;
  readonly recordings: {
    list(): RecordingInfo[];
    set(camera: string, mode: RecordingMode, keepDays?: number): RecordingInfo;
    storage(): RecordingStorage;
    readonly index: Pick<RecordingIndex, 'timesIn'>;
  };
  roster(): RosterReport;
}

/** The store's and the pairing's refusals, as the calls that meet them report them. */
async function guard<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isStoreError(e)) throw new HubError('bad-argument', e.message, { cause: e });
    if (isCryptoError(e)) throw new HubError('conflict', e.message, { cause: e });
    throw e;
  }
}

/** The desktop viewer's refusals, as the UI shows them: what the hub cannot do here, or a range too large. */
async function desktopGuard<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!(e instanceof DesktopViewerError)) throw e;
    const code = e.code === 'too-large' ? 'bad-argument' : e.code === 'no-recording' ? 'not-found' : 'conflict';
    throw new HubError(code, e.message, { cause: e });
  }
}

function phoneOf(d: Device): Phone {
  return {
    id: d.id, name: d.name, role: d.role, pairedAt: d.pairedAt, lastSeen: d.lastSeen, revoked: d.revokedAt !== null,
    ...(d.scope !== null ? { scope: { cameras: [...d.scope.cameras], from: d.scope.from, until: d.scope.until } } : {}),
  };
}

function ref(camera: CameraRef): CameraRef {
  return { id: camera.id, name: camera.name, number: camera.number };
}

export class HubService implements HubLocalApi {
  /** Recordings on this computer: only the desktop app with an OS keychain attaches one (THREAT-MODEL T13). */
  #desktop: Pick<DesktopViewer, 'state' | 'set' | 'play' | 'takeClip'> | undefined;

  constructor(private readonly hub: HubCore) {}

  /** The desktop app, after Hub.start: where its recordings play (main/electron/desktop-viewer.main.ts). */
  attachDesktop(desktop: Pick<DesktopViewer, 'state' | 'set' | 'play' | 'takeClip'>): void {
    this.#desktop = desktop;
  }

  /** A played range's MP4 (playRecording), once: Electron IPC's CLIP_CHANNEL and the local API's GET /api/clip/ID. */
  takeClip(id: string): Uint8Array | undefined {
    return this.#desktop?.takeClip(id);
  }

  #relayProblem(): RelayProblem | null {
    const f = this.hub.relayProblem;
    return f === undefined ? null : { code: f.code, message: f.message, url: f.url, ...(f.status !== undefined ? { status: f.status } : {}) };
  }

  async status(): Promise<HubStatus> {
    const hub = this.hub;
    return {
      hubId: Buffer.from(hub.identity.hubId).toString('hex'),
      epoch: hub.keys.epoch,
      relay: hub.relayState,
      relayProblem: this.#relayProblem(),
      lan: hub.lanUrl ?? null,
      phonesOnline: hub.sessions.online,
      keyProtection: hub.store.keyProtection,
      ffmpegProblem: hub.ffmpegProblem ?? null,
    };
  }

  async listCameras(): Promise<CameraInfo[]> {
    return this.hub.cameras.status();
  }

  addCamera(input: NewCameraInput): Promise<CameraRef> {
    return guard(() => ref(this.hub.cameras.add(input)));
  }

  renameCamera(id: string, name: string): Promise<CameraRef> {
    return guard(() => ref(this.hub.cameras.rename(id, name)));
  }

  async removeCamera(id: string): Promise<{ removed: boolean }> {
    if (!(await this.hub.cameras.remove(id))) throw new HubError('not-found', 'no such camera');
    return { removed: true };
  }

  /** No discovery on a running hub yet (`vigil discover` runs it from the command line). */
  async discovery(): Promise<DiscoveredDevice[] | null> {
    return null;
  }

  createInvite(ttlSeconds: number = INVITE_TTL_S.default, access?: InviteAccess): Promise<Invite> {
    return guard(async () => {
      if (!(ttlSeconds >= INVITE_TTL_S.min && ttlSeconds <= INVITE_TTL_S.max)) {
        throw new HubError('bad-argument', `ttlSeconds must be ${INVITE_TTL_S.min}..${INVITE_TTL_S.max}`);
      }
      return this.hub.desk.createInvite(ttlSeconds, access);
    });
  }

  async inviteStatus(id: string): Promise<InviteStatus> {
    const status = this.hub.desk.status(id);
    if (status === undefined) throw new HubError('not-found', 'no such invite');
    return status;
  }

  approveInvite(id: string, role: Role): Promise<PairedPhone> {
    return guard(async () => {
      const device = await this.hub.desk.approve(id, role);
      return { id: device.id, name: device.name, role: device.role };
    });
  }

  refuseInvite(id: string): Promise<{ refused: boolean }> {
    return guard(async () => {
      await this.hub.desk.refuse(id);
      return { refused: true };
    });
  }

  async listPhones(): Promise<Phone[]> {
    return this.hub.store.listDevices({ includeRevoked: true }).map(phoneOf);
  }

  async revokePhone(id: string): Promise<{ revoked: boolean }> {
    return { revoked: await this.hub.revokeDevice(id) };
  }

  setPhoneScope(id: string, change: ScopeChange): Promise<Phone> {
    return guard(async () => phoneOf(await this.hub.changePhoneScope(id, change)));
  }

  async relay(): Promise<RelayInfo> {
    const hub = this.hub;
    return {
      url: hub.relayUrl ?? null,
      state: hub.relayState,
      problem: this.#relayProblem(),
      phonesOnline: hub.sessions.online,
      watchingNow: hub.cameras.status().reduce((n, c) => n + c.watchers, 0),
    };
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    return this.hub.store.listAudit({ limit: Math.max(1, Math.min(MAX_AUDIT_ENTRIES, Math.floor(limit) || 100)) });
  }

  async roster(): Promise<RosterReport> {
    return this.hub.roster();
  }

  async recordings(): Promise<RecordingInfo[]> {
    return this.hub.recordings.list();
  }

  setRecording(camera: string, mode: RecordingMode, keepDays?: number): Promise<RecordingInfo> {
    return guard(() => this.hub.recordings.set(camera, mode, keepDays));
  }

  async recordingStorage(): Promise<RecordingStorage> {
    return this.hub.recordings.storage();
  }

  async desktopRecordings(): Promise<DesktopRecordings> {
    return this.#desktop?.state() ?? { available: false, enabled: false, why: NO_KEYCHAIN_WHY };
  }

  setDesktopRecordings(enabled: boolean): Promise<DesktopRecordings> {
    return desktopGuard(async () => {
      if (this.#desktop === undefined) throw new HubError('conflict', NO_KEYCHAIN_WHY);
      return this.#desktop.set(enabled);
    });
  }

  async recordingRanges(camera: string, from: number, to: number): Promise<RecordingRanges> {
    const c = this.hub.store.getCamera(camera);
    if (c === undefined) throw new HubError('not-found', 'no such camera');
    if (from > to) throw new HubError('bad-argument', '"from" must not be after "to"');
    return { cameraId: c.id, ranges: mergeRanges(this.hub.recordings.index.timesIn(c.id, from, to)) };
  }

  playRecording(camera: string, from: number, seconds: number): Promise<RecordingClip> {
    return desktopGuard(async () => {
      if (this.#desktop === undefined) throw new HubError('conflict', NO_KEYCHAIN_WHY);
      const c = this.hub.store.getCamera(camera);
      if (c === undefined) throw new HubError('not-found', 'no such camera');
      return this.#desktop.play(c.id, from, seconds);
    });
  }

  async setLan(enabled: boolean): Promise<{ enabled: boolean; url: string | null }> {
    await this.hub.setLan(enabled);
    return { enabled, url: this.hub.lanUrl ?? null };
  }
}
