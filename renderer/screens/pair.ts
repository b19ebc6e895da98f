// Pair a phone: a one-time invite as a QR code and a link; when the phone answers, both show the
// same 6-digit code, and the owner approves or rejects here. Nothing is added without approval.
import QRCode from 'qrcode';
import type { Invite, InviteStatus, Role } from '../bridge.ts';
import { errorBox, unwrap, type ScreenFactory } from '../screen.ts';
import { clear, h } from '../dom.ts';

const POLL_MS = 600;

export const pairScreen: ScreenFactory = (ctx) => {
  const err = errorBox();
  const start = h('button', { type: 'button', class: 'primary', id: 'pair-start' }, 'Show a pairing code');
  const stage = h('div', { id: 'pair-stage', 'aria-live': 'polite' });
  const el = h('section', {}, h('h1', {}, 'Pair a phone'),
    h('p', {}, 'Open the Vigil app on the phone and scan the code. The code works once, for 10 minutes. Until you approve it here, the phone gets no keys.'),
    start, err, stage);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let invite: Invite | undefined;
  let disposed = false;

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
    const role = h('select', { id: 'pair-role' }, h('option', { value: 'owner' }, 'Owner: watches and controls cameras'), h('option', { value: 'viewer' }, 'Viewer: watches only'));
    const approve = h('button', { type: 'button', class: 'primary', id: 'pair-approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger', id: 'pair-reject' }, 'Reject');
    const box = h('div', { class: 'confirm-code', id: 'pair-confirm', role: 'group', 'aria-labelledby': 'pair-confirm-title' },
      h('h2', { id: 'pair-confirm-title' }, `"${s.name}" wants to pair`),
      h('p', {}, 'Approve only if the phone shows exactly this code:'),
      h('p', { class: 'code', id: 'pair-code', 'aria-label': `Code ${s.code.split('').join(' ')}` }, `${s.code.slice(0, 3)} ${s.code.slice(3)}`),
      h('div', { class: 'field' }, h('label', { for: 'pair-role' }, 'Role'), role),
      h('div', { class: 'buttons' }, approve, reject));
    stage.append(box);
    approve.addEventListener('click', () => {
      void (async () => {
        if (invite === undefined) return;
        approve.disabled = reject.disabled = true;
        const r = unwrap(await ctx.bridge.approveInvite(invite.id, role.value as Role), err);
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
    start.hidden = false;
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
      start.disabled = true;
      clearTimeout(timer);
      const inv = unwrap(await ctx.bridge.createInvite(), err);
      start.disabled = false;
      if (inv === undefined) return;
      invite = inv;
      start.hidden = true;
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
