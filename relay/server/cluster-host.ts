// What other relay nodes tell this one through NATS (README §11), as the ClusterLink's host: who
// logged in where (the newer login wins), which node holds a hub, replicated grants (verified again
// here against the hub's signature) and revocations, direct messages and mailbox posts for
// connections here, viewer counts for hubs here, media for viewers here, and peers that are gone.

import { capabilitySigningMessage, type RelayErrorCode } from '../codec.ts';
import type { ClusterHost, ClusterLink, ControlEvent } from '../cluster.ts';
import { ed25519PublicKey, verifyEd25519 } from '../verify.ts';
import type { Connections } from './connections.ts';
import type { Hubs } from './hubs.ts';
import type { Mailboxes } from './mailboxes.ts';
import type { DirectMessages } from './messages.ts';
import { unreachable } from '../../lib/unreachable.ts';
import { toHex, type HubTable, type RelayContext } from './state.ts';
import type { Topics } from './topics.ts';

export interface ClusterHostParts {
  readonly connections: Connections;
  readonly table: HubTable;
  readonly topics: Topics;
  readonly mailboxes: Mailboxes;
  readonly messages: DirectMessages;
  readonly hubs: Hubs;
}

export class RelayClusterHost implements ClusterHost {
  constructor(
    private readonly ctx: RelayContext,
    private readonly cluster: ClusterLink,
    private readonly parts: ClusterHostParts,
  ) {}

  onControl(e: ControlEvent): void {
    const { connections, table, topics, hubs } = this.parts;
    const now = Date.now();
    switch (e.kind) {
      case 'hello':
        return this.announceAll();
      case 'heartbeat':
      case 'bye':
        return;
      case 'online': {
        const local = connections.get(toHex(e.id));
        // The newer login wins wherever it is; a late event about an older one changes nothing.
        if (local && (local.loginAt > e.at || (local.loginAt === e.at && this.cluster.node > e.node))) return;
        if (local) connections.closeWith(local, 'replaced');
        return this.hubLivesAt(e.id, e.node, now);
      }
      case 'announce':
        return this.hubLivesAt(e.id, e.node, now);
      case 'offline': {
        const hub = table.get(toHex(e.id));
        if (!hub || hub.conn || hub.home !== e.node) return;
        hub.home = undefined;
        table.markStale(hub, now);
        return table.forgetIfEmpty(hub);
      }
      case 'grant': {
        const cap = e.capability;
        // Verified again here: NATS carries the hub's signature, so no peer can mint a capability.
        const key = ed25519PublicKey(cap.hubRelayId);
        if (!key || !verifyEd25519(key, capabilitySigningMessage(cap), cap.signature)) {
          this.ctx.counters.refused('bad-capability');
          return;
        }
        const expiresAtMs = cap.expiresAt * 1000;
        if (expiresAtMs <= now) return;
        const hub = table.ensure(cap.hubRelayId, toHex(cap.hubRelayId));
        if (!hub.conn) hub.home = e.node;
        const deviceHex = toHex(cap.deviceRelayId);
        if (!hub.caps.has(deviceHex) && hub.caps.size >= this.ctx.limits.maxCapabilitiesPerHub) return;
        return hubs.applyGrant(hub, cap, expiresAtMs);
      }
      case 'revoke': {
        const hub = table.get(toHex(e.hubRelayId));
        const deviceHex = toHex(e.deviceRelayId);
        if (hub?.caps.delete(deviceHex)) topics.dropDeviceSubs(hub, deviceHex, 'no-capability');
        if (hub) table.forgetIfEmpty(hub);
        return;
      }
      default:
        return unreachable(e);
    }
  }

  /** The hub is connected to node `node` now: what it does not grant again within hubGraceMs goes. */
  private hubLivesAt(id: Uint8Array, node: string, now: number): void {
    const hub = this.parts.table.get(toHex(id));
    if (!hub || hub.conn) return;
    hub.home = node;
    this.parts.table.markStale(hub, now);
    // Its node starts with no counts from us.
    this.parts.topics.reportAll(hub);
  }

  /** Tells every node which hubs live here and what they granted, and our viewers of remote hubs. */
  private announceAll(): void {
    const cluster = this.cluster;
    for (const hub of this.parts.table.values()) {
      if (hub.conn) {
        cluster.broadcast({ kind: 'announce', node: cluster.node, id: hub.id });
        for (const cap of hub.caps.values()) {
          if (!cap.stale) cluster.broadcast({ kind: 'grant', node: cluster.node, capability: cap.capability });
        }
      } else {
        this.parts.topics.reportAll(hub);
      }
    }
  }

  onResync(): void {
    this.announceAll();
  }

  onDirect(toHex_: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode {
    return this.parts.messages.deliver(this.parts.connections.get(toHex_), from, payload);
  }

  onMailboxPost(mailboxHex: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode {
    return this.parts.mailboxes.deliverPost(mailboxHex, from, payload, Date.now());
  }

  onMailboxQuery(mailboxHex: string, hubHex: string): 'free' | 'taken' {
    return this.parts.mailboxes.query(mailboxHex, hubHex);
  }

  onWatchersReport(hubHex: string, node: string, topicId: Uint8Array, count: number): void {
    this.parts.topics.onWatchersReport(hubHex, node, topicId, count);
  }

  onMedia(hubHex: string, topicHex: string, frame: Uint8Array): void {
    this.parts.topics.onMedia(hubHex, topicHex, frame);
  }

  onPeerGone(node: string): void {
    const { table, topics } = this.parts;
    const now = Date.now();
    this.ctx.log.info('peer-gone', { node: node.slice(0, 8) });
    for (const hub of [...table.values()]) {
      if (hub.home === node) {
        hub.home = undefined;
        table.markStale(hub, now);
        table.forgetIfEmpty(hub);
      }
      topics.peerGone(hub, node);
    }
  }
}
