// Guests and scoped viewers (PROTOCOL §16.3): a phone limited to some cameras, and maybe to a window
// of time, is limited by the keys it gets, not by the hub's promise. Its key updates carry only its
// cameras' keys, and none before `from` or after `until`; it holds no recording epoch, so it sees
// live video only; its relay capability expires at `until` and is withdrawn then;
// the hub refuses its commands for anything else; and at `until` it is removed as a revocation is
// (new epoch, roster log entry, capability withdrawn). The scope is in its roster log entry and so in
// the roster hash every phone checks.
import type { Role } from '../../crypto/certificate.ts';
import type { Action } from '../../crypto/command.ts';
import { CommandRefused, type RefusalCode } from '../../crypto/phone-commands.ts';
import { checkScope, MAX_SCOPE_CAMERAS, type Scope } from '../../crypto/roster.ts';
import type { InviteAccess, ScopeChange } from '../../contract/hub-ui.ts';
import { HubError } from '../api/errors.ts';
import { hexToBytes } from '../hex.ts';
import type { KeyDelivery } from '../keys/key-delivery.ts';
import type { CommandHandler } from '../phone-sessions.ts';
import type { Device, DeviceScope, Store } from '../store/db.ts';
import type { HubRosterLog } from './roster-log.ts';

/** The crypto form of a stored scope (camera ids as bytes), for the roster hash and log. */
export function rosterScope(scope: DeviceScope | null): Scope | undefined {
  return scope === null ? undefined : { cameras: scope.cameras.map((c) => hexToBytes(c)), from: scope.from, until: scope.until };
}

/** Where `now` (Unix ms) falls in a scope's window. */
export type WindowState = 'before' | 'open' | 'ended';

export function windowState(scope: DeviceScope, now: number): WindowState {
  if (scope.until !== 0 && now >= scope.until) return 'ended';
  if (scope.from !== 0 && now < scope.from) return 'before';
  return 'open';
}

/**
 * The cameras (hex ids) whose keys go to this phone now: undefined for every camera (no scope); an
 * empty set outside its window, and for a device the store does not know (no keys to strangers).
 */
export function visibleCameras(device: Pick<Device, 'scope'> | undefined, now: number): ReadonlySet<string> | undefined {
  if (device === undefined) return new Set();
  const scope = device.scope;
  if (scope === null) return undefined;
  return windowState(scope, now) === 'open' ? new Set(scope.cameras) : new Set();
}

/**
 * Whether recording epochs are sealed to this phone. A recording epoch opens every camera's
 * recordings (one key pair per hub, PROTOCOL §15), so a phone limited to some cameras gets none:
 * guests and scoped viewers see live video only.
 */
export function mayHoldRecordings(device: Pick<Device, 'scope' | 'role'>): boolean {
  return device.scope === null && device.role !== 'guest';
}

/**
 * When the relay capability a phone gets now ends (Unix s): none once its window ended, and one
 * that ends at `until` at the latest, so a relay that kept it stops honouring it even if the hub's
 * revocation never reached it. Before `from` a guest has one: it may connect, fetch the roster log
 * and see its own scope, but it holds no key to open anything with.
 */
export function capabilityExpiry(device: Pick<Device, 'scope'>, nowMs: number, lifetimeS: number): number | undefined {
  const normal = Math.floor(nowMs / 1000) + lifetimeS;
  const scope = device.scope;
  if (scope === null) return normal;
  if (windowState(scope, nowMs) === 'ended') return undefined;
  return scope.until === 0 ? normal : Math.min(normal, Math.ceil(scope.until / 1000));
}

/**
 * What an invite made with `vigil invite --role R --camera NAME... --from T --until T` grants, checked
 * against the hub's cameras: typed HubError('bad-argument') for anything that cannot be one.
 */
export function resolveAccess(store: Pick<Store, 'getCamera'>, access: InviteAccess, now: number): { role: Role; scope: DeviceScope | null } {
  const { role } = access;
  const names = access.cameras ?? [];
  const from = access.from ?? 0;
  const until = access.until ?? 0;
  if (role === 'owner') {
    if (names.length > 0 || from !== 0 || until !== 0) throw new HubError('bad-argument', 'an owner sees every camera at any time: --camera, --from and --until are for guests and viewers');
    return { role, scope: null };
  }
  if (names.length === 0) {
    if (role === 'guest') throw new HubError('bad-argument', 'a guest needs --camera NAME (one or more)');
    if (from !== 0 || until !== 0) throw new HubError('bad-argument', '--from and --until go with --camera');
    return { role, scope: null };
  }
  if (names.length > MAX_SCOPE_CAMERAS) throw new HubError('bad-argument', `at most ${MAX_SCOPE_CAMERAS} cameras`);
  const ids: string[] = [];
  for (const name of names) {
    const camera = store.getCamera(name);
    if (camera === undefined || camera.removedAt !== null) throw new HubError('bad-argument', `no camera "${name}"`);
    if (ids.includes(camera.id)) throw new HubError('bad-argument', `camera "${name}" is named twice`);
    ids.push(camera.id);
  }
  if (until !== 0 && until <= now) throw new HubError('bad-argument', '--until is in the past');
  if (until !== 0 && until <= from) throw new HubError('bad-argument', '--until must come after --from');
  const scope: DeviceScope = { cameras: ids, from, until };
  try {
    checkScope(role, rosterScope(scope));
  } catch (e) {
    throw new HubError('bad-argument', e instanceof Error ? e.message : 'not a scope');
  }
  return { role, scope };
}

