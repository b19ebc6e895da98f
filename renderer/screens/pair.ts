// Pair a phone: first who it is for (owner, viewer or guest, and for a guest or viewer which cameras
// and when: PROTOCOL §16.3), then a one-time invite as a QR code and a link; when the phone answers,
// both show the same 6-digit code, and the owner approves or rejects here. Nothing is added without
// approval, and an invite made for a role and scope pairs exactly that.
import QRCode from 'qrcode';
import type { CameraInfo, Invite, InviteAccess, InviteStatus, Role } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h } from '../dom.ts';
import { camerasText, scopeForm, windowText, type ChosenScope, type ScopeForm } from '../scope-form.ts';

const POLL_MS = 600;

const ROLE_TEXT: Record<Role, string> = {
  owner: 'Owner: watches, records and controls every camera',
  viewer: 'Viewer: watches only (every camera, or some cameras live)',
  guest: 'Guest: watches some cameras live, for a while',
};

export const pairScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const start = h('button', { type: 'button', class: 'primary', id: 'pair-start' }, 'Show a pairing code');
  const stage = h('div', { id: 'pair-stage', 'aria-live': 'polite' });
  const role = h('select', { id: 'pair-role' }, ...(['owner', 'viewer', 'guest'] as const).map((r) => h('option', { value: r }, ROLE_TEXT[r])));
  const access = h('div', { id: 'pair-access' }, h('div', { class: 'field' }, h('label', { for: 'pair-role' }, 'Who is it for?'), role));
  const el = h('section', {}, h('h1', {}, 'Pair a phone'),
    h('p', {}, 'Open the Vigil app on the phone and scan the code. The code works once, for 10 minutes. Until you approve it here, the phone gets no keys.'),
    access, start, err, stage);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let invite: Invite | undefined;
  /** What the invite shown now grants. */
  let granted: { role: Role; scope: ChosenScope } | undefined;
  let cameras: CameraInfo[] = [];
  let form: ScopeForm | undefined;
  let disposed = false;
  const nameOf = (id: string) => cameras.find((c) => c.id === id)?.name;

  role.addEventListener('change', () => form?.setRole(role.value as Role));
  void ctx.bridge.listCameras().then((r) => {
    if (disposed) return;
    cameras = unwrap(r, err) ?? [];
    form = scopeForm('pair', cameras);
    form.setRole(role.value as Role);
    access.append(form.el);
  });

  /** "as a guest: Front door, until …" for the confirm box. */
  function grantText(g: { role: Role; scope: ChosenScope }): string {
    if (g.scope.cameras.length === 0) return `as ${g.role === 'owner' ? 'an owner' : 'a viewer'} of every camera`;
    const s = { cameras: g.scope.cameras, from: g.scope.from, until: g.scope.until };
    return `as a ${g.role}: ${camerasText(s, nameOf)}, live only; ${windowText(s).toLowerCase()}`;
  }

  async function show(inv: Invite): Promise<void> {
    clear(stage);
    const canvas = h('canvas', { id: 'pair-qr', role: 'img', 'aria-label': 'Pairing QR code for the phone app' });
    await QRCode.toCanvas(canvas, inv.link, { errorCorrectionLevel: 'M', margin: 4, scale: 6, color: { dark: '#000000', light: '#ffffff' } });
    const link = h('input', { id: 'pair-link', readonly: true, value: inv.link });
    const copy = h('button', { type: 'button' }, 'Copy link');
    copy.addEventListener('click', () => {
      void navigator.clipboard?.writeText(inv.link).then(() => ctx.announce('Link copied'), () => link.select());
    });
    const expiry = h('p', { class: 'hint', id: 'pair-expiry' }, `Valid until ${new Date(inv.expiresAt * 1000).toLocaleTimeString()}.`);
    stage.append(
      h('div', { class: 'qr-box' }, canvas),
      h('div', { class: 'field' }, h('label', { for: 'pair-link' }, 'Or open this link on the phone'), h('div', { class: 'inline-form' }, link, copy)),
      expiry,
      h('p', { class: 'waiting', id: 'pair-status' }, 'Waiting for the phone to scan…'),
    );
  }

  function confirm(s: { code: string; name: string }): void {
    const status = stage.querySelector('#pair-status');
    if (stage.querySelector('#pair-confirm')) return;
    status?.remove();
    // The invite is single-use and now taken: the QR has done its job.
    for (const el of stage.querySelectorAll<HTMLElement>('.qr-box, .field, #pair-expiry')) el.hidden = true;
    const approve = h('button', { type: 'button', class: 'primary', id: 'pair-approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger', id: 'pair-reject' }, 'Reject');
    const box = h('div', { class: 'confirm-code', id: 'pair-confirm', role: 'group', 'aria-labelledby': 'pair-confirm-title' },
      h('h2', { id: 'pair-confirm-title' }, `"${s.name}" wants to pair`),
      h('p', {}, 'Approve only if the phone shows exactly this code:'),
      h('p', { class: 'code', id: 'pair-code', 'aria-label': `Code ${s.code.split('').join(' ')}` }, `${s.code.slice(0, 3)} ${s.code.slice(3)}`),
      h('p', { id: 'pair-grant' }, `It will pair ${granted === undefined ? 'as an owner' : grantText(granted)}.`),
      h('div', { class: 'buttons' }, approve, reject));
    stage.append(box);
    approve.addEventListener('click', () => {
      void (async () => {
        if (invite === undefined) return;
        approve.disabled = reject.disabled = true;
        const r = unwrap(await ctx.bridge.approveInvite(invite.id, granted?.role ?? 'owner'), err);
        if (r === undefined) approve.disabled = reject.disabled = false;
      })();
    });
    reject.addEventListener('click', () => {
      void (async () => {
        if (invite === undefined) return;
        approve.disabled = reject.disabled = true;
        unwrap(await ctx.bridge.refuseInvite(invite.id), err);
      })();
    });
    approve.focus();
    ctx.announce(`${s.name} wants to pair. Compare the code ${s.code}.`);
  }

  function finish(s: InviteStatus): void {
    clear(stage);
    switch (s.state) {
      case 'approved':
        stage.append(h('p', { class: 'success', id: 'pair-done' }, `Paired "${s.name}". It now receives this hub's keys. `), h('a', { href: '#/phones' }, 'See your phones'));
        ctx.announce(`Paired ${s.name}`);
        break;
      case 'refused':
        stage.append(h('p', { class: 'error', id: 'pair-done' }, 'Rejected: the phone was not added.'));
        break;
      case 'expired':
        stage.append(h('p', { class: 'error', id: 'pair-done' }, 'The code expired before a phone answered. Show a new one.'));
        break;
      case 'cancelled':
        stage.append(h('p', { class: 'error', id: 'pair-done' }, 'This invite was cancelled.'));
        break;
      case 'waiting':
      case 'confirm':
        break;
    }
    start.hidden = access.hidden = false;
    start.textContent = 'Pair another phone';
  }

  async function poll(): Promise<void> {
    if (disposed || invite === undefined) return;
    const r = await ctx.bridge.inviteStatus(invite.id);
    if (disposed) return;
    if (!r.ok) {
      unwrap(r, err);
    } else if (r.value.state === 'confirm') {
      confirm(r.value);
    } else if (r.value.state !== 'waiting') {
      finish(r.value);
      return;
    }
    timer = setTimeout(() => void poll(), POLL_MS);
  }

  start.addEventListener('click', () => {
    void (async () => {
      const r = role.value as Role;
      const scope = r === 'owner' || form === undefined ? { cameras: [], from: 0, until: 0 } : form.read();
      if (typeof scope === 'string') {
        unwrap({ ok: false, error: scope }, err);
        return;
      }
      start.disabled = true;
      clearTimeout(timer);
      // An owner's invite is as before; a viewer's or guest's keeps its role and scope on the hub.
      const made: InviteAccess | undefined = r === 'owner' ? undefined : { role: r, cameras: scope.cameras, from: scope.from, until: scope.until };
      const inv = unwrap(await ctx.bridge.createInvite(undefined, made), err);
      start.disabled = false;
      if (inv === undefined) return;
      invite = inv;
      granted = { role: r, scope };
      start.hidden = access.hidden = true;
      await show(inv);
      void poll();
    })();
  });

  return {
    el,
    dispose() {
      disposed = true;
      clearTimeout(timer);
    },
  };
};
