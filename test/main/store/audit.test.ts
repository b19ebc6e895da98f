import { describe, expect, it } from 'vitest';
import { Secret } from '../../../crypto/secret.ts';
import { clock, open, tempDataDir } from './helpers.ts';

describe('audit log', () => {
  it('lists newest first, with limit, since and paging', () => {
    const c = clock(1000);
    const store = open(tempDataDir(), { now: c.now });
    const phone = 'ab'.repeat(16);
    store.audit('owner', 'camera-added', { camera: 1, name: 'Porch' });
    c.set(1010);
    store.audit(phone, 'paired', { role: 'viewer' });
    c.set(1010);
    store.audit(phone, 'watched', { camera: 1 });
    c.set(1020);
    const last = store.audit('hub', 'command-refused', { device: phone, reason: 'replayed' });
    expect(store.listAudit().map((e) => e.action)).toEqual(['command-refused', 'watched', 'paired', 'camera-added']);
    expect(store.listAudit({ limit: 2 }).map((e) => e.action)).toEqual(['command-refused', 'watched']);
    expect(store.listAudit({ since: 1010 }).map((e) => e.action)).toEqual(['command-refused', 'watched', 'paired']);
    expect(store.listAudit({ before: last - 1, limit: 10 }).map((e) => e.action)).toEqual(['paired', 'camera-added']);
    expect(store.listAudit({ limit: 1 })[0]).toEqual({
      id: last, at: 1020, actor: 'hub', action: 'command-refused', detail: { device: phone, reason: 'replayed' },
    });
  });

  it('keeps the same order when the clock goes backwards', () => {
    const c = clock(2000);
    const store = open(tempDataDir(), { now: c.now });
    store.audit('hub', 'epoch', { epoch: 1 });
    c.set(1500);
    store.audit('hub', 'epoch', { epoch: 2 });
    expect(store.listAudit().map((e) => e.detail['epoch'])).toEqual([2, 1]);
  });

  it('refuses secrets, bytes and unknown actors in the log', () => {
    const store = open(tempDataDir());
    expect(() => store.audit('hub', 'camera-added', { password: 'x' })).toThrow(/must not hold "password"/);
    expect(() => store.audit('hub', 'paired', { nested: { inviteSecret: 'x' } })).toThrow(/must not hold/);
    expect(() => store.audit('hub', 'paired', { key: new Uint8Array(32) })).toThrow(/binary/);
    expect(() => store.audit('hub', 'paired', { k: new Secret(new Uint8Array(1), 's') })).toThrow(/binary/);
    expect(() => store.audit('somebody', 'paired')).toThrow(/actor/);
    expect(() => store.audit('hub', 'x' as never)).toThrow(/unknown action/);
    expect(() => store.audit('hub', 'paired', { note: 'x'.repeat(5000) })).toThrow(/longer than/);
    expect(store.listAudit()).toEqual([]);
  });
});
