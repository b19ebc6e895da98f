// One camera: its live picture, rename, remove, and the stream's details.
import type { CameraInfo } from '../bridge.ts';
import { errorBox, stateLabel, unwrap, type ScreenFactory } from '../screen.ts';
import { bitrate, clear, h } from '../dom.ts';
import { LivePlayer } from '../live-player.ts';

export const cameraScreen: ScreenFactory = (ctx, id) => {
  const err = errorBox();
  const title = h('h1', {}, 'Camera');
  const details = h('dl', { class: 'details', id: 'stream-details' });
  const problem = h('p', { class: 'tile-problem', hidden: true });
  const player = new LivePlayer(ctx.bridge, id ?? '', (m) => {
    problem.hidden = m === undefined;
    problem.textContent = m ?? '';
  });
  player.video.setAttribute('aria-label', 'Live picture');
  const nameInput = h('input', { id: 'camera-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
  const renameErr = errorBox();
  const renameForm = h('form', { class: 'inline-form', 'aria-label': 'Rename camera' },
    h('label', { for: 'camera-name' }, 'Name'), nameInput, h('button', { type: 'submit' }, 'Rename'), renameErr);
  const confirmBox = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': 'Confirm removal' });
  const removeButton = h('button', { type: 'button', class: 'danger' }, 'Remove camera…');
  const el = h('section', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/cameras' }, '← Cameras')), title, err,
    h('div', { class: 'camera-page' },
      h('div', { class: 'tile-video large' }, player.video, problem),
      h('div', {}, h('h2', {}, 'Stream'), details, h('h2', {}, 'Settings'), renameForm,
        h('h2', {}, 'Remove'), h('p', { class: 'hint' }, 'Removing stops the camera and starts new keys, so no phone can watch it any more.'),
        removeButton, confirmBox)));

  let last: { at: number; bytes: number } | undefined;
  let rate = 0;
  let camera: CameraInfo | undefined;

  function row(term: string, value: string, key: string): HTMLElement[] {
    return [h('dt', {}, term), h('dd', { 'data-field': key }, value)];
  }

  async function refresh(): Promise<void> {
    const cams = unwrap(await ctx.bridge.listCameras(), err);
    if (cams === undefined) return;
    const c = cams.find((x) => x.id === id);
    if (c === undefined) {
      err.hidden = false;
      err.textContent = 'This camera is not on the hub (it may have been removed).';
      return;
    }
    const first = camera === undefined;
    camera = c;
    title.textContent = c.name;
    document.title = `${c.name} · Vigil hub`;
    if (first) nameInput.value = c.name;
    const now = performance.now();
    if (last !== undefined && now > last.at && c.bytes >= last.bytes) rate = ((c.bytes - last.bytes) * 8) / ((now - last.at) / 1000);
    last = { at: now, bytes: c.bytes };
    clear(details);
    details.append(
      ...row('State', stateLabel(c.state), 'state'),
      ...row('Codec', c.codecs ?? '—', 'codec'),
      ...row('Resolution', c.width && c.height ? `${c.width} × ${c.height}` : '—', 'resolution'),
      ...row('Bitrate', bitrate(rate), 'bitrate'),
      ...row('Fragments', String(c.fragments), 'fragments'),
      ...row('Phones watching', String(c.watchers), 'watchers'),
      ...row('Address', c.kind === 'test-pattern' ? 'test pattern (built in)' : c.url, 'url'),
      ...row('Last error', c.error ?? 'none', 'error'),
    );
  }

  renameForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      const r = unwrap(await ctx.bridge.renameCamera(id ?? '', nameInput.value.trim()), renameErr);
      if (r) {
        ctx.announce(`Renamed to ${r.name}`);
        void refresh();
      }
    })();
  });

  removeButton.addEventListener('click', () => {
    clear(confirmBox);
    confirmBox.hidden = false;
    const yes = h('button', { type: 'button', class: 'danger' }, `Remove ${camera?.name ?? 'this camera'}`);
    const no = h('button', { type: 'button' }, 'Keep it');
    confirmBox.append(h('p', {}, 'Remove this camera from the hub?'), yes, no);
    no.addEventListener('click', () => (confirmBox.hidden = true));
    yes.addEventListener('click', () => {
      void (async () => {
        yes.disabled = true;
        const r = unwrap(await ctx.bridge.removeCamera(id ?? ''), err);
        if (r) {
          ctx.announce('Camera removed');
          ctx.go('cameras');
        } else yes.disabled = false;
      })();
    });
    yes.focus();
  });

  player.start();
  void refresh();
  const timer = setInterval(() => void refresh(), 2000);
  return {
    el,
    dispose() {
      clearInterval(timer);
      player.close();
    },
  };
};
