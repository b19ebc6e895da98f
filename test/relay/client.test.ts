import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { FLAG_KEYFRAME, PUBLISH_HEADER_BYTES, RIGHT_COMMAND, RIGHT_WATCH, toHex, writePublishHeader } from '../../relay/codec.ts';
import {
  RelayClient,
  RelayClientError,
  classifyClose,
  classifySocketError,
  normaliseRelayUrl,
  type MediaMessage,
  type RelayClientOptions,
  type RelayFailure,
} from '../../relay/client.ts';
import { startRelay, type RelayHandle } from '../../relay/server.ts';
import { capabilityFor, eventually, makeKey, randomId, type TestKey } from './helpers.ts';
import { closedPort } from '../support/ports.ts';

const relays: RelayHandle[] = [];
const clients: RelayClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

async function relay(port = 0): Promise<RelayHandle> {
  const r = await startRelay({ host: '127.0.0.1', port });
  relays.push(r);
  return r;
}

interface Seen {
  media: MediaMessage[];
  messages: { from: string; payload: number[] }[];
  mailbox: { from: Uint8Array; payload: number[] }[];
  watchers: number[];
  errors: RelayClientError[];
  states: string[];
  failures: RelayFailure[];
}

function client(url: string, key: TestKey = makeKey(), extra: Partial<RelayClientOptions> = {}) {
  const seen: Seen = { media: [], messages: [], mailbox: [], watchers: [], errors: [], states: [], failures: [] };
  const c = new RelayClient({
    url,
    publicKey: key.publicKey,
    sign: key.sign,
    WebSocket,
    backoffMs: [50, 100, 200],
    onMedia: (m) => seen.media.push(m),
    onMessage: (from, payload) => seen.messages.push({ from: toHex(from), payload: [...payload] }),
    onMailboxMessage: (_id, from, payload) => seen.mailbox.push({ from: from.slice(), payload: [...payload] }),
    onWatchers: (_topic, count) => seen.watchers.push(count),
    onError: (e) => seen.errors.push(e),
    onStateChange: (s) => seen.states.push(s),
    onFailure: (f) => seen.failures.push(f),
    ...extra,
  });
  clients.push(c);
  return { c, key, seen };
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    expect(e).toBeInstanceOf(RelayClientError);
    return (e as RelayClientError).code;
  }
}

