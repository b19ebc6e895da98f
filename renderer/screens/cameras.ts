// Cameras: a grid of live tiles, one per camera, playing the hub's own fragments.
import type { CameraInfo } from '../bridge.ts';
import { errorBox, stateLabel, unwrap, type ScreenFactory } from '../screen.ts';
import { h } from '../dom.ts';
import { LivePlayer } from '../live-player.ts';

interface Tile {
  el: HTMLElement;
  badge: HTMLElement;
  problem: HTMLElement;
  player: LivePlayer;
  name: HTMLElement;
}

export const camerasScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const grid = h('ul', { class: 'grid', 'aria-label': 'Live cameras' });
  const empty = h('div', { class: 'empty', hidden: true },
    h('p', {}, 'No cameras yet. Add one and its live picture shows up here.'),
    h('a', { class: 'button primary', href: '#/add' }, 'Add a camera'));
  const el = h('section', {}, h('div', { class: 'title-row' }, h('h1', {}, 'Cameras'), h('a', { class: 'button', href: '#/add' }, 'Add camera')), err, empty, grid);
  const tiles = new Map<string, Tile>();

  function tileFor(c: CameraInfo): Tile {
    const badge = h('span', { class: 'badge' });
    const problem = h('p', { class: 'tile-problem', hidden: true });
    const name = h('span', { class: 'tile-name' }, c.name);
    const player = new LivePlayer(ctx.bridge, c.id, (message) => {
      problem.hidden = message === undefined;
      problem.textContent = message ?? '';
    });
    player.video.setAttribute('aria-label', `Live picture of ${c.name}`);
    const el = h('li', { class: 'tile', 'data-camera-id': c.id },
      h('a', { href: `#/camera/${encodeURIComponent(c.id)}`, class: 'tile-link', 'aria-label': `${c.name}: details` },
        h('div', { class: 'tile-video' }, player.video, problem),
        h('div', { class: 'tile-caption' }, name, badge)));
    player.start();
    return { el, badge, problem, player, name };
  }

  async function refresh(): Promise<void> {
    const cams = unwrap(await ctx.bridge.listCameras(), err);
    if (cams === undefined) return;
    empty.hidden = cams.length > 0;
    const seen = new Set<string>();
    for (const c of cams) {
      seen.add(c.id);
      let tile = tiles.get(c.id);
      if (tile === undefined) {
        tile = tileFor(c);
        tiles.set(c.id, tile);
        grid.append(tile.el);
      }
      tile.name.textContent = c.name;
      tile.badge.textContent = stateLabel(c.state);
      tile.badge.className = `badge state-${c.state}`;
      if (c.state !== 'live' && c.error) {
        tile.problem.hidden = false;
        tile.problem.textContent = c.error;
      }
    }
    for (const [id, tile] of tiles) {
      if (seen.has(id)) continue;
      tile.player.close();
      tile.el.remove();
      tiles.delete(id);
    }
  }

  void refresh();
  const timer = setInterval(() => void refresh(), 2000);
  return {
    el,
    dispose() {
      clearInterval(timer);
      for (const t of tiles.values()) t.player.close();
    },
  };
};
