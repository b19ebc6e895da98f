// Mailboxes (README §6.2): a hub opens one per invite so that a phone it does not know yet can reach
// it; anyone may post to it a bounded number of times until it expires, and the hub may then message
// whoever posted. A mailbox lives only while its hub is connected. In a cluster a mailbox id is held
// by one node, and posts and queries for it from other nodes reach that node over NATS.

import type { RelayErrorCode } from '../codec.ts';
import type { Connections } from './connections.ts';
import { toHex, type HubState, type HubTable, type LoggedInConnection, type Mailbox, type RelayContext } from './state.ts';

export class Mailboxes {
  /** Every mailbox open on this node, by mailbox id hex. */
  private readonly byKey = new Map<string, Mailbox>();

  constructor(
    private readonly ctx: RelayContext,
    private readonly connections: Connections,
    private readonly hubs: HubTable,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  async open(conn: LoggedInConnection, requestId: number, key: string, expiresAtMs: number, now: number): Promise<void> {
    const { limits, cluster } = this.ctx;
    if (expiresAtMs <= now || expiresAtMs > now + limits.maxMailboxTtlMs) {
      return this.connections.refuse(conn, requestId, 'expired');
    }
    if (!this.byKey.has(key) && cluster) {
      // Invite ids are random, so a clash means someone is squatting on another hub's invite.
      if ((await cluster.queryMailbox(key, conn.id)) === 'taken') {
        return this.connections.refuse(conn, requestId, 'mailbox-taken');
      }
      if (conn.detached) return;
    }
    const existing = this.byKey.get(key);
    if (existing) {
      if (existing.hub.idHex !== conn.idHex) return this.connections.refuse(conn, requestId, 'mailbox-taken');
      existing.expiresAtMs = expiresAtMs;
      return this.connections.ok(conn, requestId);
    }
    const hub = this.hubs.hubOf(conn);
    if (hub.mailboxes.size >= limits.maxMailboxesPerHub || this.byKey.size >= limits.maxMailboxes) {
      return this.connections.refuse(conn, requestId, 'limit-reached');
    }
    const mailbox: Mailbox = { key, hub, expiresAtMs, posts: 0, posters: new Set() };
    hub.mailboxes.set(key, mailbox);
    this.byKey.set(key, mailbox);
    if (cluster) await cluster.claimMailbox(key);
    this.connections.ok(conn, requestId);
  }

  close(conn: LoggedInConnection, requestId: number, key: string): void {
    const mailbox = this.byKey.get(key);
    if (mailbox && mailbox.hub.idHex === conn.idHex) this.drop(mailbox);
    this.connections.ok(conn, requestId);
  }

  /** Closes the hub's mailboxes: posts to an absent hub would go nowhere. */
  dropAllOf(hub: HubState): void {
    for (const mailbox of [...hub.mailboxes.values()]) this.drop(mailbox);
  }

  private drop(mailbox: Mailbox): void {
    mailbox.hub.mailboxes.delete(mailbox.key);
    this.byKey.delete(mailbox.key);
    this.ctx.cluster?.releaseMailbox(mailbox.key);
  }

  post(conn: LoggedInConnection, requestId: number, mailboxId: Uint8Array, payload: Uint8Array, now: number): void {
    const key = toHex(mailboxId);
    const cluster = this.ctx.cluster;
    if (!this.byKey.has(key) && cluster) {
      // The hub may be on another node; that node applies the same rules and answers.
      void cluster.postMailbox(mailboxId, conn.id, payload).then((status) => {
        if (status === 'ok') this.connections.ok(conn, requestId);
        else {
          if (status === 'queue-full') this.ctx.counters.drops['queue-full'] += 1;
          this.connections.refuse(conn, requestId, status);
        }
      });
      return;
    }
    const status = this.deliverPost(key, conn.id, payload, now);
    if (status === 'ok') this.connections.ok(conn, requestId);
    else this.connections.refuse(conn, requestId, status);
  }

  /** A post to a mailbox held here, from a poster on this node or another. */
  deliverPost(key: string, from: Uint8Array, payload: Uint8Array, now: number): 'ok' | RelayErrorCode {
    const mailbox = this.byKey.get(key);
    const hubConn = mailbox?.hub.conn;
    if (!mailbox || mailbox.expiresAtMs <= now || !hubConn) return 'mailbox-closed';
    const fromHex = toHex(from);
    if (mailbox.hub.idHex === fromHex) return 'bad-request';
    if (mailbox.posts >= this.ctx.limits.maxMailboxPosts) return 'mailbox-full';
    mailbox.posts += 1;
    const mailboxId = Uint8Array.from(Buffer.from(key, 'hex'));
    if (!this.connections.send(hubConn, { type: 'mailbox-message', mailboxId, from, payload }, 'direct')) {
      this.ctx.counters.drops['queue-full'] += 1;
      return 'queue-full';
    }
    mailbox.posters.add(fromHex);
    return 'ok';
  }

  /** Whether another hub holds this mailbox id here (asked by the node of a hub opening it). */
  query(key: string, hubHex: string): 'free' | 'taken' {
    const mailbox = this.byKey.get(key);
    return mailbox && mailbox.hub.idHex !== hubHex ? 'taken' : 'free';
  }

  sweep(now: number): void {
    for (const mailbox of [...this.byKey.values()]) {
      if (mailbox.expiresAtMs <= now) this.drop(mailbox);
    }
  }

  clear(): void {
    this.byKey.clear();
  }
}
