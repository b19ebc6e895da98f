// First run: from nothing to a camera on the owner's phone, in three steps.
import { type ScreenFactory } from '../screen.ts';
import { h } from '../dom.ts';

export const welcomeScreen: ScreenFactory = (ctx) => {
  const steps = h('ol', { class: 'steps', id: 'first-run-steps' });
  const el = h('section', { class: 'welcome' }, h('h1', {}, 'Welcome to your Vigil hub'),
    h('p', {}, 'This computer is the hub: it pulls video from your cameras and encrypts it so that only the phones you pair can watch. Nobody else, not even the relay that carries the video when you are away, can see it.'),
    steps,
    h('p', { class: 'hint' }, h('a', { href: '#/cameras' }, 'Skip: go to the cameras')));

  async function refresh(): Promise<void> {
    const [cams, phones, relay] = await Promise.all([ctx.bridge.listCameras(), ctx.bridge.listPhones(), ctx.bridge.relay()]);
    const haveCamera = cams.ok && cams.value.length > 0;
    const havePhone = phones.ok && phones.value.some((p) => !p.revoked);
    const relayReady = relay.ok && relay.value.state === 'ready';
    const item = (done: boolean, title: string, text: string, href: string, action: string) =>
      h('li', { class: done ? 'done' : '' },
        h('h2', {}, h('span', { class: 'check', 'aria-hidden': 'true' }, done ? '✓' : '○'), ` ${title}`, done ? h('span', { class: 'sr-only' }, ' (done)') : null),
        h('p', {}, text), done ? null : h('a', { class: 'button primary', href }, action));
    steps.replaceChildren(
      item(haveCamera, 'Add a camera', 'Type its RTSP address (or pick it from the cameras found on your network). The hub checks that video arrives.', '#/add', 'Add a camera'),
      item(havePhone, 'Pair your phone', 'Scan a QR code with the Vigil app, check that both screens show the same 6-digit code, and approve.', '#/pair', 'Pair a phone'),
      item(haveCamera && havePhone && relayReady, 'Watch on your phone', relayReady ? 'Open the app: your cameras are there, at home and away.' : 'The hub is not connected to a relay yet, so phones can watch only once it is.', '#/relay', 'Check the relay'),
    );
  }

  void refresh();
  const timer = setInterval(() => void refresh(), 3000);
  return { el, dispose: () => clearInterval(timer) };
};
