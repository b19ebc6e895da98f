// What a guest or camera-limited viewer may see, as the roster log every phone checks states it
// (PROTOCOL §16.3): its own entry's cameras and window. Pure: the app's access line and camera
// filter (scope.dom.ts), tested in Node (test/phone/app/scope-words.test.ts).
import type { Role } from '../../../crypto/certificate.ts';
import type { RosterState, ScopeState } from '../../core/roster.ts';

/** Where `now` falls in a scope's window. */
export type WindowState = 'before' | 'open' | 'ended';

/** This phone's own scope in the log it checked; undefined for an unscoped phone, or before the log named it. */
export function ownScope(roster: Pick<RosterState, 'members'>, me: string): ScopeState | undefined {
  return roster.members.find((m) => m.id === me)?.scope;
}

export function windowState(scope: ScopeState, now: number): WindowState {
  if (scope.from !== 0 && now < scope.from) return 'before';
  if (scope.until !== 0 && now >= scope.until) return 'ended';
  return 'open';
}

/**
 * The cameras to offer: the hub lists a scoped phone only its cameras (and none outside its window);
 * the app holds to the log's scope as well, so a camera the log does not give this phone is never
 * offered, whatever a list says.
 */
export function offeredCameras<T extends { readonly id: string }>(cameras: readonly T[], scope: ScopeState | undefined, now: number): T[] {
  if (scope === undefined) return [...cameras];
  if (windowState(scope, now) !== 'open') return [];
  const allowed = new Set(scope.cameras);
  return cameras.filter((c) => allowed.has(c.id));
}

/** The next moment the window opens or closes after `now` (ms), if any: the camera list changes then. */
export function nextBoundary(scope: ScopeState, now: number): number | undefined {
  return [scope.from, scope.until].filter((t) => t !== 0 && t > now).sort((a, b) => a - b)[0];
}

const ROLE_WORD: Record<Role, string> = { owner: 'Owner', viewer: 'Viewer', guest: 'Guest' };

/** A moment in the phone's own time zone, with the date: "Thu 3 Dec, 14:05". */
export function when(ms: number, locale?: string): string {
  return new Date(ms).toLocaleString(locale, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

/**
 * The line a scoped phone shows above its cameras: role, cameras (by name where the hub listed them
 * to it), live only, and the window. Undefined for a phone without limits.
 */
export function accessLine(role: Role, scope: ScopeState | undefined, nameOf: (id: string) => string | undefined, now: number, locale?: string): string | undefined {
  if (scope === undefined) return undefined;
  const names = scope.cameras.map((id) => nameOf(id));
  const known = names.filter((n): n is string => n !== undefined).map((n) => `"${n}"`);
  const unknown = names.length - known.length;
  // Before its window the hub lists a guest no camera, so it cannot name them yet.
  const cameras = [...known, ...(unknown > 0 ? [`${unknown}${known.length > 0 ? ' more' : ''} camera${unknown === 1 ? '' : 's'} (named once your access starts)`] : [])].join(', ');
  const from = scope.from !== 0 ? when(scope.from, locale) : undefined;
  const until = scope.until !== 0 ? when(scope.until, locale) : undefined;
  const state = windowState(scope, now);
  const window = state === 'ended' ? `: your access ended ${until}`
    : state === 'before' ? `, from ${from}${until !== undefined ? ` until ${until}` : ''}`
      : until !== undefined ? `, until ${until}` : ', with no end date';
  return `${ROLE_WORD[role]} access to ${cameras}, live only${window}.`;
}
