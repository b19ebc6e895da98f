import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  FLAG_INIT,
  FLAG_KEYFRAME,
  encodeMessage,
  RELAY_ERROR_CODES,
  RIGHT_COMMAND,
  RIGHT_WATCH,
  signCapability,
} from '../../relay/codec.ts';
import { encodeMediaFrame, startRelay, type RelayHandle, type RelayOptions } from '../../relay/server.ts';
import { RawClient, capabilityFor, eventually, makeKey, randomId, sleep } from './helpers.ts';

const relays: RelayHandle[] = [];
const clients: RawClient[] = [];

async function relay(options: RelayOptions = {}): Promise<RelayHandle> {
  const r = await startRelay({ host: '127.0.0.1', port: 0, ...options });
  relays.push(r);
  return r;
}
async function login(r: RelayHandle): Promise<RawClient> {
  const c = await RawClient.login(r.url);
  clients.push(c);
  return c;
}
async function open(r: RelayHandle): Promise<RawClient> {
  const c = await RawClient.open(r.url);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

const payload = (n: number, b = 1): Uint8Array => new Uint8Array(n).fill(b);

/** A hub and `n` devices, each device granted `rights`. */
async function hubWithDevices(r: RelayHandle, n: number, rights = RIGHT_WATCH | RIGHT_COMMAND) {
  const hub = await login(r);
  const devices: RawClient[] = [];
  for (let i = 0; i < n; i++) {
    const d = await login(r);
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, d.id, rights) })).toBe('ok');
    devices.push(d);
  }
  return { hub, devices };
}

