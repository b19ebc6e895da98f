// The hub's side of pairing. An invite opens a relay mailbox named by its id; a phone's PAIR_1 and
// PAIR_CONFIRM arrive there. Only after the confirmation authenticates (so the phone holds the
// invite secret) does the request wait for the owner, with the 6-digit code to compare. Approval
// adds the phone to the roster, single use, and answers with the certificate.
import { CryptoError, isCryptoError } from '../crypto/errors.ts';
import type { HubIdentity } from '../crypto/identity.ts';
import { formatInviteLink, newInvite } from '../crypto/invite.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../crypto/messages.ts';
import { acceptPairing, pairingInviteId, type HubPairing } from '../crypto/pairing.ts';
import type { Role } from '../crypto/certificate.ts';
import { bytesToHex, hexToBytes } from './hex.ts';
import type { Device, Store } from './store/db.ts';
import type { InviteAccess, InviteStatus } from '../contract/hub-ui.ts';
import { resolveAccess } from './phones/scope.ts';

export const DEFAULT_INVITE_TTL_SECONDS = 10 * 60;
/** Pairing attempts kept per invite: a flood of bogus PAIR_1 messages cannot grow memory. */
const MAX_ATTEMPTS_PER_INVITE = 8;

/** An invite's state as the UI shows it (contract/hub-ui.ts). */
export type { InviteStatus };

interface Attempt {
  readonly from: Uint8Array;
  readonly pairing: HubPairing;
  /** The link (cloud relay or LAN endpoint) the phone reached us on. */
  readonly via: Pick<PairingTransport, 'send'>;
}

interface OpenInviteState {
  readonly id: string;
  readonly link: string;
  readonly expiresAt: number;
  attempts: Attempt[];
  /** The attempt that proved the secret and now waits for the owner. */
  confirmed?: Attempt & { code: string };
  status: InviteStatus;
}

export interface PairingTransport {
  openMailbox(id: Uint8Array, expiresAt: number): Promise<void>;
  closeMailbox(id: Uint8Array): Promise<void>;
  send(to: Uint8Array, payload: Uint8Array): Promise<void>;
}

export interface PairingDeskEvents {
  onPaired(device: Device): Promise<void> | void;
  onStatus?(inviteId: string, status: InviteStatus): void;
}

export class PairingDesk {
  readonly #invites = new Map<string, OpenInviteState>();

  constructor(
    private readonly hub: HubIdentity,
    private readonly store: Store,
    private readonly transport: PairingTransport,
    private readonly relays: () => readonly string[],
    private readonly events: PairingDeskEvents,
    private readonly appUrl?: string,
    /** Unix ms (Date.now; tests inject a clock). */
    private readonly now: () => number = Date.now,
  ) {}

  /** With `access`, the phone it pairs gets exactly that role and scope (PROTOCOL §16.3), whatever approves it. */
  async createInvite(ttlSeconds = DEFAULT_INVITE_TTL_SECONDS, access?: InviteAccess): Promise<{ id: string; link: string; expiresAt: number }> {
    const granted = access === undefined ? undefined : resolveAccess(this.store, access, this.now());
    const now = Math.floor(this.now() / 1000);
    const invite = newInvite(this.hub, { relays: this.relays(), now, ttlSeconds });
    const id = this.store.addInvite({ inviteId: invite.inviteId, secret: invite.secret, expiresAt: invite.expiresAt, ...(granted ?? {}) });
    const link = formatInviteLink(invite, this.appUrl);
    this.#invites.set(id, { id, link, expiresAt: invite.expiresAt, attempts: [], status: { state: 'waiting' } });
    await this.transport.openMailbox(invite.inviteId, invite.expiresAt);
    this.store.audit('owner', 'invite-created', {
      invite: id.slice(0, 8), expiresAt: invite.expiresAt,
      ...(granted ? { role: granted.role, ...(granted.scope ? { cameras: granted.scope.cameras.length, from: granted.scope.from, until: granted.scope.until } : {}) } : {}),
    });
    return { id, link, expiresAt: invite.expiresAt };
  }

  status(id: string): InviteStatus | undefined {
    const open = this.#invites.get(id);
    if (open !== undefined) {
      if (open.status.state === 'waiting' || open.status.state === 'confirm') {
        if (this.now() / 1000 >= open.expiresAt) this.#finish(open, { state: 'expired' });
      }
      return open.status;
    }
    const stored = this.store.getInvite(id);
    if (stored === undefined) return undefined;
    if (stored.state === 'used' && stored.deviceId) {
      const device = this.store.getDevice(stored.deviceId);
      return { state: 'approved', deviceId: stored.deviceId, name: device?.name ?? '' };
    }
    if (stored.state === 'open') return { state: 'waiting' };
    return { state: stored.state === 'cancelled' ? 'cancelled' : 'expired' };
  }

  /** A message in one of our mailboxes. Anything that does not check out is dropped quietly. */
  onMailboxMessage(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array, via: Pick<PairingTransport, 'send'> = this.transport): void {
    const open = this.#invites.get(bytesToHex(mailboxId));
    if (open === undefined || (open.status.state !== 'waiting' && open.status.state !== 'confirm')) return;
    let env;
    try {
      env = decodeEnvelope(payload);
    } catch {
      return;
    }
    try {
      if (env.kind === Envelope.PAIR_1) this.#onPair1(open, from, env.body, via);
      else if (env.kind === Envelope.PAIR_CONFIRM) this.#onConfirm(open, from, env.body);
    } catch (e) {
      if (!isCryptoError(e)) throw e;
      // Wrong secret, wrong hub key, replays: the attempt just fails; the invite stays open.
    }
  }

