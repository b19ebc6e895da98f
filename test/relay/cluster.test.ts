// Two relay nodes joined through a real nats-server: a hub on one node, phones on the other.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FLAG_KEYFRAME, RELAY_ERROR_CODES, RIGHT_COMMAND, RIGHT_WATCH } from '../../relay/codec.ts';
import { RelayClient, type MediaMessage } from '../../relay/client.ts';
import { startRelay, type RelayHandle, type RelayOptions } from '../../relay/server.ts';
import { RawClient, capabilityFor, eventually, makeKey, randomId, sleep } from './helpers.ts';
import { haveNats, startNats, startRelayProcess, type NatsServer, type RelayProcess } from './nats.ts';

let nats: NatsServer;
const relays: RelayHandle[] = [];
const clients: RawClient[] = [];
const relayClients: RelayClient[] = [];
const processes: RelayProcess[] = [];

beforeAll(async () => {
  if (haveNats) nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(relayClients.splice(0).map((c) => c.close()));
  await Promise.all(relays.splice(0).map((r) => r.close()));
  await Promise.all(processes.splice(0).map((p) => p.stop()));
});

/** In-process nodes on one NATS, with a short heartbeat so a lost peer is noticed quickly. */
async function nodes(n: number, options: RelayOptions = {}, natsUrl = nats.url): Promise<RelayHandle[]> {
  const prefix = `vigil.test${Math.floor(Math.random() * 1e9)}`; // tests do not hear each other
  const started: RelayHandle[] = [];
  for (let i = 0; i < n; i++) {
    started.push(await startRelay({ host: '127.0.0.1', port: 0, ...options, nats: { servers: [natsUrl], prefix, heartbeatMs: 200 } }));
  }
  relays.push(...started);
  await eventually(() => started.every((r) => r.stats().cluster?.peers === n - 1), 3000, 'nodes to see each other');
  return started;
}

async function twoNodes(options: RelayOptions = {}): Promise<[RelayHandle, RelayHandle]> {
  const [a, b] = await nodes(2, options);
  return [a as RelayHandle, b as RelayHandle];
}

async function login(r: RelayHandle, key = makeKey()): Promise<RawClient> {
  const c = await RawClient.login(r.url, key);
  clients.push(c);
  return c;
}

/** Subscribes, retrying while the grant is still on its way to this node. */
async function subscribeEventually(c: RawClient, hubRelayId: Uint8Array, topicId: Uint8Array): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await c.call({ type: 'subscribe', requestId: 0, hubRelayId, topicId })) === 'ok') return;
    await sleep(20);
  }
  throw new Error('subscribe never allowed');
}

const bytes = (n: number, b = 1): Uint8Array => new Uint8Array(n).fill(b);

