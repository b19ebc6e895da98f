// Phones: who holds this hub's keys, and revoking one.
import type { Phone } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { ago, clear, h, when } from '../dom.ts';

export const REVOKE_EXPLAINED = 'Revoking removes the phone from this hub at once: it gets no new keys, so from the next frame on it can watch and control nothing, and the relay stops forwarding to it.';

export const phonesScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const body = h('tbody');
  const table = h('table', { id: 'phones-table' },
    h('caption', { class: 'sr-only' }, 'Paired phones'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Paired since'), h('th', { scope: 'col' }, 'Last seen'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    body);
  const empty = h('div', { class: 'empty', hidden: true }, h('p', {}, 'No phone holds this hub\'s keys yet.'), h('a', { class: 'button primary', href: '#/pair' }, 'Pair a phone'));
  const revokedList = h('ul', { class: 'list muted', id: 'revoked-list' });
  const revoked = h('details', { hidden: true }, h('summary', {}, 'Revoked phones'), revokedList);
  // The roster log's safety code (PROTOCOL §16): each owner phone shows it too; the same digits
  // everywhere mean every phone sees the same list of who holds the keys.
  const code = h('code', { id: 'safety-code' });
  const safety = h('p', { class: 'hint', hidden: true }, 'Safety code: ', code,
    '. Compare it with the code on each owner\'s phone (vigil-phone roster): if they differ, this hub is showing phones different lists.');
  const el = h('section', {}, h('div', { class: 'title-row' }, h('h1', {}, 'Phones'), h('a', { class: 'button', href: '#/pair' }, 'Pair a phone')),
    h('p', { class: 'hint', id: 'revoke-explained' }, REVOKE_EXPLAINED), err, empty, table, revoked, safety);

  function rowFor(p: Phone): HTMLElement {
    const cell = h('td', { class: 'actions' });
    const revoke = h('button', { type: 'button', class: 'danger', 'aria-describedby': 'revoke-explained' }, 'Revoke');
    revoke.setAttribute('aria-label', `Revoke ${p.name}`);
    revoke.addEventListener('click', () => {
      clear(cell);
      const yes = h('button', { type: 'button', class: 'danger' }, `Yes, revoke ${p.name}`);
      const no = h('button', { type: 'button' }, 'Cancel');
      cell.append(yes, ' ', no);
      yes.focus();
      no.addEventListener('click', () => void refresh());
      yes.addEventListener('click', () => {
        void (async () => {
          yes.disabled = no.disabled = true;
          const r = unwrap(await ctx.bridge.revokePhone(p.id), err);
          if (r) ctx.announce(`${p.name} was revoked`);
          await refresh();
        })();
      });
    });
    cell.append(revoke);
    return h('tr', { 'data-phone-id': p.id },
      h('th', { scope: 'row' }, p.name), h('td', {}, p.role === 'owner' ? 'Owner' : 'Viewer'),
      h('td', {}, when(p.pairedAt)), h('td', {}, ago(p.lastSeen)), cell);
  }

  async function refresh(): Promise<void> {
    const phones = unwrap(await ctx.bridge.listPhones(), err);
    if (phones === undefined) return;
    const active = phones.filter((p) => !p.revoked);
    const gone = phones.filter((p) => p.revoked);
    clear(body);
    for (const p of active) body.append(rowFor(p));
    table.hidden = active.length === 0;
    empty.hidden = active.length > 0;
    clear(revokedList);
    for (const p of gone) revokedList.append(h('li', {}, `${p.name} (paired ${when(p.pairedAt)})`));
    revoked.hidden = gone.length === 0;
    const roster = unwrap(await ctx.bridge.roster(), err);
    if (roster !== undefined) {
      code.textContent = roster.safetyCode;
      safety.hidden = false;
    }
  }

  void refresh();
  return { el, dispose: () => undefined };
};
