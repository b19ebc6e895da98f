// Phones: who holds this hub's keys, with each one's role, cameras and window; changing a viewer's
// or guest's cameras and window (PROTOCOL §16.3), and revoking a phone.
import type { CameraInfo, Phone, Role } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { ago, clear, h, when } from '../dom.ts';
import { camerasText, scopeForm, windowText } from '../scope-form.ts';

const ROLE_LABEL: Record<Role, string> = { owner: 'Owner', viewer: 'Viewer', guest: 'Guest' };

export const SCOPE_EXPLAINED = 'Changing a phone\'s cameras starts new keys at once: a camera taken away opens nothing new for it, a camera added reaches it from now on. Every phone sees the change in the roster log.';

export const REVOKE_EXPLAINED = 'Revoking removes the phone from this hub at once: it gets no new keys, so from the next frame on it can watch and control nothing, and the relay stops forwarding to it.';

export const phonesScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const body = h('tbody');
  const table = h('table', { id: 'phones-table' },
    h('caption', { class: 'sr-only' }, 'Paired phones'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Cameras'), h('th', { scope: 'col' }, 'When'),
      h('th', { scope: 'col' }, 'Paired since'), h('th', { scope: 'col' }, 'Last seen'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
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
    h('p', { class: 'hint', id: 'revoke-explained' }, REVOKE_EXPLAINED), h('p', { class: 'hint', id: 'scope-explained' }, SCOPE_EXPLAINED), err, empty, table, revoked, safety);
  let cameras: CameraInfo[] = [];
  const nameOf = (id: string) => cameras.find((c) => c.id === id)?.name;
  /** A phone whose scope form is open: refreshes leave it alone. */
  let editing: string | undefined;

  /** The row under a phone's that changes its cameras and window. */
  function editRow(p: Phone, row: HTMLElement): HTMLElement {
    const form = scopeForm('scope-edit', cameras, p.scope);
    form.setRole(p.role);
    const save = h('button', { type: 'button', class: 'primary', id: 'scope-save' }, 'Save');
    const cancel = h('button', { type: 'button', id: 'scope-cancel' }, 'Cancel');
    const edit = h('tr', { class: 'scope-edit-row', 'data-edit-for': p.id },
      h('td', { colspan: 7 }, h('h2', { id: 'scope-edit-title' }, `Cameras and time for "${p.name}"`), form.el, h('div', { class: 'buttons' }, save, ' ', cancel)));
    edit.setAttribute('role', 'group');
    edit.setAttribute('aria-labelledby', 'scope-edit-title');
    const close = () => {
      editing = undefined;
      edit.remove();
      row.querySelector<HTMLButtonElement>('button[data-action=scope]')?.focus();
    };
    cancel.addEventListener('click', close);
    save.addEventListener('click', () => {
      void (async () => {
        const chosen = form.read();
        if (typeof chosen === 'string') {
          unwrap({ ok: false, error: chosen }, err);
          return;
        }
        save.disabled = cancel.disabled = true;
        const r = unwrap(await ctx.bridge.setPhoneScope(p.id, chosen), err);
        save.disabled = cancel.disabled = false;
        if (r === undefined) return;
        ctx.announce(`${p.name} now sees ${camerasText(r.scope, nameOf).toLowerCase()}`);
        close();
        await refresh();
      })();
    });
    return edit;
  }

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
    const row = h('tr', { 'data-phone-id': p.id, 'data-role': p.role },
      h('th', { scope: 'row' }, p.name), h('td', { 'data-field': 'role' }, ROLE_LABEL[p.role]),
      h('td', { 'data-field': 'cameras' }, camerasText(p.scope, nameOf), p.scope ? h('div', { class: 'hint' }, 'live only') : null),
      h('td', { 'data-field': 'window' }, windowText(p.scope)),
      h('td', {}, when(p.pairedAt)), h('td', {}, ago(p.lastSeen)), cell);
    if (p.role !== 'owner') {
      const change = h('button', { type: 'button', 'data-action': 'scope', 'aria-describedby': 'scope-explained' }, 'Change cameras');
      change.setAttribute('aria-label', `Change cameras and time for ${p.name}`);
      change.addEventListener('click', () => {
        if (editing !== undefined) return;
        editing = p.id;
        row.after(editRow(p, row));
        row.nextElementSibling?.querySelector<HTMLElement>('input, select')?.focus();
      });
      cell.append(change, ' ');
    }
    cell.append(revoke);
    return row;
  }

  async function refresh(): Promise<void> {
    const [list, cams] = await Promise.all([ctx.bridge.listPhones(), ctx.bridge.listCameras()]);
    if (editing !== undefined) return;
    const phones = unwrap(list, err);
    if (phones === undefined) return;
    cameras = cams.ok ? cams.value : cameras;
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
