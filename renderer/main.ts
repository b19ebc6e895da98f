// Entry: picks the bridge (Electron's preload object, or the local HTTP API with the token from the
// link the hub printed) and starts the UI.
import { PRELOAD_GLOBAL, type PreloadApi } from '../contract/hub-ui.ts';
import type { HubBridge } from './bridge.ts';
import { HttpBridge } from './bridge-http.ts';
import { IpcBridge } from './bridge-ipc.ts';
import { startApp } from './app.ts';

const TOKEN_KEY = 'vigil-hub-token';

function httpToken(): string {
  const url = new URL(location.href);
  const fromLink = url.searchParams.get('token');
  if (fromLink !== null) {
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    // Out of the address bar, history and screenshots; the tab keeps it for reloads.
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromLink;
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function pickBridge(): HubBridge {
  const preload = (window as unknown as Record<string, PreloadApi | undefined>)[PRELOAD_GLOBAL];
  if (preload !== undefined) return new IpcBridge(preload);
  return new HttpBridge(httpToken());
}

const root = document.getElementById('app');
if (root !== null) startApp(root, pickBridge());