describe('RelayClient', () => {
  it('grants, subscribes, publishes and messages through the relay', async () => {
    const r = await relay();
    const hub = client(r.url);
    const phone = client(r.url);
    await Promise.all([hub.c.waitReady(), phone.c.waitReady()]);
    expect(hub.seen.states).toEqual(['ready']); // it starts in 'connecting'
    const topicId = randomId(16);

    expect(await rejection(phone.c.subscribe(hub.key.publicKey, topicId))).toBe('no-capability');
    await hub.c.grant(capabilityFor(hub.key, phone.key.publicKey, RIGHT_WATCH | RIGHT_COMMAND));
    await phone.c.subscribe(hub.key.publicKey, topicId);
    await eventually(() => hub.seen.watchers.at(-1) === 1);

    expect(hub.c.publish(topicId, FLAG_KEYFRAME, new Uint8Array([1, 2, 3]))).toBe(true);
    await eventually(() => phone.seen.media.length === 1);
    expect(phone.seen.media[0]).toMatchObject({ flags: FLAG_KEYFRAME, dropped: 0, payload: new Uint8Array([1, 2, 3]) });

    await phone.c.send(hub.key.publicKey, new Uint8Array([4]));
    await hub.c.send(phone.key.publicKey, new Uint8Array([5]));
    await eventually(() => hub.seen.messages.length === 1 && phone.seen.messages.length === 1);
    expect(hub.seen.messages[0]).toEqual({ from: toHex(phone.key.publicKey), payload: [4] });
    expect(phone.seen.messages[0]).toEqual({ from: toHex(hub.key.publicKey), payload: [5] });

    expect(await rejection(hub.c.send(makeKey().publicKey, new Uint8Array(1)))).toBe('no-capability');
    const offline = makeKey();
    await hub.c.grant(capabilityFor(hub.key, offline.publicKey));
    expect(await rejection(hub.c.send(offline.publicKey, new Uint8Array(1)))).toBe('offline');

    await hub.c.revoke(phone.key.publicKey);
    await eventually(() => hub.seen.watchers.at(-1) === 0);
    expect(await rejection(phone.c.send(hub.key.publicKey, new Uint8Array(1)))).toBe('no-capability');
  });

  it('runs the pairing mailbox', async () => {
    const r = await relay();
    const hub = client(r.url);
    const phone = client(r.url);
    await Promise.all([hub.c.waitReady(), phone.c.waitReady()]);
    const invite = randomId(16);
    expect(await rejection(phone.c.postMailbox(invite, new Uint8Array([1])))).toBe('mailbox-closed');
    await hub.c.openMailbox(invite, Math.floor(Date.now() / 1000) + 120);
    await phone.c.postMailbox(invite, new Uint8Array([9, 9]));
    await eventually(() => hub.seen.mailbox.length === 1);
    expect(hub.seen.mailbox[0]?.payload).toEqual([9, 9]);
    await hub.c.send(hub.seen.mailbox[0]?.from as Uint8Array, new Uint8Array([7]));
    await eventually(() => phone.seen.messages.length === 1);
    await hub.c.closeMailbox(invite);
    expect(await rejection(phone.c.postMailbox(invite, new Uint8Array([1])))).toBe('mailbox-closed');
  });

  it('reconnects after the relay restarts on the same port and replays its standing state', async () => {
    const first = await relay();
    const port = first.port;
    const hub = client(first.url);
    const phone = client(first.url);
    await Promise.all([hub.c.waitReady(), phone.c.waitReady()]);
    const topicId = randomId(16);
    const invite = randomId(16);
    await hub.c.grant(capabilityFor(hub.key, phone.key.publicKey));
    await hub.c.openMailbox(invite, Math.floor(Date.now() / 1000) + 120);
    await phone.c.subscribe(hub.key.publicKey, topicId);
    await eventually(() => hub.seen.watchers.at(-1) === 1);

    await first.close();
    relays.splice(relays.indexOf(first), 1);
    await eventually(() => hub.c.state !== 'ready' && phone.c.state !== 'ready');
    expect(hub.seen.errors.map((e) => e.code)).toContain('shutting-down');
    expect(hub.c.publish(topicId, 0, new Uint8Array(1))).toBe(false);

    const second = await relay(port); // a fresh relay: it remembers nothing
    expect(second.stats().capabilities).toBe(0);
    await Promise.all([hub.c.waitReady(5000), phone.c.waitReady(5000)]);
    // The grant, the mailbox and the subscription come back without the application's help.
    await eventually(() => second.stats().subscriptions === 1, 5000, 'subscription replayed');
    expect(second.stats()).toMatchObject({ capabilities: 1, mailboxes: 1 });
    await eventually(() => hub.seen.watchers.at(-1) === 1);
    hub.c.publish(topicId, FLAG_KEYFRAME, new Uint8Array([42]));
    await eventually(() => phone.seen.media.some((m) => m.payload[0] === 42));
    expect(hub.seen.states.filter((s) => s === 'ready')).toHaveLength(2);
  });

  it('reports a refused login and keeps trying with backoff until closed', async () => {
    const r = await startRelay({ host: '127.0.0.1', port: 0, publicHosts: ['relay.example'] });
    relays.push(r);
    const c = client(r.url);
    await eventually(() => c.seen.errors.filter((e) => e.code === 'auth-failed').length >= 2, 3000);
    expect(c.c.state).not.toBe('ready');
    expect(await rejection(c.c.send(makeKey().publicKey, new Uint8Array(1)))).toBe('not-connected');
    await c.c.close();
    expect(c.c.state).toBe('closed');
    expect(await rejection(c.c.waitReady())).toBe('closed');
  });

  it('leaves no timers or sockets behind after close()', async () => {
    const r = await relay();
    const count = () => process.getActiveResourcesInfo().filter((x) => x === 'Timeout' || x === 'TCPSocketWrap').length;
    const before = count();
    const c = client(r.url, makeKey(), { keepaliveMs: 50 });
    await c.c.waitReady();
    await c.c.subscribe(randomId(32), randomId(16)).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 120)); // a few keepalive pings
    expect(c.c.state).toBe('ready');
    await c.c.close();
    await eventually(() => r.stats().connections === 0);
    await eventually(() => count() <= before, 2000, 'handles to go');
  });

  it('moves to the next of several relay URLs when one fails, signing for each host', async () => {
    const dead = await relay();
    const deadUrl = dead.url;
    await dead.close();
    relays.splice(relays.indexOf(dead), 1);
    const live = await relay();
    // The second URL names the same relay as 'localhost': the login must sign that host, not the first's.
    const liveByName = live.url.replace('127.0.0.1', 'localhost');
    const key = makeKey();
    const c = client(deadUrl, key, { url: undefined, urls: [deadUrl, liveByName] });
    await c.c.waitReady(5000);
    expect(c.c.url).toBe(liveByName);
    expect(c.c.urls).toEqual([deadUrl, liveByName]);
    expect(live.stats().loggedIn).toBe(1);
  });

  it('checks its options', () => {
    const key = makeKey();
    expect(() => new RelayClient({ url: 'http://x/v1', publicKey: key.publicKey, sign: key.sign, WebSocket })).toThrow(/ws:/);
    expect(() => new RelayClient({ url: 'ws://x/v1', publicKey: new Uint8Array(3), sign: key.sign, WebSocket })).toThrow(
      /publicKey/,
    );
    expect(
      () => new RelayClient({ url: 'ws://x/v1', publicKey: key.publicKey, sign: key.sign, WebSocket, backoffMs: [] }),
    ).toThrow(/backoffMs/);
    expect(() => new RelayClient({ publicKey: key.publicKey, sign: key.sign, WebSocket })).toThrow(/url or urls/);
    expect(() => new RelayClient({ urls: ['ws://a/v1', 'https://b/v1'], publicKey: key.publicKey, sign: key.sign, WebSocket })).toThrow(/ws:/);
  });
});

