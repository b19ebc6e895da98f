// Audit log: who watched, paired, was revoked, sent commands, and when; and the roster log every
// phone checks (PROTOCOL §16), each entry with the role and, for a guest or scoped viewer, its
// cameras and window.
import type { AuditEntry, Phone, RosterReport } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h, when } from '../dom.ts';
import { camerasText, whenMs, windowText } from '../scope-form.ts';

const CHANGES: Record<RosterReport['entries'][number]['change'], string> = {
  'added': 'added', 'removed': 'removed', 'role-changed': 'cameras or role changed', 'history-shared': 'given past recordings', 'restored': 'hub restored',
};

const ACTIONS: Record<string, string> = {
  'paired': 'paired a phone', 'pairing-refused': 'refused a phone', 'revoked': 'revoked a phone', 'device-renamed': 'renamed a phone',
  'watched': 'watched', 'snapshot': 'took a snapshot', 'ptz': 'moved a camera (PTZ)', 'settings': 'changed camera settings',
  'command-refused': 'was refused a command', 'camera-added': 'added a camera', 'camera-removed': 'removed a camera',
  'camera-renamed': 'renamed a camera', 'invite-created': 'created a pairing code', 'invite-cancelled': 'cancelled a pairing code',
  'hub-created': 'created this hub', 'epoch': 'started new keys', 'scope-changed': 'changed a phone\'s cameras',
};

export const auditScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const body = h('tbody');
  const rosterBody = h('tbody');
  const el = h('section', {}, h('h1', {}, 'Audit log'), err,
    h('table', { id: 'audit-table' }, h('caption', { class: 'sr-only' }, 'Latest events, newest first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col' }, 'Details'))),
      body),
    h('h2', { id: 'roster-title' }, 'Roster log'),
    h('p', { class: 'hint' }, 'Every change of who holds this hub\'s keys, signed by the hub; every phone checks it and shows what it has not seen as an alert.'),
    h('table', { id: 'roster-table', 'aria-labelledby': 'roster-title' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Phone'), h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col' }, 'Role'),
        h('th', { scope: 'col' }, 'Cameras'), h('th', { scope: 'col' }, 'Window'), h('th', { scope: 'col' }, 'By'))),
      rosterBody));

  async function refresh(): Promise<void> {
    const [entries, phones, cams, roster] = await Promise.all([ctx.bridge.audit(200), ctx.bridge.listPhones(), ctx.bridge.listCameras(), ctx.bridge.roster()]);
    const list = unwrap(entries, err);
    if (list === undefined) return;
    const phoneNames = new Map((phones.ok ? phones.value : []).map((p: Phone) => [p.id, p.name]));
    const cameraNames = new Map((cams.ok ? cams.value : []).map((c) => [c.id, c.name]));
    const who = (actor: string) => (actor === 'owner' ? 'Owner (this hub)' : phoneNames.get(actor) ?? `phone ${actor.slice(0, 8)}`);
    const detail = (e: AuditEntry) => Object.entries(e.detail).map(([k, v]) => {
      if (k === 'camera' && typeof v === 'string') return `camera: ${cameraNames.get(v) ?? v.slice(0, 8)}`;
      if (k === 'device' && typeof v === 'string') return `phone: ${phoneNames.get(v) ?? v.slice(0, 8)}`;
      if (k === 'expiresAt' && typeof v === 'number') return `expires ${when(v)}`;
      // A scope: camera ids (or how many), and its window in Unix ms (0: none).
      if (k === 'cameras' && Array.isArray(v)) return `cameras: ${camerasText({ cameras: v.map(String) }, (id) => cameraNames.get(id))}`;
      if (k === 'cameras' && typeof v === 'number') return `${v} camera${v === 1 ? '' : 's'}`;
      if ((k === 'from' || k === 'until') && typeof v === 'number') return v === 0 ? '' : `${k} ${whenMs(v)}`;
      return `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`;
    }).filter((t) => t !== '').join(', ');
    clear(body);
    const sorted = [...list].sort((a, b) => b.at - a.at || b.id - a.id);
    for (const e of sorted) {
      body.append(h('tr', { 'data-action': e.action }, h('td', {}, when(e.at)), h('td', {}, who(e.actor)), h('td', {}, ACTIONS[e.action] ?? e.action), h('td', {}, detail(e))));
    }
    if (sorted.length === 0) body.append(h('tr', {}, h('td', { colspan: 4 }, 'Nothing yet.')));
    const log = roster.ok ? roster.value : undefined;
    if (log === undefined) return;
    clear(rosterBody);
    for (const e of [...log.entries].reverse()) {
      const scoped = e.change !== 'history-shared' && e.change !== 'restored';
      rosterBody.append(h('tr', { 'data-seq': e.seq, 'data-change': e.change, 'data-device-id': e.deviceId },
        h('td', {}, whenMs(e.at)), h('td', {}, e.change === 'restored' ? '—' : e.name), h('td', {}, CHANGES[e.change]), h('td', {}, scoped ? e.role : '—'),
        h('td', { 'data-field': 'cameras' }, scoped ? camerasText(e.scope, (id) => cameraNames.get(id)) : '—'),
        h('td', { 'data-field': 'window' }, scoped ? windowText(e.scope) : '—'), h('td', {}, e.by)));
    }
  }

  void refresh();
  const timer = setInterval(() => void refresh(), 5000);
  return { el, dispose: () => clearInterval(timer) };
};
