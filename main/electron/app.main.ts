// The desktop hub: Electron's main process. Thin on purpose: it runs the same Hub as `vigil hub`,
// shows the same UI (renderer/) through the IPC bridge, and adds what a desktop app needs: one
// instance, a tray with status, start at login, and keeping the hub running with the window closed.
//
// Secure by default: sandboxed, context-isolated renderer without Node; a strict CSP on every
// response; navigation, new windows, webviews and permission requests refused; the store's key in
// the OS keychain (safeStorage) where there is one.
import {
  BrowserWindow, Menu, Tray, app, ipcMain, nativeImage, protocol, safeStorage, session,
  type IpcMainInvokeEvent, type MenuItemConstructorOptions,
} from 'electron';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hub } from '../hub.ts';
import { UI_CSP } from '../ui/ui-server.ts';
import { chooseKeyProtector } from './key-protector.main.ts';
import { registerHubIpc, type HubIpc } from './ipc.main.ts';
import { startDesktopRecordings } from './desktop-viewer.main.ts';

export const APP_SCHEME = 'vigil-app';
export const APP_ORIGIN = `${APP_SCHEME}://hub`;
const DRAIN_TIMEOUT_MS = 5000;
const TRAY_REFRESH_MS = 5000;

/**
 * The layout, packaged (app.asar) or not: dist/electron/{main.mjs,preload.cjs} (this file, bundled by
 * main/electron/build.ts) next to renderer/dist and build/.
 */
const appRoot = app.isPackaged ? app.getAppPath() : join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rendererDir = join(appRoot, 'renderer', 'dist');
const preloadPath = join(appRoot, 'dist', 'electron', 'preload.cjs');
const trayIconPath = join(appRoot, 'build', 'tray.png');

// Before 'ready': the app's own scheme is a secure, standard origin (fetch, CSP and MSE work as on https).
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

let hub: Hub | undefined;
let ipc: HubIpc | undefined;
let win: BrowserWindow | undefined;
let tray: Tray | undefined;
let quitting = false;

function settingsPath(): string {
  return join(app.getPath('userData'), 'settings.json');
}

function settings(): { relays: string[]; recordingsOnDesktop: boolean } {
  const fromEnv = process.env.VIGIL_RELAY?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  try {
    const file = JSON.parse(readFileSync(settingsPath(), 'utf8')) as { relays?: unknown; recordingsOnDesktop?: unknown };
    const relays = Array.isArray(file.relays) ? file.relays.filter((r): r is string => typeof r === 'string') : [];
    // Off unless the owner turns it on: the recording keys then live on this computer (THREAT-MODEL T13).
    return { relays: fromEnv.length > 0 ? fromEnv : relays, recordingsOnDesktop: file.recordingsOnDesktop === true };
  } catch {
    return { relays: fromEnv, recordingsOnDesktop: false };
  }
}

function bundledFfmpeg(): void {
  // electron-builder puts ffmpeg in resources/ffmpeg (extraResources); FFMPEG_PATH wins if set.
  if (process.env.FFMPEG_PATH || !app.isPackaged) return;
  const exe = join(process.resourcesPath, 'ffmpeg', process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  if (existsSync(exe)) process.env.FFMPEG_PATH = exe;
}

function isAppPage(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url ?? '';
  return win !== undefined && event.sender === win.webContents && url.startsWith(`${APP_ORIGIN}/`);
}

/** Serves renderer/dist on vigil-app://hub/ with the CSP; nothing outside that folder. */
function serveRenderer(): void {
  protocol.handle(APP_SCHEME, (request) => {
    const url = new URL(request.url);
    if (url.host !== 'hub') return new Response('not found', { status: 404 });
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
    const file = normalize(join(rendererDir, rel));
    if (!file.startsWith(rendererDir + sep) || !existsSync(file)) return new Response('not found', { status: 404 });
    const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
    const ext = file.slice(file.lastIndexOf('.') + 1);
    const bytes = readFileSync(file);
    const body = ext === 'html' ? bytes.toString('utf8').replaceAll('%ASSET_QUERY%', '') : new Uint8Array(bytes);
    return new Response(body, {
      headers: { 'content-type': types[ext] ?? 'application/octet-stream', 'content-security-policy': UI_CSP, 'x-content-type-options': 'nosniff' },
    });
  });
}

function lockDown(): void {
  const ses = session.defaultSession;
  // The hub UI needs no camera, microphone, notifications, geolocation, ...: refuse them all.
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [UI_CSP] } });
  });
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (e, url) => {
      if (!url.startsWith(`${APP_ORIGIN}/`)) e.preventDefault();
    });
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

