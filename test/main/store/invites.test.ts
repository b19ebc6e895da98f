import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Secret } from '../../../crypto/secret.ts';
import { clock, open, raw, tempDataDir } from './helpers.ts';

const DEVICE = 'd0'.repeat(16);

function invite(expiresAt: number): { inviteId: Uint8Array; secret: Secret; expiresAt: number } {
  return { inviteId: randomBytes(16), secret: new Secret(randomBytes(32), 'invite secret'), expiresAt };
}

describe('invites', () => {
  it('stores an open invite with its secret sealed', () => {
    const c = clock();
    const dir = tempDataDir();
    const store = open(dir, { now: c.now });
    const inv = invite(c.now() + 300);
    const id = store.addInvite(inv);
    expect(id).toBe(Buffer.from(inv.inviteId).toString('hex'));
    const got = store.getInvite(inv.inviteId);
    expect(got).toMatchObject({ id, createdAt: c.now(), expiresAt: c.now() + 300, state: 'open', deviceId: null });
    expect(Buffer.from(got?.secret?.expose() ?? []).equals(Buffer.from(inv.secret.expose()))).toBe(true);
    expect(String(got?.secret)).toBe('[secret invite secret]');
    raw(dir, (db) => {
      const row = db.prepare<[string], { secret: Buffer }>('SELECT secret FROM invites WHERE id = ?').get(id);
      expect(row?.secret.includes(Buffer.from(inv.secret.expose()))).toBe(false);
    });
  });

  it('is single use, and the secret is forgotten once used', () => {
    const c = clock();
    const store = open(tempDataDir(), { now: c.now });
    const id = store.addInvite(invite(c.now() + 300));
    expect(store.markInviteUsed(id, DEVICE)).toBe(true);
    expect(store.markInviteUsed(id, DEVICE)).toBe(false);
    expect(store.markInviteUsed(id, 'e0'.repeat(16))).toBe(false);
    expect(store.getInvite(id)).toMatchObject({ state: 'used', deviceId: DEVICE, secret: null });
  });

  it('is single use between two stores on the same database', () => {
    const c = clock();
    const dir = tempDataDir();
    const hub = open(dir, { now: c.now });
    const cli = open(dir, { now: c.now });
    const id = hub.addInvite(invite(c.now() + 300));
    const results = [cli.markInviteUsed(id, DEVICE), hub.markInviteUsed(id, DEVICE)];
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('expires: cannot be used after its time, reads as expired, and expireInvites marks it', () => {
    const c = clock();
    const store = open(tempDataDir(), { now: c.now });
    const soon = store.addInvite(invite(c.now() + 60));
    const later = store.addInvite(invite(c.now() + 600));
    c.set(c.now() + 60);
    expect(store.getInvite(soon)).toMatchObject({ state: 'expired', secret: null });
    expect(store.markInviteUsed(soon, DEVICE)).toBe(false);
    expect(store.expireInvites()).toBe(1);
    expect(store.expireInvites()).toBe(0);
    expect(store.getInvite(later)?.state).toBe('open');
    expect(store.expireInvites(c.now() + 10_000)).toBe(1);
    expect(store.getInvite(later)?.state).toBe('expired');
  });

  it('can be cancelled while open', () => {
    const c = clock();
    const store = open(tempDataDir(), { now: c.now });
    const id = store.addInvite(invite(c.now() + 300));
    expect(store.cancelInvite(id)).toBe(true);
    expect(store.cancelInvite(id)).toBe(false);
    expect(store.markInviteUsed(id, DEVICE)).toBe(false);
    expect(store.getInvite(id)).toMatchObject({ state: 'cancelled', secret: null });
    expect(store.getInvite('00'.repeat(16))).toBeUndefined();
    expect(() => store.addInvite({ ...invite(1), inviteId: id })).toThrow(/already exists/);
  });

  it('claims the invite and adds the device in one transaction when asked', () => {
    const c = clock();
    const store = open(tempDataDir(), { now: c.now });
    const id = store.addInvite(invite(c.now() + 300));
    expect(() => store.transaction(() => {
      if (!store.markInviteUsed(id, DEVICE)) throw new Error('invite already used');
      throw new Error('certificate could not be issued');
    })).toThrow(/certificate/);
    expect(store.getInvite(id)?.state).toBe('open'); // rolled back with the failure
  });
});