describe('relay login', () => {
  it('logs in with a signature over challenge and host', async () => {
    const r = await relay();
    const c = await open(r);
    expect(c.challenge?.nonce.length).toBe(32);
    c.sendLogin(new URL(r.url).host);
    const ready = await c.next('ready');
    expect(ready.relayId).toEqual(c.id);
    expect(ready.maxMessageBytes).toBe(r.limits.maxMessageBytes);
  });

  it('refuses a bad signature with auth-failed', async () => {
    const r = await relay();
    const c = await open(r);
    const frame = c.loginFrame(new URL(r.url).host);
    if (frame.type !== 'login') throw new Error('unreachable');
    frame.signature[0] = (frame.signature[0] as number) ^ 1;
    c.send(frame);
    expect((await c.closed).code).toBe(RELAY_ERROR_CODES['auth-failed']);
  });

  it('refuses a login signed for another relay host', async () => {
    const r = await relay();
    const c = await open(r);
    c.sendLogin('relay.example.com');
    expect((await c.closed).code).toBe(RELAY_ERROR_CODES['auth-failed']);
  });

  it('refuses a login replayed to a second connection', async () => {
    const r = await relay();
    const key = makeKey();
    const first = await RawClient.open(r.url, key);
    clients.push(first);
    const frame = first.loginFrame(new URL(r.url).host);
    first.send(frame);
    await first.next('ready');
    const second = await RawClient.open(r.url, key);
    clients.push(second);
    second.send(frame); // a capture of the first login
    expect((await second.closed).code).toBe(RELAY_ERROR_CODES['auth-failed']);
  });

  it('closes a connection that does not log in in time', async () => {
    const r = await relay({ limits: { authTimeoutMs: 100 } });
    const c = await open(r);
    expect((await c.closed).code).toBe(RELAY_ERROR_CODES['auth-timeout']);
  });

  it('closes on a request before login, on garbage and on text', async () => {
    const r = await relay();
    const a = await open(r);
    a.send({ type: 'ping', requestId: 1 });
    expect((await a.closed).code).toBe(RELAY_ERROR_CODES['not-logged-in']);
    const b = await login(r);
    b.ws.send(new Uint8Array([1, 0x3f, 0]));
    expect((await b.closed).code).toBe(RELAY_ERROR_CODES['bad-frame']);
    const c = await login(r);
    c.ws.send('hello');
    expect((await c.closed).code).toBe(RELAY_ERROR_CODES['bad-frame']);
    const d = await login(r);
    d.ws.send(new Uint8Array([9, 0x0b, 0, 0, 0, 0]));
    expect((await d.closed).code).toBe(RELAY_ERROR_CODES['unsupported-version']);
  });

  it('closes the older connection when the same id logs in again', async () => {
    const r = await relay();
    const key = makeKey();
    const first = await RawClient.login(r.url, key);
    const second = await RawClient.login(r.url, key);
    clients.push(first, second);
    expect((await first.closed).code).toBe(RELAY_ERROR_CODES.replaced);
    expect(await second.call({ type: 'ping', requestId: 0 }).catch(() => 'x')).not.toBe('x');
  });

  it('terminates a connection that stops answering pings', async () => {
    const r = await relay({ limits: { authTimeoutMs: 100, idleTimeoutMs: 300 } });
    const alive = await login(r);
    const silent = await login(r);
    (silent.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(() => r.stats().closes['idle-timeout'] === 1, 3000, 'idle-timeout');
    expect(r.stats().loggedIn).toBe(1);
    expect(await alive.call({ type: 'ping', requestId: 0 })).toBe('ok');
  });

  it('closes an oversized frame with 1009 (too-large)', async () => {
    const r = await relay({ limits: { maxMessageBytes: 4096, queueBytes: 8192 } });
    const c = await login(r);
    c.send({ type: 'publish', requestId: 0, topicId: randomId(16), flags: 0, payload: payload(5000) });
    expect((await c.closed).code).toBe(1009);
    await eventually(() => r.stats().closes['too-large'] === 1);
  });

  it('limits connections per address', async () => {
    const r = await relay({ limits: { maxConnectionsPerAddress: 2 } });
    await open(r);
    await open(r);
    const ws = new WebSocket(r.url);
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(RELAY_ERROR_CODES['too-many-connections']);
    expect(r.stats().connections).toBe(2);
  });

  it('serves /healthz and /metrics, and 404 elsewhere', async () => {
    const r = await relay();
    await login(r);
    const base = `http://127.0.0.1:${r.port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, connections: 1, loggedIn: 1 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('vigil_relay_connections 1');
    expect(metrics).toContain('vigil_relay_drops_total{reason="slow-viewer"} 0');
    expect((await fetch(`${base}/other`)).status).toBe(404);
    const wrongPath = new WebSocket(`ws://127.0.0.1:${r.port}/v2`);
    await new Promise<void>((resolve) => wrongPath.on('error', () => resolve()));
  });
});

describe('relay capabilities and topics', () => {
  it('refuses a subscription without a capability', async () => {
    const r = await relay();
    const hub = await login(r);
    const device = await login(r);
    const topicId = randomId(16);
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('no-capability');
    // A COMMAND-only capability does not allow watching either.
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, device.id, RIGHT_COMMAND) });
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('no-capability');
    expect(await device.call({ type: 'ping', requestId: 0 })).toBe('ok'); // still connected
  });

  it('fans out to two viewers and tells the hub the watcher counts', async () => {
    const r = await relay();
    const { hub, devices } = await hubWithDevices(r, 2);
    const [a, b] = devices as [RawClient, RawClient];
    const topicId = randomId(16);
    expect(await a.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('ok');
    expect((await hub.next('watchers')).count).toBe(1);
    expect(await b.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('ok');
    expect((await hub.next('watchers')).count).toBe(2);

    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: new Uint8Array([1, 2, 3]) });
    for (const d of [a, b]) {
      const m = await d.next('media');
      expect(m).toMatchObject({ hubRelayId: hub.id, topicId, flags: FLAG_KEYFRAME, dropped: 0 });
      expect(m.payload).toEqual(new Uint8Array([1, 2, 3]));
    }
    // Another topic of the same hub reaches nobody.
    hub.send({ type: 'publish', requestId: 0, topicId: randomId(16), flags: 0, payload: payload(3) });

    expect(await a.call({ type: 'unsubscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('ok');
    expect((await hub.next('watchers')).count).toBe(1);
    await b.close();
    expect((await hub.next('watchers')).count).toBe(0);
    expect(a.take('media')).toEqual([]);
  });

  it('ends subscriptions at once on revoke', async () => {
    const r = await relay();
    const { hub, devices } = await hubWithDevices(r, 2);
    const [gone, stays] = devices as [RawClient, RawClient];
    const topicId = randomId(16);
    for (const d of devices) await d.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId });
    expect(await hub.call({ type: 'revoke', requestId: 0, deviceRelayId: gone.id })).toBe('ok');
    const ended = await gone.next('unsubscribed');
    expect(ended).toMatchObject({ hubRelayId: hub.id, topicId, code: 'no-capability' });
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: payload(10) });
    await stays.next('media');
    await sleep(50);
    expect(gone.take('media')).toEqual([]);
    // The revoked device may neither watch nor message the hub any more.
    expect(await gone.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('no-capability');
    expect(await gone.call({ type: 'send', requestId: 0, to: hub.id, payload: payload(2) })).toBe('no-capability');
    expect(await hub.call({ type: 'send', requestId: 0, to: gone.id, payload: payload(2) })).toBe('no-capability');
  });

  it('a narrower grant drops the subscription', async () => {
    const r = await relay();
    const { hub, devices } = await hubWithDevices(r, 1);
    const d = devices[0] as RawClient;
    const topicId = randomId(16);
    await d.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId });
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, d.id, RIGHT_COMMAND) });
    expect((await d.next('unsubscribed')).code).toBe('no-capability');
  });

  it('allows direct messages only along capabilities', async () => {
    const r = await relay();
    const { hub, devices } = await hubWithDevices(r, 1, RIGHT_COMMAND);
    const d = devices[0] as RawClient;
    const stranger = await login(r);

    expect(await d.call({ type: 'send', requestId: 0, to: hub.id, payload: new Uint8Array([7]) })).toBe('ok');
    expect(await hub.next('message')).toMatchObject({ from: d.id, payload: new Uint8Array([7]) });
    expect(await hub.call({ type: 'send', requestId: 0, to: d.id, payload: new Uint8Array([8]) })).toBe('ok');
    expect(await d.next('message')).toMatchObject({ from: hub.id, payload: new Uint8Array([8]) });

    expect(await stranger.call({ type: 'send', requestId: 0, to: hub.id, payload: payload(1) })).toBe('no-capability');
    expect(await hub.call({ type: 'send', requestId: 0, to: stranger.id, payload: payload(1) })).toBe('no-capability');
    expect(await d.call({ type: 'send', requestId: 0, to: stranger.id, payload: payload(1) })).toBe('no-capability');
    expect(await d.call({ type: 'send', requestId: 0, to: d.id, payload: payload(1) })).toBe('bad-request');
    // Permission first, then presence.
    expect(await stranger.call({ type: 'send', requestId: 0, to: randomId(32), payload: payload(1) })).toBe(
      'no-capability',
    );
    const later = makeKey();
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, later.publicKey) });
    expect(await hub.call({ type: 'send', requestId: 0, to: later.publicKey, payload: payload(1) })).toBe('offline');
  });

  it('refuses a capability signed by another hub, forged or expired', async () => {
    const r = await relay();
    const hubA = await login(r);
    const hubB = await login(r);
    const device = await login(r);
    const fromA = capabilityFor(hubA.key, device.id);
    expect(await hubB.call({ type: 'grant', requestId: 0, capability: fromA })).toBe('bad-capability');
    // Names hub B but was signed by hub A.
    const forged = signCapability(
      { hubRelayId: hubB.id, deviceRelayId: device.id, rights: RIGHT_WATCH, expiresAt: fromA.expiresAt },
      hubA.key.sign,
    );
    expect(await hubB.call({ type: 'grant', requestId: 0, capability: forged })).toBe('bad-capability');
    expect(await hubA.call({ type: 'grant', requestId: 0, capability: capabilityFor(hubA.key, device.id, RIGHT_WATCH, -10) })).toBe(
      'expired',
    );
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hubB.id, topicId: randomId(16) })).toBe(
      'no-capability',
    );
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hubA.id, topicId: randomId(16) })).toBe(
      'no-capability',
    );
    expect(r.stats().capabilities).toBe(0);
  });

  it('keeps a hub capability limit', async () => {
    const r = await relay({ limits: { maxCapabilitiesPerHub: 2, maxSubscriptionsPerConnection: 1 } });
    const hub = await login(r);
    const device = await login(r);
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, device.id) })).toBe('ok');
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, randomId(32)) })).toBe('ok');
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, randomId(32)) })).toBe(
      'limit-reached',
    );
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, device.id) })).toBe('ok');
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId: randomId(16) })).toBe('ok');
    expect(await device.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId: randomId(16) })).toBe(
      'limit-reached',
    );
  });

  it('keeps capabilities for hubGraceMs after the hub leaves, then drops what it did not grant again', async () => {
    const r = await relay({ limits: { hubGraceMs: 300, sweepIntervalMs: 50 } });
    const hubKey = makeKey();
    const hub = await RawClient.login(r.url, hubKey);
    clients.push(hub);
    const kept = await login(r);
    const dropped = await login(r);
    const topicId = randomId(16);
    for (const d of [kept, dropped]) {
      await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hubKey, d.id) });
      await d.call({ type: 'subscribe', requestId: 0, hubRelayId: hubKey.publicKey, topicId });
    }
    await hub.close();
    const back = await RawClient.login(r.url, hubKey);
    clients.push(back);
    expect((await back.next('watchers')).count).toBe(2); // told at once after login
    await back.call({ type: 'grant', requestId: 0, capability: capabilityFor(hubKey, kept.id) });
    expect((await dropped.next('unsubscribed', 2000)).code).toBe('no-capability');
    expect((await back.next('watchers')).count).toBe(1);
    back.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: payload(4) });
    await kept.next('media');
  });
});