  #onPair1(open: OpenInviteState, from: Uint8Array, message1: Uint8Array, via: Pick<PairingTransport, 'send'>): void {
    if (open.confirmed !== undefined || open.attempts.length >= MAX_ATTEMPTS_PER_INVITE) return;
    if (bytesToHex(pairingInviteId(message1)) !== open.id) return;
    const stored = this.store.getInvite(open.id);
    if (stored === undefined || stored.secret === null || stored.state !== 'open') return;
    const pairing = acceptPairing({
      hub: this.hub,
      invite: { inviteId: hexToBytes(open.id), secret: stored.secret, expiresAt: stored.expiresAt, used: false },
      message1,
      now: this.now() / 1000,
    });
    open.attempts.push({ from, pairing, via });
    void via.send(from, encodeEnvelope(Envelope.PAIR_2, pairing.message2)).catch(() => undefined);
  }

  #onConfirm(open: OpenInviteState, from: Uint8Array, confirmation: Uint8Array): void {
    if (open.confirmed !== undefined) return;
    for (const attempt of open.attempts) {
      if (bytesToHex(attempt.from) !== bytesToHex(from)) continue;
      let code: string;
      try {
        code = attempt.pairing.readConfirmation(confirmation);
      } catch {
        continue; // an earlier attempt from the same phone: try the next
      }
      open.confirmed = { ...attempt, code };
      open.status = { state: 'confirm', code, name: attempt.pairing.name };
      this.events.onStatus?.(open.id, open.status);
      return;
    }
  }

  async approve(id: string, role: Role = 'owner'): Promise<Device> {
    const open = this.#invites.get(id);
    const confirmed = open?.confirmed;
    if (open === undefined || confirmed === undefined || open.status.state !== 'confirm') {
      throw new CryptoError('forbidden', 'approve', 'no phone is waiting for approval on this invite');
    }
    if (this.now() / 1000 >= open.expiresAt) {
      this.#finish(open, { state: 'expired' });
      throw new CryptoError('expired', 'approve', 'the invite expired before it was approved');
    }
    // An invite made for a role and scope pairs exactly that: approving it as anything else is refused.
    const made = this.store.getInvite(id);
    if (made?.role != null && made.role !== role) {
      throw new CryptoError('forbidden', 'approve', `this invite is for a ${made.role}; approve it as one`);
    }
    if (role === 'guest' && made?.scope == null) throw new CryptoError('forbidden', 'approve', 'a guest needs an invite made with --camera');
    if (made?.scope != null && made.scope.until !== 0 && this.now() >= made.scope.until) {
      throw new CryptoError('expired', 'approve', 'the window this invite grants has ended');
    }
    const { certificate, message3 } = confirmed.pairing.approve(role, this.now() / 1000);
    // One transaction: the phone is on the roster exactly when its invite is used up.
    const device = this.store.transaction(() => {
      const d = this.store.addDevice({ name: confirmed.pairing.name, certificate, scope: made?.scope ?? null });
      if (!this.store.markInviteUsed(id, d.id)) throw new CryptoError('replayed', 'approve', 'this invite was already used');
      return d;
    });
    this.store.audit('owner', 'paired', { device: device.id, name: device.name, role, ...(device.scope ? { cameras: device.scope.cameras.length, from: device.scope.from, until: device.scope.until } : {}) });
    await this.events.onPaired(device);
    await confirmed.via.send(confirmed.from, encodeEnvelope(Envelope.PAIR_RESULT, message3)).catch(() => undefined);
    this.#finish(open, { state: 'approved', deviceId: device.id, name: device.name });
    return device;
  }

  async refuse(id: string): Promise<void> {
    const open = this.#invites.get(id);
    if (open === undefined) throw new CryptoError('forbidden', 'refuse', 'no such open invite');
    if (open.confirmed !== undefined) {
      await open.confirmed.via.send(open.confirmed.from, encodeEnvelope(Envelope.PAIR_RESULT, open.confirmed.pairing.refuse())).catch(() => undefined);
    }
    this.store.cancelInvite(id);
    this.store.audit('owner', 'pairing-refused', { invite: id.slice(0, 8) });
    this.#finish(open, { state: 'refused' });
  }

  #finish(open: OpenInviteState, status: InviteStatus): void {
    open.status = status;
    open.attempts = [];
    open.confirmed = undefined;
    if (status.state === 'expired') this.store.expireInvites();
    void this.transport.closeMailbox(hexToBytes(open.id)).catch(() => undefined);
    this.events.onStatus?.(open.id, status);
  }

  /** Re-opens the mailboxes of invites still open (after a hub restart they live in the store). */
  expireStaleInvites(): void {
    // Invites are not carried across hub restarts: the secret would have to stay readable. The store
    // expires them; the owner makes a new one.
    this.store.expireInvites(Number.MAX_SAFE_INTEGER);
  }
}
