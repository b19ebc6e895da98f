// The PTZ queue on its own (no camera): order, the per-phone cap, authorisation when an action's
// turn comes, and withdrawal of a removed phone's actions, the running one included.
import { describe, expect, it } from 'vitest';
import { PtzQueue, type PtzAction } from '../../../main/onvif/ptz-queue.ts';
import { isOnvifError } from '../../../main/onvif/errors.ts';

/** An action that runs until released (or aborted), recording what happened. */
function gate(log: string[], name: string): { action: PtzAction; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  return {
    release,
    action: (signal) => {
      log.push(`start ${name}`);
      return new Promise<void>((resolve) => {
        const end = (how: string) => { log.push(`${how} ${name}`); resolve(); };
        signal.addEventListener('abort', () => end('stopped'), { once: true });
        void released.then(() => end('end'));
      });
    },
  };
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isOnvifError(e) ? e.code : `other: ${String(e)}`));
const tick = () => new Promise((r) => setImmediate(r));

describe('PtzQueue', () => {
  it('runs one action at a time per camera, in arrival order', async () => {
    const q = new PtzQueue();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = q.run('phone1', 'cam', () => true, a.action);
    const rb = q.run('phone2', 'cam', () => true, b.action);
    await tick();
    expect(log).toEqual(['start a']);
    a.release();
    await ra;
    await tick();
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.release();
    await rb;
    expect(q.size('cam')).toBe(0);
  });

  it('refuses a phone\'s action over the cap at once, per camera; other phones are not affected', async () => {
    const q = new PtzQueue({ maxPerPhone: 2 });
    const log: string[] = [];
    const gates = Array.from({ length: 5 }, (_, i) => gate(log, String(i)));
    const first = [q.run('thief', 'cam', () => true, gates[0]!.action), q.run('thief', 'cam', () => true, gates[1]!.action)];
    expect(await codeOf(q.run('thief', 'cam', () => true, gates[2]!.action))).toBe('queue-full');
    const other = q.run('owner', 'cam', () => true, gates[3]!.action);
    const otherCamera = q.run('thief', 'cam2', () => true, gates[4]!.action);
    expect(q.size('cam')).toBe(3);
    for (const g of gates) g.release();
    await Promise.all([...first, other, otherCamera]);
    expect(log).not.toContain('start 2');
  });

  it('asks again when an action\'s turn comes: a phone removed meanwhile moves nothing', async () => {
    const q = new PtzQueue();
    const log: string[] = [];
    let allowed = true;
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = q.run('owner', 'cam', () => true, a.action);
    const rb = q.run('thief', 'cam', () => allowed, b.action);
    allowed = false; // e.g. removed by another process that wrote the database
    a.release();
    await ra;
    expect(await codeOf(rb)).toBe('withdrawn');
    expect(log).not.toContain('start b');
  });

  it('withdraw drops a removed phone\'s waiting actions on every camera and stops its running one', async () => {
    const q = new PtzQueue();
    const log: string[] = [];
    const g = ['t1', 't2', 'o1', 't3'].map((n) => gate(log, n));
    const t1 = q.run('thief', 'cam', () => true, g[0]!.action);
    const t2 = q.run('thief', 'cam', () => true, g[1]!.action);
    const o1 = q.run('owner', 'cam', () => true, g[2]!.action);
    const t3 = q.run('thief', 'cam2', () => true, g[3]!.action);
    await tick();
    expect(log).toEqual(['start t1', 'start t3']);
    expect(q.withdraw('thief')).toBe(3);
    expect(await codeOf(t1)).toBe('withdrawn');
    expect(await codeOf(t2)).toBe('withdrawn');
    expect(await codeOf(t3)).toBe('withdrawn');
    await tick();
    expect(log).toEqual(['start t1', 'start t3', 'stopped t1', 'stopped t3', 'start o1']);
    g[2]!.release();
    expect(await codeOf(o1)).toBe('ok');
    expect(q.size('cam') + q.size('cam2')).toBe(0);
    // A withdrawn phone may queue again only if the caller lets it: the queue holds no grudge, the
    // authorisation does.
    expect(await codeOf(q.run('thief', 'cam', () => false, g[1]!.action))).toBe('withdrawn');
  });

  it('close stops what runs and refuses what comes after', async () => {
    const q = new PtzQueue();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = q.run('p', 'cam', () => true, a.action);
    const rb = q.run('p', 'cam', () => true, b.action);
    q.close();
    expect(await codeOf(ra)).toBe('withdrawn');
    expect(await codeOf(rb)).toBe('withdrawn');
    expect(await codeOf(q.run('p', 'cam', () => true, b.action))).toBe('withdrawn');
    expect(log).toEqual(['start a', 'stopped a']);
  });
});