describe('frames over the relay limit', () => {
  it('are refused by the client (typed error), and the connection stays up for the next ones', async () => {
    const r = await startRelay({ host: '127.0.0.1', port: 0, limits: { maxMessageBytes: 64 * 1024 } });
    relays.push(r);
    const hub = client(r.url);
    await hub.c.waitReady();
    const topic = randomId(16);
    expect(hub.c.publish(topic, FLAG_KEYFRAME, new Uint8Array(64 * 1024))).toBe(false);
    expect(hub.seen.errors.map((e) => e.code)).toContain('too-large');
    expect(await rejection(hub.c.send(randomId(32), new Uint8Array(64 * 1024)))).toBe('too-large');
    // Still logged in: a frame that fits goes out.
    expect(hub.c.state).toBe('ready');
    expect(hub.c.publish(topic, FLAG_KEYFRAME, new Uint8Array(1024))).toBe(true);
    await new Promise((res) => setTimeout(res, 200));
    expect(hub.c.state).toBe('ready');
    // The same limit for messages built in place.
    const big = new Uint8Array(PUBLISH_HEADER_BYTES + 64 * 1024);
    writePublishHeader(big, topic, FLAG_KEYFRAME);
    const errors = hub.seen.errors.length;
    expect(hub.c.publishMessage(big)).toBe(false);
    expect(hub.seen.errors.slice(errors).map((e) => e.code)).toEqual(['too-large']);
  });
});

describe('publish messages built in place (the hub\'s send buffer)', () => {
  it('each arrives as it was when sent, though the next is written into the same buffer at once', async () => {
    const r = await relay();
    // Without compression, as the hub connects: ws then frames each message inside send().
    class Uncompressed extends WebSocket {
      constructor(url: string) {
        super(url, { perMessageDeflate: false });
      }
    }
    const hub = client(r.url, makeKey(), { WebSocket: Uncompressed as unknown as RelayClientOptions['WebSocket'] });
    const phone = client(r.url);
    await Promise.all([hub.c.waitReady(), phone.c.waitReady()]);
    const topicId = randomId(16);
    await hub.c.grant(capabilityFor(hub.key, phone.key.publicKey, RIGHT_WATCH));
    await phone.c.subscribe(hub.key.publicKey, topicId);
    await eventually(() => hub.seen.watchers.at(-1) === 1);

    const buffer = new Uint8Array(PUBLISH_HEADER_BYTES + 256 * 1024);
    const sizes = [1, 3_000, 200_000, 8_192, 70_000, 5];
    sizes.forEach((size, i) => {
      const message = buffer.subarray(0, PUBLISH_HEADER_BYTES + size);
      message.fill(i + 1, PUBLISH_HEADER_BYTES);
      writePublishHeader(message, topicId, i === 0 ? FLAG_KEYFRAME : 0);
      expect(hub.c.publishMessage(message)).toBe(true);
      buffer.fill(0xff); // what a reused buffer looks like a moment later
    });
    await eventually(() => phone.seen.media.length === sizes.length);
    expect(phone.seen.media.map((m) => [m.payload.length, m.payload.every((b) => b === m.payload[0]) ? m.payload[0] : -1]))
      .toEqual(sizes.map((size, i) => [size, i + 1]));
  });
});