function showWindow(): void {
  if (win !== undefined && !win.isDestroyed()) {
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
    return;
  }
  win = new BrowserWindow({
    width: 1200,
    height: 800,
    minWidth: 720,
    minHeight: 520,
    title: 'Vigil hub',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  });
  win.removeMenu();
  win.once('ready-to-show', () => win?.show());
  // Closing the window hides it: the hub keeps serving phones until Quit in the tray.
  win.on('close', (e) => {
    if (!quitting) {
      e.preventDefault();
      win?.hide();
    }
  });
  void win.loadURL(`${APP_ORIGIN}/`);
}

function trayMenu(): Menu {
  const cams = hub?.cameras.status() ?? [];
  const live = cams.filter((c) => c.state === 'live').length;
  const relay = hub?.relayState ?? 'starting';
  const items: MenuItemConstructorOptions[] = [
    { label: `Cameras: ${live} of ${cams.length} live`, enabled: false },
    { label: relay === 'ready' ? `Relay connected · ${hub?.sessions.online ?? 0} phones online` : relay === 'none' ? 'No relay set' : `Relay: ${relay}`, enabled: false },
    { type: 'separator' },
    { label: 'Open Vigil', click: () => showWindow() },
    {
      label: 'Start at login', type: 'checkbox', checked: app.getLoginItemSettings().openAtLogin,
      click: (item) => app.setLoginItemSettings({ openAtLogin: item.checked, openAsHidden: true, args: ['--hidden'] }),
    },
    { type: 'separator' },
    { label: 'Quit Vigil (phones stop seeing cameras)', click: () => app.quit() },
  ];
  return Menu.buildFromTemplate(items);
}

function startTray(): void {
  const icon = existsSync(trayIconPath) ? nativeImage.createFromPath(trayIconPath) : nativeImage.createEmpty();
  tray = new Tray(icon);
  tray.setToolTip('Vigil hub');
  const refresh = () => {
    if (tray === undefined || tray.isDestroyed()) return;
    tray.setContextMenu(trayMenu());
    const live = hub?.cameras.status().filter((c) => c.state === 'live').length ?? 0;
    tray.setToolTip(`Vigil hub: ${live} camera${live === 1 ? '' : 's'} live, relay ${hub?.relayState ?? 'starting'}`);
  };
  tray.on('click', () => showWindow());
  refresh();
  setInterval(refresh, TRAY_REFRESH_MS).unref();
}

async function start(): Promise<void> {
  bundledFfmpeg();
  lockDown();
  serveRenderer();
  const dataDir = join(app.getPath('userData'), 'hub');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const { protector, warning } = chooseKeyProtector(safeStorage, dataDir);
  if (warning) console.warn(`vigil: ${warning}`);
  // The local API stays on for the command-line tools (vigil camera/invite/devices --data DIR).
  hub = await Hub.start({ dataDir, relays: settings().relays, apiHost: '127.0.0.1', apiPort: 0, keyProtector: protector, log: (l) => console.log(l) });
  ipc = registerHubIpc(ipcMain, hub, isAppPage);
  // The Recordings screen's switch goes through the same object (and writes settings.json).
  await startDesktopRecordings(hub, safeStorage, dataDir, settingsPath(), settings().recordingsOnDesktop, (l) => console.log(l));
  startTray();
  if (!process.argv.includes('--hidden')) showWindow();
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => showWindow());
  // The hub runs with every window closed; only Quit stops it.
  app.on('window-all-closed', () => undefined);
  app.on('activate', () => showWindow());
  app.on('before-quit', (e) => {
    if (hub === undefined || quitting) return;
    quitting = true;
    e.preventDefault();
    void (async () => {
      await ipc?.drain(DRAIN_TIMEOUT_MS);
      ipc?.dispose();
      await hub?.close().catch((err: unknown) => console.error(`vigil: closing the hub: ${String(err)}`));
      hub = undefined;
      tray?.destroy();
      app.exit(0);
    })();
  });
  app.whenReady().then(start).catch((e: unknown) => {
    console.error(`vigil: cannot start the hub: ${e instanceof Error ? e.message : String(e)}`);
    app.exit(1);
  });
}
