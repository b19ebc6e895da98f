// The hub's UI: a shell (header, warnings, navigation) and one screen at a time, chosen by the URL
// hash. Screens talk to the hub only through the HubBridge they are given.
import type { HubBridge, HubStatus } from './bridge.ts';
import { clear, h } from './dom.ts';
import { addCameraScreen } from './screens/add-camera.ts';
import { auditScreen } from './screens/audit.ts';
import { cameraScreen } from './screens/camera.ts';
import { camerasScreen } from './screens/cameras.ts';
import { pairScreen } from './screens/pair.ts';
import { phonesScreen } from './screens/phones.ts';
import { recordingsScreen } from './screens/recordings.ts';
import { relayScreen } from './screens/relay.ts';
import { welcomeScreen } from './screens/welcome.ts';
import type { Ctx, Screen, ScreenFactory } from './screen.ts';

const NAV: readonly [route: string, label: string][] = [
  ['cameras', 'Cameras'],
  ['add', 'Add camera'],
  ['pair', 'Pair a phone'],
  ['phones', 'Phones'],
  ['recordings', 'Recordings'],
  ['relay', 'Relay'],
  ['audit', 'Audit log'],
];

const SCREENS: Record<string, ScreenFactory> = {
  welcome: welcomeScreen,
  cameras: camerasScreen,
  camera: cameraScreen,
  add: addCameraScreen,
  pair: pairScreen,
  phones: phonesScreen,
  recordings: recordingsScreen,
  relay: relayScreen,
  audit: auditScreen,
};

export function startApp(root: HTMLElement, bridge: HubBridge): void {
  const announcer = h('div', { class: 'announce', role: 'status', 'aria-live': 'polite' });
  const banners = h('div', { class: 'banners' });
  const relayPill = h('span', { class: 'pill', id: 'relay-pill' }, 'relay …');
  const navList = h('ul');
  const main = h('main', { id: 'view', tabindex: -1 });
  let current: Screen | undefined;
  let announceTimer: ReturnType<typeof setTimeout> | undefined;

  const ctx: Ctx = {
    bridge,
    go: (route) => {
      if (location.hash === `#/${route}`) render();
      else location.hash = `#/${route}`;
    },
    announce: (message) => {
      announcer.textContent = message;
      clearTimeout(announceTimer);
      announceTimer = setTimeout(() => (announcer.textContent = ''), 6000);
    },
  };

  for (const [route, label] of NAV) navList.append(h('li', {}, h('a', { href: `#/${route}`, 'data-route': route }, label)));
  clear(root);
  root.append(
    h('a', { class: 'skip', href: '#view' }, 'Skip to content'),
    h('header', { class: 'top' }, h('a', { class: 'brand', href: '#/cameras' }, h('span', { 'aria-hidden': 'true' }, '◉ '), 'Vigil hub'), relayPill),
    banners,
    h('div', { class: 'layout' }, h('nav', { 'aria-label': 'Hub sections' }, navList), main),
    announcer,
  );

  async function firstRoute(): Promise<string> {
    const [cams, phones] = await Promise.all([bridge.listCameras(), bridge.listPhones()]);
    const noCameras = cams.ok && cams.value.length === 0;
    const noPhones = phones.ok && phones.value.filter((p) => !p.revoked).length === 0;
    return noCameras && noPhones ? 'welcome' : 'cameras';
  }

  function render(): void {
    const hash = location.hash.replace(/^#\/?/, '');
    if (hash === '') {
      // Only if the address is still empty when the answer comes: a screen picked meanwhile (a link
      // clicked, an address typed) wins over the first-run guess.
      void firstRoute().then((r) => {
        if (location.hash.replace(/^#\/?/, '') !== '') return;
        history.replaceState(null, '', `#/${r}`);
        render();
      });
      return;
    }
    const [name = '', param] = hash.split('/', 2);
    const factory = SCREENS[name] ?? camerasScreen;
    current?.dispose();
    clear(main);
    current = factory(ctx, param === undefined ? undefined : decodeURIComponent(param));
    main.append(current.el);
    const active = name === 'camera' ? 'cameras' : name;
    for (const a of navList.querySelectorAll('a')) {
      if (a.dataset.route === active) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const title = current.el.querySelector('h1')?.textContent;
    document.title = title ? `${title} · Vigil hub` : 'Vigil hub';
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  }

  function showStatus(s: HubStatus): void {
    clear(banners);
    if (s.keyProtection === 'file') {
      banners.append(h('p', { class: 'banner warn', role: 'note', id: 'key-warning' },
        h('strong', {}, 'Keys at rest are protected only by file permissions. '),
        'This hub has no OS keychain, so its private keys and camera passwords sit in a key file that only your user account can read. Anyone who can read this computer\'s disk as you can read them too: keep the disk encrypted.'));
    }
    if (s.ffmpegProblem) banners.append(h('p', { class: 'banner error', role: 'alert' }, h('strong', {}, 'Cameras cannot start: '), s.ffmpegProblem));
    const connected = s.relay === 'ready';
    relayPill.className = `pill ${connected ? 'good' : s.relay === 'none' ? 'bad' : 'warn'}`;
    relayPill.textContent = s.relay === 'none' ? 'no relay' : connected ? `relay connected · ${s.phonesOnline} phone${s.phonesOnline === 1 ? '' : 's'} online` : `relay ${s.relay}`;
    relayPill.title = !connected && s.relayProblem ? s.relayProblem.message : '';
  }

  async function pollStatus(): Promise<void> {
    const r = await bridge.status();
    if (r.ok) showStatus(r.value);
    else {
      relayPill.className = 'pill bad';
      relayPill.textContent = 'hub unreachable';
    }
  }

  window.addEventListener('hashchange', render);
  void pollStatus();
  setInterval(() => void pollStatus(), 3000);
  render();
}