/** Loopback servers that are not relays, closed after each test. */
const servers: { close(): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listening<T extends Server | WebSocketServer>(server: T, listen: (port: number, cb: () => void) => void): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => listen(0, resolve));
  return ((server as { address(): AddressInfo | string | null }).address() as AddressInfo).port;
}


/** Waits for several attempts, then checks the reason was reported exactly once. */
async function failsOnceWith(c: ReturnType<typeof client>, code: string): Promise<RelayFailure> {
  await eventually(() => c.seen.states.filter((s) => s === 'waiting').length >= 3, 5000, 'three failed attempts');
  expect(c.seen.failures.map((f) => f.code)).toEqual([code]);
  expect(c.c.failure).toEqual(c.seen.failures[0]);
  expect(c.c.state).not.toBe('ready');
  return c.seen.failures[0]!;
}

describe('relay URLs', () => {
  it('take an empty path or / as the protocol path, and keep any other', () => {
    expect(normaliseRelayUrl('ws://127.0.0.1:8787')).toBe('ws://127.0.0.1:8787/v1');
    expect(normaliseRelayUrl('ws://127.0.0.1:8787/')).toBe('ws://127.0.0.1:8787/v1');
    expect(normaliseRelayUrl('wss://relay.example')).toBe('wss://relay.example/v1');
    expect(normaliseRelayUrl('ws://[::1]:9?x=1')).toBe('ws://[::1]:9/v1?x=1');
    expect(normaliseRelayUrl('ws://127.0.0.1:8787/v1')).toBe('ws://127.0.0.1:8787/v1');
    expect(normaliseRelayUrl('wss://relay.example/vigil/v1')).toBe('wss://relay.example/vigil/v1');
    expect(() => normaliseRelayUrl('http://relay.example')).toThrow(/ws:/);
    expect(() => normaliseRelayUrl('relay.example:8787')).toThrow();
  });

  it('without a path reach the relay on /v1 (and the same URL twice is one)', async () => {
    const r = await relay();
    const bare = `ws://127.0.0.1:${r.port}`;
    const c = client(bare, makeKey(), { url: undefined, urls: [bare, `${bare}/`, r.url] });
    await c.c.waitReady(3000);
    expect(c.c.url).toBe(r.url);
    expect(c.c.urls).toEqual([r.url]);
    expect(c.seen.failures).toEqual([]);
    expect(c.c.failure).toBeUndefined();
  });
});

