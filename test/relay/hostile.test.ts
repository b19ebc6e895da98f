// Hostile and broken clients: each is refused with its documented code, at bounded cost, and
// counted in /metrics.

import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RELAY_ERROR_CODES } from '../../relay/codec.ts';
import { startRelay, type RelayHandle, type RelayOptions } from '../../relay/server.ts';
import { RawClient, eventually, makeKey, randomId } from './helpers.ts';

const relays: RelayHandle[] = [];
const clients: RawClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

async function relay(options: RelayOptions = {}): Promise<RelayHandle> {
  const r = await startRelay({ host: '127.0.0.1', port: 0, ...options });
  relays.push(r);
  return r;
}

async function metrics(r: RelayHandle): Promise<string> {
  return (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(name.length + 1));
}

function rawSocket(r: RelayHandle): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(r.port, '127.0.0.1');
    sockets.push(s);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** What the relay wrote before closing the socket, and when it closed. */
function outcome(s: Socket): Promise<{ data: string; afterMs: number }> {
  const start = Date.now();
  let data = '';
  s.on('data', (d: Buffer) => (data += d.toString()));
  s.on('error', () => {});
  return new Promise((resolve) => s.once('close', () => resolve({ data, afterMs: Date.now() - start })));
}

describe('hostile clients', () => {
  it('slow-loris: an upgrade request that never completes is answered 408 after handshakeTimeoutMs', async () => {
    const r = await relay({ limits: { handshakeTimeoutMs: 300 } });
    const s = await rawSocket(r);
    const done = outcome(s);
    s.write('GET /v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'); // and never the blank line
    const silent = await rawSocket(r); // connects and says nothing at all
    const silentDone = outcome(silent);
    expect(r.stats().pendingHandshakes).toBe(2);
    const { data, afterMs } = await done;
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    expect(afterMs).toBeLessThan(2000);
    await silentDone;
    await eventually(() => r.stats().pendingHandshakes === 0, 2000, 'pending handshakes to clear');
    const text = await metrics(r);
    expect(metric(text, 'vigil_relay_handshake_refusals_total{reason="headers-timeout"}')).toBeGreaterThanOrEqual(1);
  });

  it('a flood of half-open handshakes from one address is cut at maxHandshakesPerAddress', async () => {
    const r = await relay({ limits: { maxHandshakesPerAddress: 4, handshakeTimeoutMs: 5000 } });
    const held = await Promise.all([1, 2, 3, 4].map(() => rawSocket(r)));
    await eventually(() => r.stats().pendingHandshakes === 4, 2000, 'four pending');
    const extra = await Promise.all([1, 2, 3].map(() => rawSocket(r)));
    const results = await Promise.all(extra.map(outcome));
    expect(results.every((x) => x.data === '')).toBe(true); // closed at once, nothing parsed
    expect(r.stats().handshakeRefusals['too-many-handshakes']).toBe(3);
    expect(r.stats().pendingHandshakes).toBe(4);
    // A real client still gets in once the flood's sockets are gone.
    for (const s of held) s.destroy();
    await eventually(() => r.stats().pendingHandshakes === 0, 2000, 'pending to clear');
    const ok = await RawClient.login(r.url);
    clients.push(ok);
    expect(metric(await metrics(r), 'vigil_relay_handshake_refusals_total{reason="too-many-handshakes"}')).toBe(3);
  });

  it('an unauthenticated flood: over the per-address cap is refused 4006, the rest time out 4003', async () => {
    const r = await relay({ limits: { maxConnectionsPerAddress: 5, authTimeoutMs: 300 } });
    const idle = await Promise.all([1, 2, 3, 4, 5].map(() => RawClient.open(r.url)));
    clients.push(...idle);
    const over = new WebSocket(r.url);
    const overCode = await new Promise<number>((resolve) => over.on('close', (c) => resolve(c)));
    expect(overCode).toBe(RELAY_ERROR_CODES['too-many-connections']);
    expect(r.stats().connections).toBe(5);
    const codes = await Promise.all(idle.map((c) => c.closed.then((x) => x.code)));
    expect(codes.every((c) => c === RELAY_ERROR_CODES['auth-timeout'])).toBe(true);
    const text = await metrics(r);
    expect(metric(text, 'vigil_relay_closes_total{code="too-many-connections"}')).toBe(1);
    expect(metric(text, 'vigil_relay_closes_total{code="auth-timeout"}')).toBe(5);
    expect(metric(text, 'vigil_relay_connections')).toBe(0);
  });

  it('a burst of connections at once: every one past the per-address cap gets 4006, none is dropped silently', async () => {
    const r = await relay({ limits: { maxConnectionsPerAddress: 5 } });
    const codes = await Promise.all(
      Array.from({ length: 60 }, () =>
        new Promise<number | 'challenged'>((resolve) => {
          const ws = new WebSocket(r.url);
          ws.on('message', () => resolve('challenged'));
          ws.on('close', (c) => resolve(c));
          ws.on('error', () => {});
        }),
      ),
    );
    expect(codes.filter((c) => c === 'challenged')).toHaveLength(5);
    expect(codes.filter((c) => c === RELAY_ERROR_CODES['too-many-connections'])).toHaveLength(55);
    expect(r.stats().handshakeRefusals['too-many-handshakes']).toBe(0);
  });

  it('an oversized frame closes with 1009 before login too, and the relay never buffers it', async () => {
    const r = await relay({ limits: { maxMessageBytes: 4096, queueBytes: 8192 } });
    const c = await RawClient.open(r.url);
    clients.push(c);
    c.ws.send(new Uint8Array(64 * 1024));
    expect((await c.closed).code).toBe(1009);
    await eventually(() => r.stats().closes['too-large'] === 1, 2000, 'too-large counted');
    expect(r.stats().bytesIn).toBe(0);
    expect(metric(await metrics(r), 'vigil_relay_closes_total{code="too-large"}')).toBe(1);
  });

  it('a subscription without a capability is refused with no-capability (4100) and counted', async () => {
    const r = await relay();
    const hub = await RawClient.login(r.url);
    const phone = await RawClient.login(r.url);
    clients.push(hub, phone);
    expect(await phone.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId: randomId(16) })).toBe('no-capability');
    expect(await phone.call({ type: 'subscribe', requestId: 0, hubRelayId: randomId(32), topicId: randomId(16) })).toBe('no-capability');
    expect(RELAY_ERROR_CODES['no-capability']).toBe(4100);
    expect(metric(await metrics(r), 'vigil_relay_refusals_total{code="no-capability"}')).toBe(2);
    expect(r.stats().subscriptions).toBe(0);
  });

  it('a replayed login is refused with auth-failed (4002) and counted', async () => {
    const r = await relay();
    const key = makeKey();
    const first = await RawClient.open(r.url, key);
    clients.push(first);
    const frame = first.loginFrame(new URL(r.url).host);
    first.send(frame);
    await first.next('ready');
    const replay = await RawClient.open(r.url, key);
    clients.push(replay);
    replay.send(frame);
    expect((await replay.closed).code).toBe(RELAY_ERROR_CODES['auth-failed']);
    expect(metric(await metrics(r), 'vigil_relay_closes_total{code="auth-failed"}')).toBe(1);
    // The victim's own connection is untouched.
    expect(await first.call({ type: 'ping', requestId: 0 })).toBe('ok');
  });

  it('garbage instead of HTTP is answered 400 and counted', async () => {
    const r = await relay();
    const s = await rawSocket(r);
    const done = outcome(s);
    s.write('\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n');
    expect((await done).data).toMatch(/^HTTP\/1\.1 400/);
    expect(r.stats().handshakeRefusals['bad-request']).toBe(1);
  });
});