describe('relay mailboxes', () => {
  it('carries pairing through a mailbox', async () => {
    const r = await relay({ limits: { maxMailboxPosts: 2 } });
    const hub = await login(r);
    const phone = await login(r);
    const otherHub = await login(r);
    const mailboxId = randomId(16);
    const expiresAt = Math.floor(Date.now() / 1000) + 300;

    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: payload(3) })).toBe('mailbox-closed');
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt })).toBe('ok');
    expect(await otherHub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt })).toBe('mailbox-taken');
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId: randomId(16), expiresAt: 1 })).toBe('expired');
    expect(
      await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId: randomId(16), expiresAt: expiresAt + 86_400 }),
    ).toBe('expired');

    // Before posting, the hub may not message the phone.
    expect(await hub.call({ type: 'send', requestId: 0, to: phone.id, payload: payload(1) })).toBe('no-capability');
    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: new Uint8Array([1, 2]) })).toBe('ok');
    expect(await hub.next('mailbox-message')).toMatchObject({ mailboxId, from: phone.id, payload: new Uint8Array([1, 2]) });
    expect(await hub.call({ type: 'send', requestId: 0, to: phone.id, payload: new Uint8Array([3]) })).toBe('ok');
    expect(await phone.next('message')).toMatchObject({ from: hub.id, payload: new Uint8Array([3]) });
    // The phone holds no capability yet: it talks through the mailbox only.
    expect(await phone.call({ type: 'send', requestId: 0, to: hub.id, payload: payload(1) })).toBe('no-capability');

    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: payload(1) })).toBe('ok');
    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: payload(1) })).toBe('mailbox-full');

    expect(await hub.call({ type: 'mailbox-close', requestId: 0, mailboxId })).toBe('ok');
    expect(await hub.call({ type: 'send', requestId: 0, to: phone.id, payload: payload(1) })).toBe('no-capability');
    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: payload(1) })).toBe('mailbox-closed');
    expect(r.stats().mailboxes).toBe(0);
  });

  it('closes mailboxes at expiry and when the hub leaves', async () => {
    const r = await relay({ limits: { sweepIntervalMs: 50, maxMailboxesPerHub: 1 } });
    const hub = await login(r);
    const phone = await login(r);
    const mailboxId = randomId(16);
    const soon = Math.floor(Date.now() / 1000) + 1;
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt: soon })).toBe('ok');
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId: randomId(16), expiresAt: soon + 60 })).toBe(
      'limit-reached',
    );
    await eventually(() => r.stats().mailboxes === 0, 3000, 'expiry');
    expect(await phone.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: payload(1) })).toBe('mailbox-closed');
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt: soon + 60 })).toBe('ok');
    await hub.close();
    await eventually(() => r.stats().mailboxes === 0, 1000, 'hub leaving');
  });
});

