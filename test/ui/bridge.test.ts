// The bridge contract against the hub: every call maps onto one route of the local API, and the
// Electron side (ipc.main.ts, run here with a stand-in ipcMain: no Electron binary is needed) gives
// the same answers as the HTTP API through the same route table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CALL_CHANNELS, CALL_NAMES, LIVE_CHANNELS, apiRequestFor, type ApiRequest, type CallName, type LiveEvent, type Result } from '../../renderer/bridge.ts';
import { apiRoutes } from '../../main/api-routes.ts';
import { Hub } from '../../main/hub.ts';
import { registerHubIpc } from '../../main/electron/ipc.main.ts';

const SAMPLE_ARGS: { [K in CallName]: unknown[] } = {
  status: [], listCameras: [], addCamera: [{ name: 'x', url: 'rtsp://h/' }], renameCamera: ['id', 'n'], removeCamera: ['id'],
  discovery: [], createInvite: [], inviteStatus: ['a'.repeat(32)], approveInvite: ['a'.repeat(32), 'owner'],
  refuseInvite: ['a'.repeat(32)], listPhones: [], revokePhone: ['a'.repeat(32)], relay: [], audit: [50],
};

describe('the bridge contract', () => {
  it('maps every call onto exactly one route of the local API (discovery is optional)', () => {
    const routes = apiRoutes({} as Hub);
    for (const name of CALL_NAMES) {
      const req = (apiRequestFor as (n: CallName, ...a: unknown[]) => ApiRequest)(name, ...SAMPLE_ARGS[name]);
      const path = new URL(req.path, 'http://x').pathname;
      const hits = routes.filter((r) => r.method === req.method && r.path.test(path));
      expect(hits.length, `${name} → ${req.method} ${req.path}`).toBe(name === 'discovery' ? hits.length : 1);
    }
    expect(new Set(Object.values(CALL_CHANNELS)).size).toBe(CALL_NAMES.length);
  });

  it('escapes ids into one path segment', () => {
    expect(apiRequestFor('removeCamera', '../devices').path).toBe('/api/cameras/..%2Fdevices');
    expect(apiRequestFor('audit', 1e9).path).toBe('/api/audit?limit=1000');
  });
});

function value<T>(r: Result<unknown>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value as T;
}

describe('the Electron IPC side, in-process', () => {
  let dir: string;
  let hub: Hub;
  const handlers = new Map<string, (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown>();
  const fakeIpc = {
    handle: (channel: string, fn: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown) => handlers.set(channel, fn),
    removeHandler: (channel: string) => handlers.delete(channel),
  } as unknown as IpcMain;
  const sent: [number, LiveEvent][] = [];
  const sender = { isDestroyed: () => false, send: (_c: string, id: number, e: LiveEvent) => sent.push([id, e]), once: () => undefined };
  const appEvent = { sender, senderFrame: { url: 'vigil-app://hub/' } } as unknown as IpcMainInvokeEvent;
  const strangerEvent = { sender: {}, senderFrame: { url: 'https://evil.example/' } } as unknown as IpcMainInvokeEvent;
  const call = (name: CallName, ...args: unknown[]) => handlers.get(CALL_CHANNELS[name])!(appEvent, ...args) as Promise<Result<unknown>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-ipc-'));
    hub = await Hub.start({ dataDir: dir, relays: [], apiHost: '127.0.0.1', apiPort: 0 });
    registerHubIpc(fakeIpc, hub, (e) => (e as unknown as { senderFrame: { url: string } }).senderFrame.url.startsWith('vigil-app://hub/'));
  }, 30_000);

  afterAll(async () => {
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers one handler per call and the live channels', () => {
    for (const name of CALL_NAMES) expect(handlers.has(CALL_CHANNELS[name])).toBe(true);
    expect(handlers.has(LIVE_CHANNELS.open) && handlers.has(LIVE_CHANNELS.close)).toBe(true);
  });

  it('answers like the HTTP API, with {ok,value} or {ok:false,error}', async () => {
    const status = await call('status');
    expect(status.ok && (status.value as { keyProtection: string }).keyProtection).toBe('file');
    expect(await call('discovery')).toEqual({ ok: true, value: null });
    const bad = await call('addCamera', { name: 'x', url: 'ftp://nope' });
    expect(bad.ok).toBe(false);
    const added = await call('addCamera', { name: 'Pattern', url: 'test-pattern:', kind: 'test-pattern' });
    expect(added.ok).toBe(true);
    const id = value<{ id: string }>(added).id;
    expect(await call('renameCamera', id, 'Garden')).toMatchObject({ ok: true, value: { name: 'Garden' } });
    expect(await call('relay')).toEqual({ ok: true, value: { url: null, state: 'none', problem: null, phonesOnline: 0, watchingNow: 0 } });
    expect(await call('revokePhone', 'b'.repeat(32))).toEqual({ ok: false, error: 'no such phone' });
    expect(await call('removeCamera', id)).toEqual({ ok: true, value: { removed: true } });
  });

  it('refuses calls from any page but the app', async () => {
    const r = await handlers.get(CALL_CHANNELS.listCameras)!(strangerEvent);
    expect(r).toEqual({ ok: false, error: 'refused: not the hub window' });
    expect(await handlers.get(LIVE_CHANNELS.open)!(strangerEvent, 'x')).toMatchObject({ ok: false });
  });

  it('opens and closes live streams for known cameras only', async () => {
    expect(await handlers.get(LIVE_CHANNELS.open)!(appEvent, 'no-such-camera')).toEqual({ ok: false, error: 'no such camera' });
    const added = await call('addCamera', { name: 'Live', url: 'test-pattern:', kind: 'test-pattern' });
    const id = value<{ id: string }>(added).id;
    const opened = (await handlers.get(LIVE_CHANNELS.open)!(appEvent, id)) as Result<{ streamId: number }>;
    expect(opened.ok).toBe(true);
    await call('removeCamera', id);
    const streamId = opened.ok ? opened.value.streamId : -1;
    expect(sent.some(([sid, e]) => sid === streamId && e.type === 'end')).toBe(true);
  });
});