/**
 * The scope a paired phone gets from `vigil devices scope` (or the Phones screen): checked as an
 * invite's is, for the role it has. Times not given are kept; with no camera (every camera, viewers
 * only) there is no window either.
 */
export function resolveScopeChange(store: Pick<Store, 'getCamera'>, device: Pick<Device, 'role' | 'scope'>, change: ScopeChange, now: number): DeviceScope | null {
  if (device.role === 'owner') throw new HubError('bad-argument', 'an owner sees every camera at any time: only a viewer\'s or a guest\'s cameras can change');
  const kept = change.cameras.length > 0 ? device.scope : null;
  const from = change.from ?? kept?.from ?? 0;
  const until = change.until ?? kept?.until ?? 0;
  return resolveAccess(store, { role: device.role, cameras: change.cameras, from, until }, now).scope;
}

function sameScope(a: DeviceScope | null, b: DeviceScope | null): boolean {
  if (a === null || b === null) return a === b;
  return a.from === b.from && a.until === b.until && a.cameras.length === b.cameras.length && a.cameras.every((c) => b.cameras.includes(c));
}

export interface ScopeChangeParts {
  store: Pick<Store, 'getDevice' | 'getCamera' | 'listCameras' | 'setDeviceScope' | 'transaction' | 'audit'>;
  delivery: Pick<KeyDelivery, 'newEpoch' | 'grant'>;
  rosterLog: Pick<HubRosterLog, 'append'>;
  now?: () => number;
}

/**
 * Changes a paired phone's cameras and window without pairing again (PROTOCOL §16.3), the way a
 * phone is added or removed: a 'role-changed' log entry with the new scope, in the same transaction
 * as the store's change, then a new epoch whose key updates name the roster the log arrives at. A
 * camera taken away is sealed from then on under keys the phone never gets (its recording keys too,
 * if it held them: a recording epoch opens every camera); a camera added reaches it from the new
 * epoch on, nothing captured before sealed again (T3). Its relay capability is granted again, to end
 * at its new `until`. Unchanged: nothing happens (no entry, no epoch).
 */
export async function changePhoneScope(p: ScopeChangeParts, id: string, change: ScopeChange, by: string): Promise<{ device: Device; changed: boolean }> {
  const device = p.store.getDevice(id);
  if (device === undefined || device.revokedAt !== null) throw new HubError('not-found', 'no such phone');
  const now = (p.now ?? Date.now)();
  const scope = resolveScopeChange(p.store, device, change, now);
  if (sameScope(device.scope, scope)) return { device, changed: false };
  const changed = p.store.transaction(() => {
    const d = p.store.setDeviceScope(id, scope);
    // In the log before the new epoch's key updates, which name the roster it arrives at.
    p.rosterLog.append('role-changed', d, by);
    return d;
  });
  const every = p.store.listCameras().map((c) => c.id);
  const before = new Set(device.scope?.cameras ?? every);
  const after = new Set(scope?.cameras ?? every);
  const lost = [...before].some((c) => !after.has(c)) || (mayHoldRecordings(device) && !mayHoldRecordings(changed));
  const gained = [...after].some((c) => !before.has(c)) || (device.scope !== null && scope !== null && (scope.from < device.scope.from || (device.scope.until !== 0 && (scope.until === 0 || scope.until > device.scope.until))));
  // New keys before anything else is sealed: 'device-removed' when it lost something (a new
  // recording epoch it holds no key of, too), else as for a phone added.
  p.delivery.newEpoch(lost ? 'device-removed' : 'device-added', gained);
  p.store.audit('owner', 'scope-changed', {
    device: id, name: changed.name, role: changed.role,
    ...(scope === null ? { cameras: 'all' } : { cameras: scope.cameras, from: scope.from, until: scope.until }),
  });
  await p.delivery.grant(changed);
  return { device: changed, changed: true };
}

/** Actions that name one camera: allowed for a camera in the phone's scope, inside its window. */
const CAMERA_ACTIONS: ReadonlySet<Action> = new Set<Action>(['watch', 'unwatch', 'snapshot', 'ptz']);
/** What a scoped phone may do besides: see its cameras, and fetch the roster log to check its keys. */
const ALWAYS: ReadonlySet<Action> = new Set<Action>(['list-cameras', 'roster-log']);

