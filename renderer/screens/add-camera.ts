// Add a camera: devices the hub discovered (if the hub has discovery), or a URL by hand; then the
// progress of the first connection, and a clear error when the camera cannot be reached.
import type { CameraInfo, DiscoveredDevice } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h } from '../dom.ts';

/** How long we watch the first connection before saying it is taking too long. */
const CONNECT_WATCH_MS = 25_000;

/** Puts user:password into an RTSP URL; the hub splits them off again and seals the password. */
export function withCredentials(url: string, user: string, password: string): string {
  if (user === '' && password === '') return url;
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export function checkCameraUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'That is not a URL. It looks like rtsp://192.168.1.20:554/stream1';
  }
  if (u.protocol !== 'rtsp:' && u.protocol !== 'rtsps:') return `The hub pulls video over RTSP: the address starts with rtsp:// (not ${u.protocol}//)`;
  if (u.hostname === '') return 'The address needs the camera\'s host or IP address';
  return undefined;
}

export const addCameraScreen: ScreenFactory = (ctx) => {
  const discovered = h('div', { id: 'discovered', 'aria-live': 'polite' }, h('p', { class: 'hint' }, 'Looking for cameras on your network…'));
  const name = h('input', { id: 'add-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off', placeholder: 'Front door' });
  const url = h('input', { id: 'add-url', name: 'url', required: true, type: 'text', inputmode: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'rtsp://192.168.1.20:554/stream1' });
  const user = h('input', { id: 'add-user', name: 'username', autocomplete: 'off' });
  const pass = h('input', { id: 'add-pass', name: 'password', type: 'password', autocomplete: 'new-password' });
  const err = errorBox();
  err.id = 'add-error';
  const progress = h('ol', { class: 'progress', id: 'add-progress', 'aria-live': 'polite', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add camera');
  const form = h('form', { class: 'form', 'aria-label': 'Add a camera by address', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'add-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'add-url' }, 'RTSP address'), url,
      h('p', { class: 'hint', id: 'url-hint' }, 'From the camera\'s manual or app, e.g. rtsp://192.168.1.20:554/stream1. Credentials can go in the fields below.')),
    h('div', { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { for: 'add-user' }, 'User name (optional)'), user),
      h('div', { class: 'field' }, h('label', { for: 'add-pass' }, 'Password (optional)'), pass)),
    h('p', { class: 'hint' }, 'The password is encrypted at rest on this hub and never leaves it.'),
    submit, err, progress);
  url.setAttribute('aria-describedby', 'url-hint');
  const el = h('section', {}, h('h1', {}, 'Add a camera'),
    h('h2', {}, 'Found on your network'), discovered,
    h('h2', {}, 'Add by address'), form);
  let disposed = false;

  function step(text: string, state: 'done' | 'doing' | 'failed'): HTMLElement {
    const mark = state === 'done' ? '✓' : state === 'failed' ? '✗' : '…';
    return h('li', { class: `step ${state}` }, h('span', { 'aria-hidden': 'true' }, `${mark} `), text);
  }

  async function watchConnect(id: string, label: string): Promise<void> {
    const deadline = Date.now() + CONNECT_WATCH_MS;
    while (!disposed) {
      const cams = await ctx.bridge.listCameras();
      const c: CameraInfo | undefined = cams.ok ? cams.value.find((x) => x.id === id) : undefined;
      clear(progress);
      progress.append(step(`Saved "${label}" on the hub`, 'done'));
      if (c?.state === 'live' && c.codecs) {
        progress.append(step(`Connected: ${c.codecs}${c.width ? `, ${c.width} × ${c.height}` : ''}`, 'done'),
          h('li', {}, h('a', { href: `#/camera/${encodeURIComponent(id)}` }, 'Open the camera'), ' or ', h('a', { href: '#/cameras' }, 'see all cameras')));
        ctx.announce(`${label} is live`);
        return;
      }
      if (c?.error && (c.state === 'backoff' || c.state === 'failed' || c.state === 'stalled')) {
        progress.append(step(`Cannot reach the camera: ${c.error}`, 'failed'),
          h('li', { class: 'hint' }, 'The hub keeps retrying. Check the address and password, or ', h('a', { href: `#/camera/${encodeURIComponent(id)}` }, 'remove the camera'), '.'));
        err.hidden = false;
        err.textContent = `Cannot reach the camera: ${c.error}`;
        return;
      }
      if (Date.now() > deadline) {
        progress.append(step('No video yet after 25 s. The hub keeps trying; check that the camera is on.', 'failed'));
        return;
      }
      progress.append(step('Connecting to the camera…', 'doing'));
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const n = name.value.trim();
    if (n === '') {
      err.hidden = false;
      err.textContent = 'Give the camera a name, like "Front door".';
      name.focus();
      return;
    }
    const problem = checkCameraUrl(url.value.trim());
    if (problem !== undefined) {
      err.hidden = false;
      err.textContent = problem;
      url.focus();
      return;
    }
    let full: string;
    try {
      full = withCredentials(url.value.trim(), user.value, pass.value);
    } catch {
      err.hidden = false;
      err.textContent = 'The user name or password cannot go into this address.';
      return;
    }
    submit.disabled = true;
    progress.hidden = false;
    clear(progress);
    progress.append(step('Saving…', 'doing'));
    void (async () => {
      const r = unwrap(await ctx.bridge.addCamera({ name: n, url: full }), err);
      submit.disabled = false;
      if (r === undefined) {
        clear(progress);
        progress.append(step('Not added', 'failed'));
        return;
      }
      pass.value = '';
      await watchConnect(r.id, r.name);
    })();
  });

  function showDiscovered(list: DiscoveredDevice[] | null): void {
    clear(discovered);
    if (list === null) {
      discovered.append(h('p', { class: 'empty small' }, 'Network discovery is not available on this hub yet. Enter the camera\'s address below.'));
      return;
    }
    if (list.length === 0) {
      discovered.append(h('p', { class: 'empty small' }, 'No cameras answered on this network. Enter the camera\'s address below.'));
      return;
    }
    const ul = h('ul', { class: 'list' });
    for (const d of list) {
      const use = h('button', { type: 'button' }, 'Use');
      use.setAttribute('aria-label', `Use ${d.name}`);
      use.addEventListener('click', () => {
        name.value = d.name;
        url.value = d.url ?? `rtsp://${d.address}/`;
        user.focus();
      });
      ul.append(h('li', {}, h('strong', {}, d.name), ` ${d.address} `, h('span', { class: 'badge' }, `found by ${d.via}`), ' ', use));
    }
    discovered.append(ul, h('p', { class: 'hint' }, 'A device listed here is only a suggestion from the network: nothing is added, and no password is sent, until you add it.'));
  }

  void ctx.bridge.discovery().then((r) => {
    if (disposed) return;
    if (r.ok) showDiscovered(r.value);
    else {
      clear(discovered);
      discovered.append(h('p', { class: 'error' }, `Discovery failed: ${r.error}`));
    }
  });
  return { el, dispose: () => (disposed = true) };
};