describe('why a connection fails', () => {
  it('classifies what ws reports before the socket opens', () => {
    const err = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
    const cases: [unknown, string, RegExp][] = [
      [err('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'), 'refused', /connection refused/],
      [err('getaddrinfo ENOTFOUND relay.invalid', 'ENOTFOUND'), 'dns', /does not resolve \(DNS: ENOTFOUND\)/],
      [err('getaddrinfo EAI_AGAIN relay.example', 'EAI_AGAIN'), 'dns', /EAI_AGAIN/],
      [err('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls', /TLS handshake failed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/],
      [err("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), 'tls', /ERR_TLS_CERT_ALTNAME_INVALID/],
      [err('certificate has expired', 'CERT_HAS_EXPIRED'), 'tls', /CERT_HAS_EXPIRED/],
      [err('wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER'), 'tls', /does not speak TLS/],
      [err('Unexpected server response: 404'), 'http-status', /^404: no Vigil relay at this URL \(a Vigil relay answers on \/v1\)$/],
      [err('Unexpected server response: 502'), 'http-status', /^502: /],
      [err('Parse Error: Expected HTTP/', 'HPE_INVALID_CONSTANT'), 'not-websocket', /does not speak WebSocket \(HPE_INVALID_CONSTANT\)/],
      [err('Invalid Sec-WebSocket-Accept header'), 'not-websocket', /does not speak WebSocket/],
      [err('Invalid WebSocket frame: invalid opcode 7', 'WS_ERR_INVALID_OPCODE'), 'protocol', /WS_ERR_INVALID_OPCODE/],
      [err('connect EHOSTUNREACH 10.0.0.1:443', 'EHOSTUNREACH'), 'unreachable', /EHOSTUNREACH/],
      [err('socket hang up', undefined), 'unreachable', /during the handshake/],
      [{ type: 'error' }, 'unreachable', /no detail/], // a browser's Event
      [undefined, 'unreachable', /no detail/],
    ];
    for (const [error, code, message] of cases) {
      const r = classifySocketError(error);
      expect(r.code, String((error as Error | undefined)?.message)).toBe(code);
      expect(r.message).toMatch(message);
    }
    expect(classifySocketError(err('Unexpected server response: 404')).status).toBe(404);
  });

  it('classifies the relay close codes, and a close with none', () => {
    const cases: [number, boolean, string, RegExp][] = [
      [4001, true, 'protocol-version', /another version of the relay protocol \(this client speaks v1\)/],
      [4002, true, 'login-refused', /auth-failed/],
      [4003, true, 'login-refused', /auth-timeout/],
      [4006, true, 'busy', /too-many-connections/],
      [4007, true, 'replaced', /another connection/],
      [4010, true, 'shutting-down', /shutting down/],
      [4008, true, 'closed-by-relay', /slow-consumer/],
      [1009, true, 'closed-by-relay', /too-large/],
      [1006, true, 'dropped', /lost/],
      [1000, true, 'dropped', /closed \(1000\)/],
      [1006, false, 'unreachable', /no detail/],
    ];
    for (const [closeCode, opened, code, message] of cases) {
      const r = classifyClose(closeCode, opened);
      expect(r.code, `close ${closeCode}`).toBe(code);
      expect(r.message).toMatch(message);
    }
  });

  it('says "refused" once for a closed port, however often it retries, and again after a login', async () => {
    const port = await closedPort();
    const c = client(`ws://127.0.0.1:${port}`);
    const f = await failsOnceWith(c, 'refused');
    expect(f.url).toBe(`ws://127.0.0.1:${port}/v1`);
    // The relay comes up there: the failure clears; it goes down again: a new report.
    const r = await relay(port);
    await c.c.waitReady(3000);
    expect(c.c.failure).toBeUndefined();
    await r.close();
    relays.splice(relays.indexOf(r), 1);
    await eventually(() => c.seen.failures.length >= 2, 3000, 'a second report');
    expect(c.seen.failures[1]!.code).toBe('shutting-down');
  });

  it('says "404: no Vigil relay at this URL" for an HTTP server, and for a relay asked on another path', async () => {
    const http = createServer((_req, res) => res.writeHead(404).end('nothing here\n'));
    const port = await listening(http, (p, cb) => http.listen(p, '127.0.0.1', cb));
    const c = client(`ws://127.0.0.1:${port}/`);
    const f = await failsOnceWith(c, 'http-status');
    expect(f).toMatchObject({ status: 404, message: '404: no Vigil relay at this URL (a Vigil relay answers on /v1)' });

    const r = await relay();
    const wrong = client(`ws://127.0.0.1:${r.port}/relay`);
    expect((await failsOnceWith(wrong, 'http-status')).status).toBe(404);
    // What the relay answers there, in words, for a person with curl.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(r.port, '127.0.0.1', () => socket.end(
        'GET /relay HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(answer).toMatch(/\r\n\r\nno Vigil relay at this URL; try \/v1\n$/);
  });

  it('says TLS for wss:// to a relay without TLS', async () => {
    const r = await relay();
    const c = client(`wss://127.0.0.1:${r.port}/v1`);
    expect((await failsOnceWith(c, 'tls')).message).toMatch(/^TLS handshake failed \(\w+\): the server does not speak TLS/);
  });

  it('says the login was refused, and a relay of another protocol version', async () => {
    const r = await startRelay({ host: '127.0.0.1', port: 0, publicHosts: ['relay.example'] });
    relays.push(r);
    expect((await failsOnceWith(client(r.url), 'login-refused')).message).toMatch(/auth-failed/);

    // A relay that speaks version 2: its first frame's first byte is 2.
    const v2 = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    v2.on('connection', (ws) => ws.send(new Uint8Array([2, 0x40, ...new Uint8Array(48)])));
    await new Promise<void>((resolve) => v2.once('listening', resolve));
    servers.push(v2);
    const port = (v2.address() as AddressInfo).port;
    expect((await failsOnceWith(client(`ws://127.0.0.1:${port}`), 'protocol-version')).message).toMatch(/speaks v1/);
  });
});
