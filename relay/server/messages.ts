// Direct messages (README §6.1): `send` from a hub to a device it granted a capability or that
// posted to one of its open mailboxes, and from a device to a hub that granted it one. Permission is
// checked before presence, on the sender's node, so a stranger learns nothing about who is online.

import type { RelayErrorCode } from '../codec.ts';
import type { Connections } from './connections.ts';
import { toHex, validCap, type HubTable, type LoggedInConnection, type RelayContext } from './state.ts';

export class DirectMessages {
  constructor(
    private readonly ctx: RelayContext,
    private readonly connections: Connections,
    private readonly hubs: HubTable,
  ) {}

  send(conn: LoggedInConnection, requestId: number, to: Uint8Array, payload: Uint8Array, now: number): void {
    const targetHex = toHex(to);
    if (targetHex === conn.idHex) return this.connections.refuse(conn, requestId, 'bad-request');
    // Permission before presence: a stranger learns nothing about who is online.
    if (!this.mayMessage(conn.idHex, targetHex, now)) return this.connections.refuse(conn, requestId, 'no-capability');
    const target = this.connections.get(targetHex);
    const cluster = this.ctx.cluster;
    if (!target && cluster) {
      // Permission was checked here, on the sender's node; the target's node only delivers.
      void cluster.sendDirect(targetHex, conn.id, payload).then((status) => {
        if (status === 'ok') this.connections.ok(conn, requestId);
        else this.connections.refuse(conn, requestId, status);
      });
      return;
    }
    const status = this.deliver(target, conn.id, payload);
    if (status === 'ok') this.connections.ok(conn, requestId);
    else this.connections.refuse(conn, requestId, status);
  }

  /** Delivers to a connection on this node: a local sender's message, or one another node checked. */
  deliver(target: LoggedInConnection | undefined, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode {
    if (!target) return 'offline';
    if (!this.connections.send(target, { type: 'message', from, payload }, 'direct')) {
      this.ctx.counters.drops['queue-full'] += 1;
      return 'queue-full';
    }
    return 'ok';
  }

  private mayMessage(fromHex: string, toHex_: string, now: number): boolean {
    // hub -> device: the hub granted the device a capability, or the device posted to an open mailbox.
    const senderAsHub = this.hubs.get(fromHex);
    if (validCap(senderAsHub, toHex_, 0, now)) return true;
    if (senderAsHub) {
      for (const mailbox of senderAsHub.mailboxes.values()) {
        if (mailbox.expiresAtMs > now && mailbox.posters.has(toHex_)) return true;
      }
    }
    // device -> hub: the device holds a capability from the hub.
    return validCap(this.hubs.get(toHex_), fromHex, 0, now);
  }
}