describe('relay flow control', () => {
  it('drops media for a slow viewer until the next keyframe, without slowing others', async () => {
    const maxMessageBytes = 64 * 1024;
    const queueBytes = 256 * 1024;
    const controlSlackBytes = 64 * 1024;
    const r = await relay({ limits: { maxMessageBytes, queueBytes, controlSlackBytes, maxMessagesPerSecond: 100_000 } });
    const { hub, devices } = await hubWithDevices(r, 2);
    const [slow, fast] = devices as [RawClient, RawClient];
    const topicId = randomId(16);
    for (const d of devices) await d.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId });
    // The slow viewer stops reading: its TCP window fills, then the relay's queue for it.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const frames = 500; // 500 x 48 KiB = 23 MiB, far beyond what the socket buffers of a paused reader hold
    const fragment = payload(48 * 1024, 0x42);
    let fastGot = 0;
    fast.ws.on('message', () => fastGot++);
    // The hub sends in real time: a few fragments, then as fast as the fast viewer takes them.
    for (let i = 0; i < frames; i++) {
      hub.send({ type: 'publish', requestId: 0, topicId, flags: i % 100 === 0 ? FLAG_KEYFRAME : 0, payload: fragment });
      if (i % 4 === 3) await eventually(() => fastGot >= i + 1, 5000, 'fast viewer to keep up');
    }
    await eventually(() => fastGot >= frames, 5000, 'fast viewer to get every frame');
    expect(fast.take('media').every((m) => m.dropped === 0)).toBe(true);
    const stats = r.stats();
    expect(stats.drops['slow-viewer']).toBeGreaterThan(0);
    expect(stats.peakQueuedBytes).toBeLessThanOrEqual(queueBytes + controlSlackBytes);
    expect(r.stats().queuedBytes).toBeLessThanOrEqual(queueBytes + controlSlackBytes);

    // It reads again; once its backlog drains, the next keyframe resumes it and says how many it missed.
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await eventually(() => r.stats().queuedBytes === 0, 10_000, 'slow viewer backlog to drain');
    hub.send({ type: 'publish', requestId: 0, topicId, flags: 0, payload: payload(10, 1) }); // still dropped
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_INIT, payload: payload(10, 2) });
    hub.send({ type: 'publish', requestId: 0, topicId, flags: 0, payload: payload(10, 3) });
    const resumed = await slow.next((m): m is Extract<typeof m, { type: 'media' }> => m.type === 'media' && m.payload.length === 10, 10_000);
    expect(resumed.flags).toBe(FLAG_INIT);
    expect(resumed.dropped).toBeGreaterThan(0);
    const after = await slow.next((m): m is Extract<typeof m, { type: 'media' }> => m.type === 'media' && m.payload.length === 10);
    expect(after).toMatchObject({ flags: 0, dropped: 0 });
    expect(after.payload[0]).toBe(3);
    const received = slow.take('media').length;
    expect(received).toBeLessThan(frames);
  }, 60_000);

  it('rate-limits a flooding connection', async () => {
    const r = await relay({ limits: { maxMessagesPerSecond: 20 } });
    const c = await login(r);
    for (let i = 0; i < 60; i++) c.send({ type: 'ping', requestId: i + 1 });
    await eventually(() => c.messages.filter((m) => m.type === 'error' && m.code === 'rate-limited').length > 0);
    expect(r.stats().drops['rate-limited']).toBeGreaterThan(0);
  });
});

