// Audit log: who watched, paired, was revoked, sent commands, and when.
import type { AuditEntry, Phone } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h, when } from '../dom.ts';

const ACTIONS: Record<string, string> = {
  'paired': 'paired a phone', 'pairing-refused': 'refused a phone', 'revoked': 'revoked a phone', 'device-renamed': 'renamed a phone',
  'watched': 'watched', 'snapshot': 'took a snapshot', 'ptz': 'moved a camera (PTZ)', 'settings': 'changed camera settings',
  'command-refused': 'was refused a command', 'camera-added': 'added a camera', 'camera-removed': 'removed a camera',
  'camera-renamed': 'renamed a camera', 'invite-created': 'created a pairing code', 'invite-cancelled': 'cancelled a pairing code',
  'hub-created': 'created this hub', 'epoch': 'started new keys',
};

export const auditScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const body = h('tbody');
  const el = h('section', {}, h('h1', {}, 'Audit log'), err,
    h('table', { id: 'audit-table' }, h('caption', { class: 'sr-only' }, 'Latest events, newest first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col' }, 'Details'))),
      body));

  async function refresh(): Promise<void> {
    const [entries, phones, cams] = await Promise.all([ctx.bridge.audit(200), ctx.bridge.listPhones(), ctx.bridge.listCameras()]);
    const list = unwrap(entries, err);
    if (list === undefined) return;
    const phoneNames = new Map((phones.ok ? phones.value : []).map((p: Phone) => [p.id, p.name]));
    const cameraNames = new Map((cams.ok ? cams.value : []).map((c) => [c.id, c.name]));
    const who = (actor: string) => (actor === 'owner' ? 'Owner (this hub)' : phoneNames.get(actor) ?? `phone ${actor.slice(0, 8)}`);
    const detail = (e: AuditEntry) => Object.entries(e.detail).map(([k, v]) => {
      if (k === 'camera' && typeof v === 'string') return `camera: ${cameraNames.get(v) ?? v.slice(0, 8)}`;
      if (k === 'device' && typeof v === 'string') return `phone: ${phoneNames.get(v) ?? v.slice(0, 8)}`;
      if (k === 'expiresAt' && typeof v === 'number') return `expires ${when(v)}`;
      return `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`;
    }).join(', ');
    clear(body);
    const sorted = [...list].sort((a, b) => b.at - a.at || b.id - a.id);
    for (const e of sorted) {
      body.append(h('tr', { 'data-action': e.action }, h('td', {}, when(e.at)), h('td', {}, who(e.actor)), h('td', {}, ACTIONS[e.action] ?? e.action), h('td', {}, detail(e))));
    }
    if (sorted.length === 0) body.append(h('tr', {}, h('td', { colspan: 4 }, 'Nothing yet.')));
  }

  void refresh();
  const timer = setInterval(() => void refresh(), 5000);
  return { el, dispose: () => clearInterval(timer) };
};
