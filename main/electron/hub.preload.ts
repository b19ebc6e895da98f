// The window's preload: exposes exactly one object, `window.vigilHub` (PreloadApi from the shared
// contract), and nothing of ipcRenderer itself. Sandboxed preloads cannot load files, so this is
// bundled (main/electron/build.ts) together with the contract's constants (contract/hub-ui.ts).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CALL_CHANNELS, CLIP_CHANNEL, LIVE_CHANNELS, PRELOAD_GLOBAL, fail, isCallName, type LiveEvent, type PreloadApi, type Result } from '../../contract/hub-ui.ts';

const api: PreloadApi = {
  invoke(name, ...args) {
    // Only the calls of the contract: a compromised page cannot reach any other channel.
    if (!isCallName(name)) return Promise.resolve(fail(`unknown call ${String(name)}`));
    return ipcRenderer.invoke(CALL_CHANNELS[name], ...args);
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
  recordingClip(clip) {
    return ipcRenderer.invoke(CLIP_CHANNEL, String(clip)) as Promise<Result<Uint8Array>>;
  },
};

contextBridge.exposeInMainWorld(PRELOAD_GLOBAL, api);