describe('relay logs', () => {
  it('logs short ids, sizes and codes only: never payloads, capabilities or full ids', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
      info: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
      warn: (e: string, f?: object) => lines.push(JSON.stringify({ e, ...f })),
    };
    const r = await relay({ logger });
    const { hub, devices } = await hubWithDevices(r, 1);
    const d = devices[0] as RawClient;
    const secret = new TextEncoder().encode('CAMERA-Front-Door-PLAINTEXT-MARKER');
    const topicId = randomId(16);
    const mailboxId = randomId(16);
    const cap = capabilityFor(hub.key, d.id);
    await hub.call({ type: 'grant', requestId: 0, capability: cap });
    await d.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId });
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: secret });
    await d.next('media');
    await hub.call({ type: 'send', requestId: 0, to: d.id, payload: secret });
    await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt: Math.floor(Date.now() / 1000) + 60 });
    await d.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: secret });
    await d.call({ type: 'send', requestId: 0, to: randomId(32), payload: secret }); // refused, logged at debug
    await hub.call({ type: 'revoke', requestId: 0, deviceRelayId: d.id });
    await d.close();
    await eventually(() => lines.some((l) => l.includes('connection-closed')));

    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    const forms = (b: Uint8Array) => [
      Buffer.from(b).toString('hex'),
      Buffer.from(b).toString('base64'),
      Buffer.from(b).toString('base64url'),
      Buffer.from(b).toString('latin1'),
    ];
    for (const form of forms(secret)) expect(log).not.toContain(form);
    for (const b of [hub.id, d.id, topicId, mailboxId, cap.signature]) {
      for (const form of forms(b)) expect(log).not.toContain(form);
    }
    expect(log).not.toContain(Buffer.from(mailboxId).toString('hex').slice(0, 8));
    expect(log).not.toContain('127.0.0.1');
    expect(log).toContain(Buffer.from(hub.id).toString('hex').slice(0, 8)); // short ids are fine
  });
});

describe('relay media frame', () => {
  it('builds media frames byte for byte as the codec does', () => {
    for (const n of [0, 1, 1000, 60_000]) {
      const hubRelayId = randomId(32);
      const topicId = randomId(16);
      const p = randomId(n);
      for (const flags of [0, FLAG_KEYFRAME, FLAG_INIT]) {
        expect(new Uint8Array(encodeMediaFrame(hubRelayId, topicId, flags, p))).toEqual(
          encodeMessage({ type: 'media', hubRelayId, topicId, flags, dropped: 0, payload: p }),
        );
      }
    }
  });
});
