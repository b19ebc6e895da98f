// Shared by the relay tests: Ed25519 keys from node:crypto, and a raw protocol client on ws that
// shows every frame, so tests see exactly what the relay sends.

import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { WebSocket } from 'ws';
import {
  RIGHT_WATCH,
  decodeServerMessage,
  encodeMessage,
  loginMessage,
  signCapability,
  type Capability,
  type ClientMessage,
  type RelayErrorCode,
  type ServerMessage,
  type Signer,
} from '../../relay/codec.ts';

export interface TestKey {
  publicKey: Uint8Array;
  sign: Signer;
}

export function makeKey(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    sign: (m) => new Uint8Array(edSign(null, m, privateKey)),
  };
}

export function randomId(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function capabilityFor(hub: TestKey, device: Uint8Array, rights = RIGHT_WATCH, ttlSeconds = 3600): Capability {
  return signCapability(
    { hubRelayId: hub.publicKey, deviceRelayId: device, rights, expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds },
    hub.sign,
  );
}

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export class RawClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  challenge: Of<'challenge'> | undefined;

  private constructor(readonly ws: WebSocket, readonly key: TestKey) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer) => {
      this.messages.push(decodeServerMessage(new Uint8Array(data)));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, key: TestKey = makeKey()): Promise<RawClient> {
    const ws = new WebSocket(url);
    const client = new RawClient(ws, key);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    });
    client.challenge = await client.next('challenge');
    return client;
  }

  /** Opens and logs in; `host` defaults to the URL's host, as a real client signs. */
  static async login(url: string, key: TestKey = makeKey()): Promise<RawClient> {
    const client = await RawClient.open(url, key);
    client.sendLogin(new URL(url).host);
    await client.next('ready');
    return client;
  }

  get id(): Uint8Array {
    return this.key.publicKey;
  }

  loginFrame(host: string): ClientMessage {
    const c = this.challenge as Of<'challenge'>;
    return { type: 'login', publicKey: this.key.publicKey, signature: this.key.sign(loginMessage(c.nonce, c.connectionId, host)) };
  }

  sendLogin(host: string): void {
    this.send(this.loginFrame(host));
  }

  send(m: ClientMessage): void {
    this.ws.send(encodeMessage(m));
  }

  /** Sends a request and resolves with 'ok' or the relay's error code. */
  async call(m: ClientMessage): Promise<'ok' | RelayErrorCode> {
    const requestId = this.nextId++;
    this.send({ ...m, requestId } as ClientMessage);
    const answer = await this.next(
      (x): x is Of<'ok'> | Of<'error'> | Of<'pong'> =>
        (x.type === 'ok' || x.type === 'error' || x.type === 'pong') && x.requestId === requestId,
    );
    return answer.type === 'error' ? answer.code : 'ok';
  }

  /** Takes the first message of this type (or matching the guard), waiting up to timeoutMs. */
  next<T extends ServerMessage['type']>(type: T, timeoutMs?: number): Promise<Of<T>>;
  next<M extends ServerMessage>(guard: (m: ServerMessage) => m is M, timeoutMs?: number): Promise<M>;
  async next(sel: string | ((m: ServerMessage) => boolean), timeoutMs = 3000): Promise<ServerMessage> {
    const match = typeof sel === 'string' ? (m: ServerMessage) => m.type === sel : sel;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0] as ServerMessage;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${typeof sel === 'string' ? sel : 'a message'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every message of this type received so far, removed from the queue. */
  take<T extends ServerMessage['type']>(type: T): Of<T>[] {
    const out: Of<T>[] = [];
    for (let i = 0; i < this.messages.length; ) {
      const m = this.messages[i] as ServerMessage;
      if (m.type === type) {
        out.push(m as Of<T>);
        this.messages.splice(i, 1);
      } else i++;
    }
    return out;
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.closed;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() is true or the time is up. */
export async function eventually(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
