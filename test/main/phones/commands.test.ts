// Phone commands, typed (crypto/phone-commands.ts, main/phones/commands/): what the hub reads from a
// phone's signed JSON before any handler runs, the refusal codes, and the compile-time promise that
// a handler table missing an action, or a handler answering the wrong shape, does not typecheck
// (the @ts-expect-error lines fail `npm run typecheck` the day that stops being true).
import { beforeAll, describe, expect, it } from 'vitest';
import { cryptoReady } from '../../../crypto/sodium.ts';
import type { Command } from '../../../crypto/command.ts';
import { CommandRefused, READ_ARGS, readRefusal } from '../../../crypto/phone-commands.ts';
import { dispatch, type Handler, type Handlers } from '../../../main/phones/commands/handlers.ts';
import type { Device } from '../../../main/store/db.ts';

function refusalOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof CommandRefused ? e.code : `not a refusal: ${String(e)}`;
  }
  return undefined;
}

const answers: Handlers = {
  'list-cameras': async () => [],
  watch: async (args) => ({ ok: true, epoch: 7, hubTime: 1, ...(args.profile ? { profile: args.profile } : {}) }),
  unwatch: async () => ({ ok: true }),
  snapshot: async (args, { seq }) => ({ blob: `${args.camera}:${seq}`, chunks: 0, bytes: 0, type: 'image/jpeg' }),
  ptz: async () => ({ ok: true }),
  settings: async () => {
    throw new CommandRefused('settings-on-hub', 'settings are changed on the hub');
  },
  'recording-keys': async (args) => ({ keys: args.since !== undefined ? [] : [{ epoch: 'e', sealed: 's' }] }),
  recordings: async () => ({ ranges: [], segments: [], mode: 'off' }),
  segment: async (args) => ({ blob: args.id, chunks: 0, bytes: 0 }),
  'roster-log': async ({ since }) => ({ entries: [], length: since }),
  'device-certificate': async ({ device }) => ({ certificate: device }),
  'share-history': async (args) => ({ stored: args.keys.length, held: 0 }),
  events: async (args) => ({ events: args.after !== undefined ? [] : [{ id: 1, sealed: 's' }], more: false }),
  'event-image': async ({ id }) => ({ id, sealed: 's' }),
  'push-subscribe': async (args) => ({ vapidKey: 'k', subscribed: true, prefs: args.prefs }),
  'push-unsubscribe': async () => ({ ok: true }),
  'push-settings': async (args) => ({ vapidKey: 'k', subscribed: false, prefs: args.prefs ?? { cooldownSeconds: 60, awayOnly: false } }),
  backup: async ({ offset }) => ({ id: 'i', total: 0, offset, data: '', version: 'v' }),
};

// @ts-expect-error a table without a handler for every action does not compile
const missingPtz: Handlers = { ...answers, ptz: undefined };
// @ts-expect-error a watch answer without the hub's clock does not compile
const noHubTime: Handler<'watch'> = async () => ({ ok: true, epoch: 1 });
// @ts-expect-error a snapshot handler cannot answer a camera list
const wrongShape: Handler<'snapshot'> = async () => [];
void [missingPtz, noHubTime, wrongShape];

function command(action: Command['action'], args: unknown, seq = 5n): Command {
  return { version: 1, hubId: new Uint8Array(16), deviceId: new Uint8Array(16), seq, issuedAt: 0, action, args };
}
const device = { id: 'ab'.repeat(16) } as Device;

describe('phone command arguments, as the hub reads them', () => {
  it('watch: a camera id and at most the h264 profile', () => {
    expect(READ_ARGS.watch({ camera: 'c1' })).toEqual({ camera: 'c1' });
    expect(READ_ARGS.watch({ camera: 'c1', profile: 'h264' })).toEqual({ camera: 'c1', profile: 'h264' });
    expect(refusalOf(() => READ_ARGS.watch({ camera: 'c1', profile: 'h265' }))).toBe('no-such-profile');
    // No camera, or not a string: it names no camera (the handler refuses no-such-camera).
    expect(READ_ARGS.watch({ camera: 42 })).toEqual({ camera: '' });
    expect(READ_ARGS.watch(null)).toEqual({ camera: '' });
    expect(READ_ARGS.watch(['c1'])).toEqual({ camera: '' });
  });

  it('ptz: each argument of its type, or bad-arguments', () => {
    expect(READ_ARGS.ptz({ camera: 'c', move: [0.5, 0, 0], seconds: 1 })).toEqual({ camera: 'c', move: [0.5, 0, 0], seconds: 1 });
    expect(READ_ARGS.ptz({ camera: 'c', stop: true })).toEqual({ camera: 'c', stop: true });
    expect(READ_ARGS.ptz({ camera: 'c', preset: 2 })).toEqual({ camera: 'c', preset: 2 });
    for (const bad of [{ move: [1, 2] }, { move: ['1', 0, 0] }, { move: 'left' }, { seconds: '3' }, { stop: 'yes' }, { preset: { a: 1 } }]) {
      expect(refusalOf(() => READ_ARGS.ptz({ camera: 'c', ...bad })), JSON.stringify(bad)).toBe('bad-arguments');
    }
  });

  it('recordings: times in Unix ms, segment ids as decimal text', () => {
    expect(READ_ARGS.recordings({ camera: 'c', from: 1, to: 2 })).toEqual({ camera: 'c', from: 1, to: 2 });
    expect(refusalOf(() => READ_ARGS.recordings({ camera: 'c', from: '2026-01-01' }))).toBe('bad-arguments');
    expect(READ_ARGS.segment({ camera: 'c', id: '18446744073709551615' })).toEqual({ camera: 'c', id: '18446744073709551615' });
    for (const id of [7, '-1', '1e3', '../x', '1'.repeat(21)]) expect(refusalOf(() => READ_ARGS.segment({ camera: 'c', id })), String(id)).toBe('bad-arguments');
    expect(READ_ARGS['recording-keys']({ since: 4 })).toEqual({ since: 4 });
    expect(refusalOf(() => READ_ARGS['recording-keys']({ since: -1 }))).toBe('bad-arguments');
  });

  it('extra fields never reach a handler', () => {
    expect(READ_ARGS.snapshot({ camera: 'c', path: '/etc/passwd' })).toEqual({ camera: 'c' });
    expect(READ_ARGS['list-cameras']({ anything: 1 })).toBeNull();
  });
});