export interface ScopeCounters {
  notInScope: number;
  outsideWindow: number;
  liveOnly: number;
}

/**
 * Wraps the hub's command handler: a scoped phone's command for another camera, outside its window,
 * or for recordings, events, push, history or settings is refused with a typed code (counted and
 * audited) before any handler sees it; its camera list holds only its cameras (none outside its
 * window). Unscoped phones pass through untouched. Roles are checked before this (crypto/command.ts).
 */
export class ScopeGate {
  readonly counters: ScopeCounters = { notInScope: 0, outsideWindow: 0, liveOnly: 0 };

  constructor(
    private readonly store: Pick<Store, 'getCamera' | 'audit'>,
    private readonly now: () => number = Date.now,
  ) {}

  wrap(inner: CommandHandler): CommandHandler {
    return async (command, device) => {
      const scope = device.scope;
      if (scope === null) return inner(command, device);
      const action = command.action;
      const open = windowState(scope, this.now()) === 'open';
      if (action === 'list-cameras') {
        const listed = await inner(command, device);
        if (!open || !Array.isArray(listed)) return [];
        return listed.filter((c: { id?: unknown }) => typeof c.id === 'string' && scope.cameras.includes(c.id));
      }
      if (ALWAYS.has(action)) return inner(command, device);
      if (!CAMERA_ACTIONS.has(action)) this.#refuse(device, action, 'live-only', 'this phone sees live video of its cameras only');
      if (!open) this.#refuse(device, action, 'outside-window', 'this phone may watch only inside its window');
      const named = (command.args as { camera?: unknown } | null)?.camera;
      const camera = typeof named === 'string' && named.length <= 256 ? this.store.getCamera(named) : undefined;
      // The same answer for a camera outside the scope and one that does not exist: a guest learns
      // nothing of the hub's other cameras, not even their names.
      if (camera === undefined || camera.removedAt !== null || !scope.cameras.includes(camera.id)) {
        this.#refuse(device, action, 'not-in-scope', 'this phone may not see that camera');
      }
      return inner(command, device);
    };
  }

  #refuse(device: Device, action: Action, code: Extract<RefusalCode, 'not-in-scope' | 'outside-window' | 'live-only'>, message: string): never {
    if (code === 'not-in-scope') this.counters.notInScope++;
    else if (code === 'outside-window') this.counters.outsideWindow++;
    else this.counters.liveOnly++;
    this.store.audit(device.id, 'command-refused', { reason: code, action });
    throw new CommandRefused(code, message);
  }
}

/** The longest the window timer sleeps: it looks again at least this often (clock changes, new phones). */
export const MAX_WINDOW_TIMER_MS = 60 * 60 * 1000;

export interface AccessWindowParts {
  store: Pick<Store, 'listDevices'>;
  /** A phone's `from` came while the hub ran: a new epoch it gets keys of, and its relay capability. */
  opened(device: Device): void;
  /** A phone's `until` came (or had passed when the hub started): removed as a revocation is. */
  ended(device: Device): Promise<unknown>;
  log(line: string): void;
  now?: () => number;
}

/**
 * One timer for every window: it wakes at the next `from` or `until` (or after MAX_WINDOW_TIMER_MS),
 * ends what has ended, opens what has begun, and sleeps again. At hub start it runs at once, so a
 * guest whose window ended while the hub was off is removed before the first epoch.
 */
export class AccessWindows {
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Phones seen before their `from` in this run: their window opening starts a new epoch. */
  readonly #waiting = new Set<string>();
  readonly #ending = new Set<string>();
  #stopped = false;

  constructor(private readonly p: AccessWindowParts) {}

  start(): void {
    this.#stopped = false;
    this.check();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Looks at every window now (a phone was added, or the timer fired) and sets the timer again. */
  check(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const now = (this.p.now ?? Date.now)();
    let next = now + MAX_WINDOW_TIMER_MS;
    for (const d of this.p.store.listDevices()) {
      if (d.scope === null) continue;
      const state = windowState(d.scope, now);
      if (state === 'ended') {
        if (this.#ending.has(d.id)) continue;
        this.#ending.add(d.id);
        this.p.log(`phone ${d.id.slice(0, 8)}: its window ended; removing it`);
        void this.p.ended(d).catch((e: unknown) => this.p.log(`ending phone ${d.id.slice(0, 8)} failed: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => this.#ending.delete(d.id));
      } else if (state === 'before') {
        this.#waiting.add(d.id);
        next = Math.min(next, d.scope.from);
      } else {
        if (this.#waiting.delete(d.id)) {
          this.p.log(`phone ${d.id.slice(0, 8)}: its window opened`);
          this.p.opened(d);
        }
        if (d.scope.until !== 0) next = Math.min(next, d.scope.until);
      }
    }
    this.#timer = setTimeout(() => this.check(), Math.max(0, Math.min(next - now, MAX_WINDOW_TIMER_MS)));
    this.#timer.unref();
  }
}
