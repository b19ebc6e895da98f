// What a scoped phone's app offers and says (phone/app/src/scope.ts), in Node: the cameras a scope
// gives, inside and outside its window, and the access line's words.
import { describe, expect, it } from 'vitest';
import { accessLine, nextBoundary, offeredCameras, ownScope, when, windowState } from '../../../phone/app/src/scope.ts';

const FRONT = 'a'.repeat(32);
const BACK = 'b'.repeat(32);
const cameras = [{ id: FRONT, name: 'Front door' }, { id: BACK, name: 'Back yard' }];
const nameOf = (id: string) => cameras.find((c) => c.id === id)?.name;
const T = Date.UTC(2026, 11, 3, 12, 0, 0);

describe('a scoped phone\'s cameras and words', () => {
  it('offers only the scope\'s cameras, and none outside its window', () => {
    const scope = { cameras: [FRONT], from: T, until: T + 3600_000 };
    expect(offeredCameras(cameras, undefined, T)).toEqual(cameras);
    expect(offeredCameras(cameras, scope, T - 1)).toEqual([]);
    expect(offeredCameras(cameras, scope, T)).toEqual([cameras[0]]);
    expect(offeredCameras(cameras, scope, T + 3600_000)).toEqual([]);
    expect(offeredCameras(cameras, { cameras: [FRONT], from: 0, until: 0 }, 0)).toEqual([cameras[0]]);
    expect([windowState(scope, T - 1), windowState(scope, T), windowState(scope, T + 3600_000)]).toEqual(['before', 'open', 'ended']);
    expect([nextBoundary(scope, T - 1), nextBoundary(scope, T), nextBoundary(scope, T + 3600_000)]).toEqual([T, T + 3600_000, undefined]);
  });

  it('finds its own entry in the roster log', () => {
    const scope = { cameras: [FRONT], from: 0, until: T };
    const roster = { members: [{ id: 'me', role: 'guest' as const, name: 'Guest', scope }, { id: 'other', role: 'owner' as const, name: 'Anna' }] };
    expect(ownScope(roster, 'me')).toBe(scope);
    expect(ownScope(roster, 'other')).toBeUndefined();
    expect(ownScope(roster, 'nobody')).toBeUndefined();
  });

  it('says role, cameras by name, live only, and the window', () => {
    expect(accessLine('viewer', undefined, nameOf, T)).toBeUndefined();
    expect(accessLine('guest', { cameras: [FRONT], from: 0, until: T + 60_000 }, nameOf, T))
      .toBe(`Guest access to "Front door", live only, until ${when(T + 60_000)}.`);
    expect(accessLine('viewer', { cameras: [FRONT, BACK], from: 0, until: 0 }, nameOf, T))
      .toBe('Viewer access to "Front door", "Back yard", live only, with no end date.');
    expect(accessLine('guest', { cameras: [BACK], from: T + 1, until: T + 2 }, () => undefined, T))
      .toBe(`Guest access to 1 camera (named once your access starts), live only, from ${when(T + 1)} until ${when(T + 2)}.`);
    expect(accessLine('guest', { cameras: [FRONT, 'c'.repeat(32)], from: 0, until: T }, nameOf, T))
      .toBe(`Guest access to "Front door", 1 more camera (named once your access starts), live only: your access ended ${when(T)}.`);
  });
});