describe.skipIf(!haveNats)('relay cluster over NATS', () => {
  it('a hub on node 1 streams to a phone on node 2; watchers, messages and mailboxes cross nodes', async () => {
    const [a, b] = await twoNodes();
    const hub = await login(a);
    const phone = await login(b);
    const stranger = await login(b);
    const topicId = randomId(16);
    expect(await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, phone.id, RIGHT_WATCH | RIGHT_COMMAND) })).toBe('ok');
    await subscribeEventually(phone, hub.id, topicId);
    // The hub hears the viewer on the other node.
    const w = await hub.next('watchers');
    expect(w).toMatchObject({ count: 1 });
    expect(w.topicId).toEqual(topicId);
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(1000, 7) });
    const media = await phone.next('media');
    expect(media).toMatchObject({ flags: FLAG_KEYFRAME, dropped: 0 });
    expect(media.hubRelayId).toEqual(hub.id);
    expect(media.payload).toEqual(bytes(1000, 7));
    expect(a.stats().cluster?.mediaOut).toBe(1);
    expect(b.stats().cluster?.mediaIn).toBe(1);

    // Direct messages both ways, along the replicated capability; a stranger is refused on its node.
    const refusedBefore = b.stats().refusals['no-capability'] ?? 0;
    expect(await phone.call({ type: 'send', requestId: 0, to: hub.id, payload: bytes(3, 1) })).toBe('ok');
    expect((await hub.next('message')).from).toEqual(phone.id);
    expect(await hub.call({ type: 'send', requestId: 0, to: phone.id, payload: bytes(3, 2) })).toBe('ok');
    expect((await phone.next('message')).payload).toEqual(bytes(3, 2));
    expect(await stranger.call({ type: 'send', requestId: 0, to: hub.id, payload: bytes(3) })).toBe('no-capability');
    expect(await stranger.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('no-capability');
    expect(b.stats().refusals['no-capability']).toBe(refusedBefore + 2);

    // Pairing: the hub's mailbox on node 1, the new phone's post on node 2, the hub's answer back.
    const mailboxId = randomId(16);
    const expiresAt = Math.floor(Date.now() / 1000) + 60;
    expect(await hub.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt })).toBe('ok');
    const other = await login(b);
    expect(await other.call({ type: 'mailbox-open', requestId: 0, mailboxId, expiresAt })).toBe('mailbox-taken');
    expect(await stranger.call({ type: 'mailbox-post', requestId: 0, mailboxId, payload: bytes(5, 9) })).toBe('ok');
    const posted = await hub.next('mailbox-message');
    expect(posted.from).toEqual(stranger.id);
    expect(await hub.call({ type: 'send', requestId: 0, to: stranger.id, payload: bytes(4) })).toBe('ok');
    expect((await stranger.next('message')).payload).toEqual(bytes(4));
    expect(await stranger.call({ type: 'mailbox-post', requestId: 0, mailboxId: randomId(16), payload: bytes(1) })).toBe('mailbox-closed');

    // The viewer leaves: the hub hears 0 and the hub's node stops publishing to NATS.
    expect(await phone.call({ type: 'unsubscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('ok');
    await eventually(() => hub.take('watchers').some((x) => x.count === 0), 3000, 'watchers 0');
    hub.send({ type: 'publish', requestId: 0, topicId, flags: 0, payload: bytes(10) });
    await eventually(() => a.stats().drops['no-subscriber'] === 1, 3000, 'no-subscriber drop');
    expect(a.stats().cluster?.mediaOut).toBe(1);
  });

  it('counts viewers on both nodes for the hub, and an offline target is offline', async () => {
    const [a, b] = await twoNodes();
    const hub = await login(a);
    const near = await login(a);
    const far = await login(b);
    const topicId = randomId(16);
    for (const d of [near, far]) await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, d.id) });
    await subscribeEventually(near, hub.id, topicId);
    await subscribeEventually(far, hub.id, topicId);
    await eventually(() => hub.messages.some((m) => m.type === 'watchers' && m.count === 2), 3000, 'watchers 2');
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(100, 3) });
    expect((await near.next('media')).payload).toEqual(bytes(100, 3));
    expect((await far.next('media')).payload).toEqual(bytes(100, 3));
    // far's node goes away cleanly: the hub's count falls back to the local viewer.
    far.ws.terminate();
    await eventually(() => hub.messages.some((m) => m.type === 'watchers' && m.count === 1), 3000, 'watchers 1');
    const gone = makeKey();
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, gone.publicKey) });
    expect(await hub.call({ type: 'send', requestId: 0, to: gone.publicKey, payload: bytes(1) })).toBe('offline');
  });

  it('a revocation on node 1 is effective on node 2 at once', async () => {
    const [a, b] = await twoNodes();
    const hub = await login(a);
    const phone = await login(b);
    const topicId = randomId(16);
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, phone.id) });
    await subscribeEventually(phone, hub.id, topicId);
    await hub.next('watchers');
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(10, 1) });
    await phone.next('media');

    expect(await hub.call({ type: 'revoke', requestId: 0, deviceRelayId: phone.id })).toBe('ok');
    const ended = await phone.next('unsubscribed');
    expect(ended.code).toBe('no-capability');
    expect(ended.hubRelayId).toEqual(hub.id);
    // Frames published after the revocation never reach it, and it can neither resubscribe nor message the hub.
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(10, 2) });
    await sleep(100);
    expect(phone.take('media')).toHaveLength(0);
    expect(await phone.call({ type: 'subscribe', requestId: 0, hubRelayId: hub.id, topicId })).toBe('no-capability');
    expect(await phone.call({ type: 'send', requestId: 0, to: hub.id, payload: bytes(1) })).toBe('no-capability');
    expect(b.stats().capabilities).toBe(0);
  });

  it('a slow viewer on node 2 costs bounded memory and never slows the other viewer or the hub', async () => {
    const maxMessageBytes = 64 * 1024;
    const queueBytes = 256 * 1024;
    const controlSlackBytes = 64 * 1024;
    const [a, b] = await twoNodes({ limits: { maxMessageBytes, queueBytes, controlSlackBytes, maxMessagesPerSecond: 100_000 } });
    const hub = await login(a);
    const slow = await login(b);
    const fast = await login(b);
    const topicId = randomId(16);
    for (const d of [slow, fast]) {
      await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, d.id) });
      await subscribeEventually(d, hub.id, topicId);
    }
    await eventually(() => hub.messages.some((m) => m.type === 'watchers' && m.count === 2), 3000, 'watchers 2');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const frames = 400; // 400 x 48 KiB = 19 MiB
    const fragment = bytes(48 * 1024, 0x42);
    let fastGot = 0;
    fast.ws.on('message', () => fastGot++);
    for (let i = 0; i < frames; i++) {
      hub.send({ type: 'publish', requestId: 0, topicId, flags: i % 100 === 0 ? FLAG_KEYFRAME : 0, payload: fragment });
      if (i % 4 === 3) await eventually(() => fastGot >= i + 1, 5000, 'fast viewer to keep up');
    }
    await eventually(() => fastGot >= frames, 5000, 'fast viewer to get every frame');
    const s = b.stats();
    expect(s.drops['slow-viewer']).toBeGreaterThan(0);
    expect(s.peakQueuedBytes).toBeLessThanOrEqual(queueBytes + controlSlackBytes);
    expect(a.stats().drops['slow-viewer']).toBe(0);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(10, 5) });
    const resumed = await slow.next((m): m is Extract<typeof m, { type: 'media' }> => m.type === 'media' && m.payload.length === 10, 10_000);
    expect(resumed.dropped).toBeGreaterThan(0);
  }, 40_000);

  it('a hub that moves to a third node hears the viewers at once, and they keep watching', async () => {
    const [a, b, c] = (await nodes(3)) as [RelayHandle, RelayHandle, RelayHandle];
    const hubKey = makeKey();
    const hub = await login(a, hubKey);
    const phone = await login(b);
    const topicId = randomId(16);
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, phone.id) });
    await subscribeEventually(phone, hub.id, topicId);
    await hub.next('watchers');
    hub.ws.terminate();
    // The hub comes back on node 3 and has not granted anything there yet.
    const moved = await login(c, hubKey);
    const w = await moved.next('watchers');
    expect(w.count).toBe(1);
    moved.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(10, 4) });
    expect((await phone.next('media')).payload).toEqual(bytes(10, 4));
  });

  it('a node that loses NATS says so on /healthz (503), and the cluster heals when NATS returns', async () => {
    const own = await startNats();
    const port = Number(new URL(own.url).port);
    let restarted: NatsServer | undefined;
    try {
      const [a, b] = (await nodes(2, {}, own.url)) as [RelayHandle, RelayHandle];
      const hub = await login(a);
      const phone = await login(b);
      const topicId = randomId(16);
      await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, phone.id) });
      await subscribeEventually(phone, hub.id, topicId);
      await eventually(() => hub.take('watchers').some((w) => w.count === 1), 3000, 'watchers 1');
      const health = async (r: RelayHandle) => (await fetch(`http://127.0.0.1:${r.port}/healthz`)).status;
      expect(await health(a)).toBe(200);

      await own.stop();
      await eventually(() => a.stats().cluster?.connected === false, 3000, 'node to notice');
      expect(await health(a)).toBe(503);
      // Meanwhile the peer is given up: the hub's count falls back to this node's viewers.
      await eventually(() => hub.take('watchers').some((w) => w.count === 0), 3000, 'watchers 0');

      restarted = await startNats(port);
      await eventually(() => a.stats().cluster?.connected === true && b.stats().cluster?.connected === true, 10_000, 'reconnect');
      expect(await health(a)).toBe(200);
      // Hello, announce and the viewer report again: the hub hears its viewer and streams to it.
      await eventually(() => hub.take('watchers').some((w) => w.count === 1), 5000, 'watchers 1 again');
      hub.send({ type: 'publish', requestId: 0, topicId, flags: FLAG_KEYFRAME, payload: bytes(10, 6) });
      expect((await phone.next((m): m is Extract<typeof m, { type: 'media' }> => m.type === 'media' && m.payload[0] === 6)).payload).toEqual(bytes(10, 6));
    } finally {
      await Promise.all(relays.splice(0).map((r) => r.close()));
      await restarted?.stop();
      await own.stop();
    }
  }, 30_000);

  it('a grant replicated through NATS is checked against the hub signature on every node', async () => {
    const [a, b] = await twoNodes();
    const hub = await login(a);
    const phone = await login(b);
    // A forged grant for this hub cannot even be registered on node 1, so none reaches node 2;
    // and a grant for another hub is refused where it is made.
    const forged = capabilityFor(makeKey(), phone.id);
    expect(await hub.call({ type: 'grant', requestId: 0, capability: forged })).toBe('bad-capability');
    await sleep(50);
    expect(b.stats().capabilities).toBe(0);
    await hub.call({ type: 'grant', requestId: 0, capability: capabilityFor(hub.key, phone.id) });
    await eventually(() => b.stats().capabilities === 1, 3000, 'grant on node 2');
  });

  it('one relay id, one connection across the cluster: a login on node 2 replaces node 1', async () => {
    const [a, b] = await twoNodes();
    const key = makeKey();
    const first = await login(a, key);
    const second = await login(b, key);
    expect((await first.closed).code).toBe(RELAY_ERROR_CODES.replaced);
    expect(await second.call({ type: 'ping', requestId: 0 })).toBe('ok');
  });

  it('a login captured on node 1 and replayed to node 2 is refused', async () => {
    const [a, b] = await twoNodes();
    const key = makeKey();
    const first = await RawClient.open(a.url, key);
    clients.push(first);
    const frame = first.loginFrame(new URL(a.url).host);
    first.send(frame);
    await first.next('ready');
    const replay = await RawClient.open(b.url, key);
    clients.push(replay);
    replay.send(frame);
    expect((await replay.closed).code).toBe(RELAY_ERROR_CODES['auth-failed']);
    expect(b.stats().closes['auth-failed']).toBe(1);
    expect(await first.call({ type: 'ping', requestId: 0 })).toBe('ok');
  });

  it('a node killed mid-stream: the phone resumes through the other node without re-pairing', async () => {
    const prefix = 'vigil.relay.v1';
    const [n1, n2, n3] = await Promise.all([1, 2, 3].map(() => startRelayProcess(nats.url, ['--nats-prefix', `${prefix}.kill`])));
    processes.push(n1 as RelayProcess, n2 as RelayProcess, n3 as RelayProcess);
    if (!n1 || !n2 || !n3) throw new Error('unreachable');
    const hubKey = makeKey();
    const phoneKey = makeKey();
    const topicId = randomId(16);
    let watchers = 0;
    const hub = new RelayClient({
      urls: [n1.url, n3.url],
      publicKey: hubKey.publicKey,
      sign: hubKey.sign,
      WebSocket,
      backoffMs: [100, 250, 500],
      onWatchers: (_t, n) => (watchers = n),
    });
    const media: MediaMessage[] = [];
    const phone = new RelayClient({
      urls: [n2.url, n3.url],
      publicKey: phoneKey.publicKey,
      sign: phoneKey.sign,
      WebSocket,
      backoffMs: [100, 250, 500],
      onMedia: (m) => media.push(m),
    });
    relayClients.push(hub, phone);
    await hub.waitReady();
    await hub.grant(capabilityFor(hubKey, phoneKey.publicKey));
    await phone.waitReady();
    expect(phone.url).toBe(n2.url);
    // The grant crosses NATS to node 2 while the phone logs in there: retry until it has arrived.
    for (let i = 0; ; i++) {
      const ok = await phone.subscribe(hubKey.publicKey, topicId).then(() => true, () => false);
      if (ok) break;
      if (i > 50) throw new Error('subscribe never allowed');
      await sleep(50);
    }
    await eventually(() => watchers === 1, 10_000, 'watchers on the hub');

    // The hub streams 50 fragments a second, a keyframe every 10.
    let seq = 0;
    const stream = setInterval(() => {
      const p = new Uint8Array(64);
      new DataView(p.buffer).setUint32(0, seq);
      hub.publish(topicId, seq % 10 === 0 ? FLAG_KEYFRAME : 0, p);
      seq++;
    }, 20);
    try {
      await eventually(() => media.length >= 20, 10_000, 'media through node 2');
      const killedAt = Date.now();
      const before = media.length;
      await n2.kill();
      await eventually(() => media.length >= before + 20, 15_000, 'media again through node 3');
      const resumedAfterMs = Date.now() - killedAt;
      expect(phone.url).toBe(n3.url);
      expect(hub.url).toBe(n1.url); // still cross-node: hub on 1, phone on 3
      expect(resumedAfterMs).toBeLessThan(5_000);
      const seqs = media.map((m) => new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
      // In order, and the first frame after the gap is one a decoder can start from.
      for (let i = 1; i < seqs.length; i++) expect(seqs[i] as number).toBeGreaterThan(seqs[i - 1] as number);
      console.log(`phone resumed through the other node ${resumedAfterMs} ms after the kill`);

      // Now the hub's node dies too: the hub moves to node 3, where the phone already is.
      const before2 = media.length;
      const killed2At = Date.now();
      await n1.kill();
      await eventually(() => media.length >= before2 + 20, 15_000, 'media again after the hub moved');
      const hubMovedMs = Date.now() - killed2At;
      expect(hub.url).toBe(n3.url);
      expect(hubMovedMs).toBeLessThan(5_000);
      console.log(`hub resumed streaming through node 3 ${hubMovedMs} ms after its node was killed`);
      const seqs2 = media.map((m) => new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
      for (let i = 1; i < seqs2.length; i++) expect(seqs2[i] as number).toBeGreaterThan(seqs2[i - 1] as number);
    } finally {
      clearInterval(stream);
    }
  }, 40_000);
});
