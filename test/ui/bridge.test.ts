// The bridge contract against the hub: every call of contract/hub-ui.ts has an argument check and is
// run by HubService through both adapters. The Electron side (ipc.main.ts, run here with a stand-in
// ipcMain: no Electron binary is needed) and the local HTTP API (through the UI's own HttpBridge)
// give the same answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CALL_CHANNELS, CALL_NAMES, LIVE_CHANNELS, callPath, isCallName, type CallName, type LiveEvent, type Result } from '../../contract/hub-ui.ts';
import { LOCAL_CALL_NAMES, UI_CALLS, isLocalCallName, runLocalCall, runUiCall } from '../../main/api/calls.ts';
import { isHubError } from '../../main/api/errors.ts';
import type { HubService } from '../../main/api/service.ts';
import { Hub } from '../../main/hub.ts';
import { registerHubIpc } from '../../main/electron/ipc.main.ts';
import { HttpBridge } from '../../renderer/bridge-http.ts';

/** A service that records what reaches it: nothing may, when the arguments are wrong. */
function recordingService(): { service: HubService; seen: [string, unknown[]][] } {
  const seen: [string, unknown[]][] = [];
  const service = new Proxy({}, {
    get: (_t, name) => async (...args: unknown[]) => {
      seen.push([String(name), args]);
      return null;
    },
  }) as HubService;
  return { service, seen };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isHubError(e, 'bad-argument')) return e.message;
    throw e;
  }
  throw new Error('the call went through');
}

describe('the bridge contract', () => {
  it('checks the arguments of every call of the contract, and the local API serves each of them', () => {
    expect(Object.keys(UI_CALLS).sort()).toEqual([...CALL_NAMES].sort());
    for (const name of CALL_NAMES) expect(LOCAL_CALL_NAMES).toContain(name);
    expect(new Set(Object.values(CALL_CHANNELS)).size).toBe(CALL_NAMES.length);
  });

  it('refuses wrong arguments before the service sees them', async () => {
    const { service, seen } = recordingService();
    expect(await refusal(runUiCall(service, 'renameCamera', ['id', '']))).toBe('missing "name"');
    expect(await refusal(runUiCall(service, 'renameCamera', ['id', 'x'.repeat(5000)]))).toBe('"name" is too long');
    expect(await refusal(runUiCall(service, 'addCamera', [null]))).toMatch(/missing the camera/);
    expect(await refusal(runUiCall(service, 'addCamera', [{ name: 'x' }]))).toBe('missing "url"');
    expect(await refusal(runUiCall(service, 'revokePhone', ['../devices']))).toBe('"id" must be 32 hex digits');
    expect(await refusal(runUiCall(service, 'approveInvite', ['a'.repeat(32), 'admin']))).toBe('role must be owner, viewer or guest');
    expect(await refusal(runUiCall(service, 'audit', ['1000']))).toBe('"limit" must be a number');
    expect(await refusal(runLocalCall(service, 'setLan', ['yes']))).toBe('missing "enabled" (true or false)');
    expect(seen).toEqual([]);
    // A test-pattern camera needs no URL; extra arguments are dropped.
    await runUiCall(service, 'addCamera', [{ name: 'P', kind: 'test-pattern' }, 'extra']);
    expect(seen.pop()).toEqual(['addCamera', [{ name: 'P', url: 'test-pattern:', kind: 'test-pattern' }]]);
  });

  it('gives the Electron page the UI\'s calls only: no invite lifetime, no LAN switch', async () => {
    const { service, seen } = recordingService();
    await runUiCall(service, 'createInvite', [5]);
    expect(seen.pop()).toEqual(['createInvite', []]);
    await runLocalCall(service, 'createInvite', [120]);
    expect(seen.pop()).toEqual(['createInvite', [120]]);
    expect(isCallName('setLan')).toBe(false);
    expect(isLocalCallName('setLan')).toBe(true);
    // Names of Object.prototype are no calls, on either side.
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(isCallName(name), name).toBe(false);
      expect(isLocalCallName(name), name).toBe(false);
    }
  });
});

function value<T>(r: Result<unknown>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value as T;
}

describe('the two adapters, in-process: Electron IPC and the local HTTP API', () => {
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
  type Caller = (name: CallName, ...args: unknown[]) => Promise<Result<unknown>>;
  const call: Caller = (name, ...args) => handlers.get(CALL_CHANNELS[name])!(appEvent, ...args) as Promise<Result<unknown>>;
  let bridge: HttpBridge;
  const callHttp: Caller = (name, ...args) => (bridge[name] as (...a: unknown[]) => Promise<Result<unknown>>).call(bridge, ...args);
  const post = (name: string, body: string | undefined) => fetch(hub.apiUrl + callPath(name), {
    method: 'POST', headers: { authorization: `Bearer ${hub.apiToken}` }, ...(body === undefined ? {} : { body }),
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-ipc-'));
    hub = await Hub.start({ dataDir: dir, relays: [], apiHost: '127.0.0.1', apiPort: 0 });
    registerHubIpc(fakeIpc, hub, (e) => (e as unknown as { senderFrame: { url: string } }).senderFrame.url.startsWith('vigil-app://hub/'));
    bridge = new HttpBridge(hub.apiToken, hub.apiUrl);
  }, 30_000);

  afterAll(async () => {
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers one handler per call and the live channels', () => {
    for (const name of CALL_NAMES) expect(handlers.has(CALL_CHANNELS[name])).toBe(true);
    expect(handlers.has(LIVE_CHANNELS.open) && handlers.has(LIVE_CHANNELS.close)).toBe(true);
  });

  it.each([['IPC', () => call], ['HTTP', () => callHttp]] as const)('answers the same over %s, with {ok,value} or {ok:false,error}', async (_, caller) => {
    const call = caller();
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
    expect(await call('removeCamera', id)).toEqual({ ok: false, error: 'no such camera' });
    expect(await call('renameCamera', id, '')).toEqual({ ok: false, error: 'missing "name"' });
  });

  it('maps each HubError code to its HTTP status, and runs only the calls of the table', async () => {
    const answer = async (res: Response) => [res.status, await res.json()];
    expect(await answer(await post('revokePhone', JSON.stringify({ args: ['b'.repeat(32)] })))).toEqual([404, { error: 'no such phone', code: 'not-found' }]);
    expect(await answer(await post('renameCamera', JSON.stringify({ args: ['x', ''] })))).toEqual([400, { error: 'missing "name"', code: 'bad-argument' }]);
    expect(await answer(await post('setLan', JSON.stringify({ args: [false] })))).toEqual([409, { error: 'this hub was started without --lan', code: 'conflict' }]);
    expect(await answer(await post('status', undefined))).toMatchObject([200, { keyProtection: 'file', lan: null }]);
    expect(await answer(await post('status', '{"args": "no"}'))).toEqual([400, { error: 'the body must be {"args": [...]}' }]);
    expect(await answer(await post('status', '{'))).toEqual([400, { error: 'request body is not JSON' }]);
    expect(await answer(await post('status', JSON.stringify({ args: ['x'.repeat(70_000)] })))).toEqual([413, { error: 'request body too large' }]);
    expect(await answer(await post('constructor', '{"args": []}'))).toEqual([404, { error: 'no such call: constructor' }]);
    const get = await fetch(hub.apiUrl + callPath('status'), { headers: { authorization: `Bearer ${hub.apiToken}` } });
    expect(await answer(get)).toEqual([404, { error: 'no such route' }]);
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
