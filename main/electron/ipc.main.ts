// The Electron side of the bridge: one ipcMain handler per call of the shared contract, answered by
// the same route table as the local HTTP API (so validation and errors are the same in both modes),
// plus live tiles sent as events. Only the app's own page may call; in-flight calls are counted so
// quitting can wait for them.
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import {
  CALL_CHANNELS, CALL_NAMES, LIVE_CHANNELS, apiRequestFor, discoveryFromApi, fail, ok,
  type CallArgs, type CallName, type LiveEvent, type Result,
} from '../../renderer/bridge.ts';
import type { Hub } from '../hub.ts';
import { ApiError, type ApiRoute } from '../local-api.ts';
import { apiRoutes } from '../api-routes.ts';

/** Runs a request against the route table in-process, as local-api.ts would over HTTP. */
export async function callRoute(routes: readonly ApiRoute[], method: string, pathAndQuery: string, body?: unknown): Promise<Result<unknown>> {
  const url = new URL(pathAndQuery, 'http://localhost');
  const route = routes.find((r) => r.method === method && r.path.test(url.pathname));
  if (route === undefined) return fail('no such route');
  try {
    return ok(await route.handler(route.path.exec(url.pathname)?.groups ?? {}, body, url.searchParams));
  } catch (e) {
    if (e instanceof ApiError) return fail(e.message);
    return fail(e instanceof Error ? e.message : String(e));
  }
}

export interface HubIpc {
  /** Resolves when every call in flight has answered (for a clean quit). */
  drain(timeoutMs: number): Promise<void>;
  dispose(): void;
}

export function registerHubIpc(ipcMain: IpcMain, hub: Hub, isAppPage: (event: IpcMainInvokeEvent) => boolean): HubIpc {
  const routes = apiRoutes(hub);
  const inFlight = new Set<Promise<unknown>>();
  const streams = new Map<number, { stop: () => void; owner: WebContents }>();
  let nextStream = 1;

  function track<T>(p: Promise<T>): Promise<T> {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  for (const name of CALL_NAMES) {
    ipcMain.handle(CALL_CHANNELS[name], (event, ...args: unknown[]) => {
      if (!isAppPage(event)) return fail('refused: not the hub window');
      return track((async () => {
        const req = apiRequestFor(name, ...(args as CallArgs<CallName>));
        const r = await callRoute(routes, req.method, req.path, req.body);
        return name === 'discovery' ? discoveryFromApi(r) : r;
      })());
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
      const stop = hub.watchLocal(cameraId, {
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
      for (const s of streams.values()) s.stop();
      streams.clear();
    },
  };
}
