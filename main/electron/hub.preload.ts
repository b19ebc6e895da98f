// The window's preload: exposes exactly one object, `window.vigilHub` (PreloadApi from the shared
// contract), and nothing of ipcRenderer itself. Sandboxed preloads cannot load files, so this is
// bundled (main/electron/build.ts) together with the contract's constants. (Electron entry files may
// import the contract in renderer/bridge.ts; the rest of main/ may not.)
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CALL_CHANNELS, CALL_NAMES, LIVE_CHANNELS, PRELOAD_GLOBAL, fail, type CallName, type LiveEvent, type PreloadApi, type Result } from '../../renderer/bridge.ts';

const known = new Set<string>(CALL_NAMES);

const api: PreloadApi = {
  invoke(name, ...args) {
    // Only the calls of the contract: a compromised page cannot reach any other channel.
    if (!known.has(name)) return Promise.resolve(fail(`unknown call ${String(name)}`)) as never;
    return ipcRenderer.invoke(CALL_CHANNELS[name as CallName], ...args);
  },
  openLive(cameraId) {
    return ipcRenderer.invoke(LIVE_CHANNELS.open, String(cameraId)) as Promise<Result<{ streamId: number }>>;
  },
  closeLive(streamId) {
    void ipcRenderer.invoke(LIVE_CHANNELS.close, Number(streamId));
  },
  onLive(listener) {
    const wrapped = (_e: IpcRendererEvent, streamId: number, event: LiveEvent) => listener(streamId, event);
    ipcRenderer.on(LIVE_CHANNELS.event, wrapped);
    return () => ipcRenderer.removeListener(LIVE_CHANNELS.event, wrapped);
  },
};

contextBridge.exposeInMainWorld(PRELOAD_GLOBAL, api);