describe('dispatch', () => {
  const handle = dispatch(answers);

  it('hands each handler its arguments as read, and the command sequence number', async () => {
    expect(await handle(command('snapshot', { camera: 'c9', extra: 1 }, 77n), device)).toEqual({ blob: 'c9:77', chunks: 0, bytes: 0, type: 'image/jpeg' });
    expect(await handle(command('watch', { camera: 'c', profile: 'h264' }), device)).toMatchObject({ profile: 'h264', hubTime: 1 });
  });

  it('refuses with a code, before the handler, when the arguments are wrong', async () => {
    await expect(handle(command('watch', { camera: 'c', profile: 'x' }), device)).rejects.toMatchObject({ code: 'no-such-profile' });
    await expect(handle(command('settings', null), device)).rejects.toMatchObject({ code: 'settings-on-hub' });
  });
});

describe('a refusal off the wire', () => {
  it('reads the code and message; a bare string (an older hub) is "failed"', () => {
    expect(readRefusal({ code: 'no-such-camera', message: 'no such camera' })).toEqual({ code: 'no-such-camera', message: 'no such camera' });
    expect(readRefusal('refused: forbidden')).toEqual({ code: 'failed', message: 'refused: forbidden' });
    expect(readRefusal({ code: 3 })).toEqual({ code: 'failed', message: 'the hub refused the command' });
    expect(readRefusal(null).code).toBe('failed');
  });
});

describe('push commands\' arguments (PROTOCOL §17.3)', () => {
  const p256dh = `B${'A'.repeat(86)}`; // 65 bytes starting 0x04
  const auth = 'A'.repeat(22); // 16 bytes
  const endpoint = 'https://push.example.com/send/abc';
  beforeAll(cryptoReady);

  it('reads a subscription with its preferences, defaults filled', () => {
    expect(READ_ARGS['push-subscribe']({ endpoint, p256dh, auth })).toEqual({ endpoint, p256dh, auth, prefs: { cooldownSeconds: 60, awayOnly: false } });
    const prefs = { cameras: ['0'.repeat(32)], kinds: ['motion', 'person'], quiet: { from: 1320, to: 420, utcOffset: 60 }, cooldownSeconds: 0, awayOnly: true };
    expect(READ_ARGS['push-subscribe']({ endpoint, p256dh, auth, prefs }).prefs).toEqual(prefs);
    expect(READ_ARGS['push-settings']({})).toEqual({});
  });

  it('refuses bad shapes and bounds as bad-arguments', () => {
    for (const bad of [
      { endpoint: 'x'.repeat(1025), p256dh, auth },
      { endpoint: 7, p256dh, auth },
      { endpoint, p256dh: 'A'.repeat(87), auth },
      { endpoint, p256dh: `B${'A'.repeat(85)}`, auth },
      { endpoint, p256dh, auth: 'A'.repeat(21) },
      { endpoint, p256dh, auth: 'A!'.repeat(11) },
      { endpoint, p256dh, auth, prefs: { kinds: ['ghost'] } },
      { endpoint, p256dh, auth, prefs: { cameras: ['Front door'] } },
      { endpoint, p256dh, auth, prefs: { cameras: Array.from({ length: 65 }, () => '0'.repeat(32)) } },
      { endpoint, p256dh, auth, prefs: { quiet: { from: 1440, to: 0 } } },
      { endpoint, p256dh, auth, prefs: { cooldownSeconds: 86_401 } },
      { endpoint, p256dh, auth, prefs: { awayOnly: 'yes' } },
    ]) expect(refusalOf(() => READ_ARGS['push-subscribe'](bad))).toBe('bad-arguments');
  });
});
