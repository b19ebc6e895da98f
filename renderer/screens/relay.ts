// Relay: which relay this hub uses while phones are away, whether it is connected, who watches.
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h } from '../dom.ts';

export const relayScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const dl = h('dl', { class: 'details', id: 'relay-details' });
  const el = h('section', {}, h('h1', {}, 'Relay'),
    h('p', {}, 'Away from home, phones reach this hub through the relay. It forwards only encrypted bytes: it cannot see video, keys or camera names, and cannot add a phone.'),
    err, dl);

  async function refresh(): Promise<void> {
    const r = unwrap(await ctx.bridge.relay(), err);
    if (r === undefined) return;
    clear(dl);
    const connected = r.state === 'ready';
    dl.append(
      h('dt', {}, 'Relay'), h('dd', { 'data-field': 'url' }, r.url ?? 'none: start the hub with --relay URL so phones can pair and watch'),
      h('dt', {}, 'Connection'), h('dd', { 'data-field': 'state' }, h('span', { class: `pill ${connected ? 'good' : 'bad'}` }, r.url === null ? 'not configured' : connected ? 'connected' : `not connected (${r.state})`)),
      ...(r.problem && !connected
        ? [h('dt', {}, 'Why'), h('dd', { 'data-field': 'problem', 'data-code': r.problem.code }, `${r.problem.message} (${r.problem.url})`)]
        : []),
      h('dt', {}, 'Phones online'), h('dd', { 'data-field': 'online' }, String(r.phonesOnline)),
      h('dt', {}, 'Phones watching now'), h('dd', { 'data-field': 'watching' }, String(r.watchingNow)),
    );
  }

  void refresh();
  const timer = setInterval(() => void refresh(), 2000);
  return { el, dispose: () => clearInterval(timer) };
};
