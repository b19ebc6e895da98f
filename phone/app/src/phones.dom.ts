// The phones on this hub, as the roster log this phone checked lists them (PROTOCOL §16), and for an
// owner phone a "Share history" button on each other phone: the same core as `vigil-phone
// share-history` (phone/core/history-share.ts, PROTOCOL §15.7), which checks the other phone's keys
// against the log before it seals this phone's recording keys to them. The hub cannot share
// history itself (it holds no recording key); a viewer's phone may not (the hub refuses it).
import { toHex } from '../../../crypto/bytes.ts';
import { CommandError, type HubLink } from '../../core/hub-link.ts';
import { HistoryShareError, shareHistory } from '../../core/history-share.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { describeScope } from '../../core/roster.ts';

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

let sharing = false;
/** Camera names by id as the hub lists them to this phone (a guest: its own cameras), fetched once a scope is shown. */
let cameraNames: Map<string, string> | undefined;
let fetchingNames = false;

function nameOf(link: HubLink, profile: PhoneProfile): (id: string) => string | undefined {
  if (cameraNames === undefined && !fetchingNames) {
    fetchingNames = true;
    link.listCameras().then((cameras) => {
      cameraNames = new Map(cameras.map((c) => [c.id, c.name]));
      drawn = '';
      renderPhones(link, profile);
    }, () => undefined).finally(() => {
      fetchingNames = false;
    });
  }
  return (id) => cameraNames?.get(id);
}
/** What the list was last drawn for: it is drawn again only when that changes (keyboard focus stays). */
let drawn = '';

/** Lists the roster's phones; an owner gets a Share history button beside each other one. */
export function renderPhones(link: HubLink, profile: PhoneProfile): void {
  const me = toHex(profile.device.deviceId);
  const owner = profile.certificate.role === 'owner';
  const members = link.rosterLog.saved.members;
  const crossChecked = link.rosterLog.saved.crossChecked ?? {};
  const key = JSON.stringify([me, owner, sharing, members, crossChecked]);
  if (key === drawn) return;
  drawn = key;
  $('phones').replaceChildren(...members.map((m) => {
    const li = document.createElement('li');
    li.dataset.device = m.id;
    const name = document.createElement('span');
    name.className = 'phone-name';
    name.textContent = `${m.name}${m.id === me ? ' (this phone)' : ''}`;
    const role = document.createElement('span');
    role.className = 'muted small';
    // A guest's or scoped viewer's cameras and window, as the roster log every phone checks says (PROTOCOL §16.3).
    const scope = m.scope ? ` · ${describeScope(m.scope, nameOf(link, profile))}` : '';
    role.textContent = ` ${m.role} · ${m.id.slice(0, 8)}${scope}`;
    li.append(name, role);
    // Another owner phone this one cross-checked the roster log with, sealed phone to phone (PROTOCOL §16.4).
    const c = crossChecked[m.id];
    if (c !== undefined) {
      const seen = document.createElement('span');
      seen.className = 'crosschecked small';
      seen.dataset.agrees = String(c.agrees);
      seen.textContent = ` · last cross-checked ${new Date(c.checkedAt).toLocaleString()}: ${c.agrees ? `same log (${c.length} entries)` : 'LOG SPLIT'}`;
      li.append(seen);
    }
    // Recordings are not shared with a scoped phone: it sees live video only.
    if (owner && m.id !== me && m.scope === undefined) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'share-history';
      b.textContent = 'Share history';
      b.setAttribute('aria-label', `Share recorded history with "${m.name}"`);
      b.disabled = sharing;
      b.addEventListener('click', () => void share(link, profile, m.id, m.name));
      li.append(' ', b);
    }
    return li;
  }));
  const mine = members.find((m) => m.id === me)?.scope;
  $('phones-note').textContent = owner
    ? 'A phone paired later sees no recordings from before it was paired, unless you share them.'
    : mine !== undefined ? `This phone may see ${describeScope(mine, nameOf(link, profile))}.` : '';
}

async function share(link: HubLink, profile: PhoneProfile, id: string, name: string): Promise<void> {
  if (sharing) return;
  if (!confirm(`Give "${name}" the recordings and events from before it was paired? Every phone on this hub will be told.`)) return;
  const status = $('share-status');
  sharing = true;
  for (const b of document.querySelectorAll<HTMLButtonElement>('.share-history')) b.disabled = true;
  status.dataset.state = 'sharing';
  status.textContent = `Sharing recorded history with "${name}"…`;
  try {
    const r = await shareHistory(link, profile, { to: id });
    status.dataset.state = 'shared';
    status.textContent = `Shared ${r.epochs.length} recording period${r.epochs.length === 1 ? '' : 's'} with "${r.to.name}": ${r.stored} new to it, ${r.held} it had already.`;
  } catch (e) {
    status.dataset.state = 'refused';
    const code = e instanceof HistoryShareError || e instanceof CommandError ? e.code : undefined;
    const why = code === 'forbidden' ? 'only an owner phone may share recorded history' : e instanceof Error ? e.message : String(e);
    status.textContent = `Not shared: ${why}`;
  } finally {
    sharing = false;
    renderPhones(link, profile);
  }
}
