// The Electron side of the bridge: one ipcMain handler per call of the contract (contract/hub-ui.ts),
// each a thin adapter over the same HubService as the local HTTP API (main/api/calls.ts checks the
// arguments, so validation and errors are the same in both modes), plus live tiles sent as events.
// Only the app's own page may call; in-flight calls are counted so quitting can wait for them.
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import {
  CALL_CHANNELS, CALL_NAMES, CLIP_CHANNEL, CLIP_ID, LIVE_CHANNELS, fail, ok, type CallName, type CallValue, type LiveEvent, type Result,
} from '../../contract/hub-ui.ts';
import type { Hub } from '../hub.ts';
import { runUiCall } from '../api/calls.ts';

export interface HubIpc {
  /** Resolves when every call in flight has answered (for a clean quit). */
  drain(timeoutMs: number): Promise<void>;
  dispose(): void;
}

export function registerHubIpc(ipcMain: IpcMain, hub: Hub, isAppPage: (event: IpcMainInvokeEvent) => boolean): HubIpc {
  const inFlight = new Set<Promise<unknown>>();
  const streams = new Map<number, { stop: () => void; owner: WebContents }>();
  let nextStream = 1;

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Any failure becomes `{ok: false, error}`: the message of the HubError (or whatever threw). */
  async function answer<K extends CallName>(name: K, args: readonly unknown[]): Promise<Result<CallValue<K>>> {
    try {
      return ok(await runUiCall(hub.service, name, args));
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
  }

  for (const name of CALL_NAMES) {
    ipcMain.handle(CALL_CHANNELS[name], (event, ...args: unknown[]) => {
      if (!isAppPage(event)) return fail('refused: not the hub window');
      return track(answer(name, args));
    });
  }

  ipcMain.handle(LIVE_CHANNELS.open, (event, cameraId: unknown): Result<{ streamId: number }> => {
    if (!isAppPage(event)) return fail('refused: not the hub window');
    if (typeof cameraId !== 'string' || cameraId.length > 64) return fail('bad camera id');
    const streamId = nextStream++;
    const owner = event.sender;
    const send = (e: LiveEvent) => {
      if (!owner.isDestroyed()) owner.send(LIVE_CHANNELS.event, streamId, e);
    };
    try {
      const stop = hub.cameras.watchLocal(cameraId, {
        onInit: (data, mime) => {
          send({ type: 'init', mime });
          send({ type: 'data', chunk: data });
        },
        onFragment: (data) => send({ type: 'data', chunk: data }),
        onEnd: () => {
          streams.delete(streamId);
          send({ type: 'end' });
        },
      });
      streams.set(streamId, { stop, owner });
      owner.once('destroyed', () => {
        streams.get(streamId)?.stop();
        streams.delete(streamId);
      });
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
    return ok({ streamId });
  });

  // A played recording's MP4, from the hub's memory to the page, once (RecordingClip.clip).
  ipcMain.handle(CLIP_CHANNEL, (event, clip: unknown): Result<Uint8Array> => {
    if (!isAppPage(event)) return fail('refused: not the hub window');
    const bytes = typeof clip === 'string' && CLIP_ID.test(clip) ? hub.service.takeClip(clip) : undefined;
    return bytes === undefined ? fail('no such clip (taken already, or older than a minute): play it again') : ok(bytes);
  });

  ipcMain.handle(LIVE_CHANNELS.close, (event, streamId: unknown) => {
    const s = typeof streamId === 'number' ? streams.get(streamId) : undefined;
    if (s === undefined || s.owner !== event.sender) return;
    s.stop();
    streams.delete(streamId as number);
  });

  return {
    async drain(timeoutMs) {
      const deadline = new Promise((r) => setTimeout(r, timeoutMs));
      await Promise.race([Promise.allSettled([...inFlight]), deadline]);
    },
    dispose() {
      for (const name of CALL_NAMES) ipcMain.removeHandler(CALL_CHANNELS[name]);
      ipcMain.removeHandler(LIVE_CHANNELS.open);
      ipcMain.removeHandler(LIVE_CHANNELS.close);
      ipcMain.removeHandler(CLIP_CHANNEL);
      for (const s of streams.values()) s.stop();
      streams.clear();
    },
  };
}
