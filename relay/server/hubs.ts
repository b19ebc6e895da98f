// Hubs: what a login and a logout mean beyond the connection (README §4, §5), and capabilities.
// A hub grants a device the right to watch or command; the grant is checked against the hub's
// signature, held in memory only, replaced by a newer one and swept when it expires. When a hub's
// connection ends its capabilities stay hubGraceMs (stale), so a reconnect does not cut viewers off,
// and what the hub does not grant again in that time goes. On a cluster node a login is told to the
// other nodes and `ready` waits until NATS routes the relay id here.

import { RIGHT_WATCH, capabilitySigningMessage, shortId, type Capability } from '../codec.ts';
import { verifyEd25519 } from '../verify.ts';
import type { Connections } from './connections.ts';
import type { Mailboxes } from './mailboxes.ts';
import { toHex, type HubState, type HubTable, type LoggedInConnection, type RelayContext } from './state.ts';
import type { Topics } from './topics.ts';

export class Hubs {
  constructor(
    private readonly ctx: RelayContext,
    private readonly connections: Connections,
    private readonly table: HubTable,
    private readonly topics: Topics,
    private readonly mailboxes: Mailboxes,
  ) {}

  // --- presence ---------------------------------------------------------------------------------

  /** A connection logged in; `ready` tells it so. */
  loggedIn(conn: LoggedInConnection): void {
    const cluster = this.ctx.cluster;
    const hub = this.table.get(conn.idHex);
    if (!cluster) return this.ready(conn, hub);
    // Other nodes close their connection for this id (replaced) and learn the hub lives here;
    // `ready` waits until NATS routes this id here, so nothing sent to it right after is lost.
    cluster.broadcast({ kind: 'online', node: cluster.node, id: conn.id, at: conn.loginAt });
    void cluster.claimId(conn.idHex).then(() => {
      if (!conn.detached) this.ready(conn, this.table.get(conn.idHex));
    });
  }

  private ready(conn: LoggedInConnection, hub: HubState | undefined): void {
    this.connections.send(conn, { type: 'ready', relayId: conn.id, maxMessageBytes: this.ctx.limits.maxMessageBytes }, 'control');
    if (hub) this.cameBack(hub, conn, Date.now());
  }

  /** The connection that held a relay id is gone (not replaced by a newer login). */
  left(conn: LoggedInConnection): void {
    const cluster = this.ctx.cluster;
    if (cluster) {
      cluster.releaseId(conn.idHex);
      cluster.broadcast({ kind: 'offline', node: cluster.node, id: conn.id });
    }
    const hub = this.table.get(conn.idHex);
    if (hub && hub.conn === conn) this.wentAway(hub, Date.now());
  }

  private wentAway(hub: HubState, now: number): void {
    hub.conn = undefined;
    hub.remoteWatchers.clear(); // other nodes report again when the hub comes back (online)
    // Mailboxes belong to a live hub: posts to an absent hub would go nowhere.
    this.mailboxes.dropAllOf(hub);
    this.table.markStale(hub, now);
    this.table.forgetIfEmpty(hub);
  }

  private cameBack(hub: HubState, conn: LoggedInConnection, now: number): void {
    hub.conn = conn;
    hub.home = undefined;
    this.table.markStale(hub, now);
    for (const topic of hub.topics.values()) this.topics.tellWatchers(topic);
  }

  // --- capabilities -----------------------------------------------------------------------------

  grant(conn: LoggedInConnection, requestId: number, cap: Capability, now: number): void {
    if (toHex(cap.hubRelayId) !== conn.idHex || toHex(cap.deviceRelayId) === conn.idHex) {
      return this.connections.refuse(conn, requestId, 'bad-capability');
    }
    if (!verifyEd25519(conn.key, capabilitySigningMessage(cap), cap.signature)) {
      return this.connections.refuse(conn, requestId, 'bad-capability');
    }
    const expiresAtMs = cap.expiresAt * 1000;
    if (expiresAtMs <= now) return this.connections.refuse(conn, requestId, 'expired');
    const hub = this.table.hubOf(conn);
    const deviceHex = toHex(cap.deviceRelayId);
    if (!hub.caps.has(deviceHex) && hub.caps.size >= this.ctx.limits.maxCapabilitiesPerHub) {
      return this.connections.refuse(conn, requestId, 'limit-reached');
    }
    this.applyGrant(hub, cap, expiresAtMs);
    this.ctx.log.info('granted', { hub: shortId(cap.hubRelayId), device: shortId(cap.deviceRelayId) });
    this.ctx.cluster?.broadcast({ kind: 'grant', node: this.ctx.cluster.node, capability: cap });
    this.connections.ok(conn, requestId);
  }

  /** Keeps a checked capability: from the hub's connection here, or replicated by its node. */
  applyGrant(hub: HubState, cap: Capability, expiresAtMs: number): void {
    const deviceHex = toHex(cap.deviceRelayId);
    hub.caps.set(deviceHex, { capability: cap, rights: cap.rights, expiresAtMs, stale: false });
    // A narrower grant takes effect at once.
    if ((cap.rights & RIGHT_WATCH) === 0) this.topics.dropDeviceSubs(hub, deviceHex, 'no-capability');
  }

  revoke(conn: LoggedInConnection, requestId: number, deviceRelayId: Uint8Array): void {
    const deviceHex = toHex(deviceRelayId);
    const hub = this.table.get(conn.idHex);
    if (hub?.caps.delete(deviceHex)) {
      this.ctx.log.info('revoked', { hub: shortId(hub.id), device: deviceHex.slice(0, 8) });
      this.topics.dropDeviceSubs(hub, deviceHex, 'no-capability');
    }
    // Always told: another node may still hold a copy this node already dropped.
    this.ctx.cluster?.broadcast({ kind: 'revoke', node: this.ctx.cluster.node, hubRelayId: conn.id, deviceRelayId });
    this.connections.ok(conn, requestId);
  }

  /** Removes expired capabilities, and stale ones past their hub's grace, with their subscriptions. */
  sweep(now: number): void {
    for (const hub of [...this.table.values()]) {
      const sweepStale = hub.staleDeadlineMs !== undefined && hub.staleDeadlineMs <= now;
      for (const [deviceHex, cap] of [...hub.caps]) {
        if (cap.expiresAtMs <= now || (sweepStale && cap.stale)) {
          hub.caps.delete(deviceHex);
          this.topics.dropDeviceSubs(hub, deviceHex, cap.expiresAtMs <= now ? 'expired' : 'no-capability');
        }
      }
      if (sweepStale) hub.staleDeadlineMs = undefined;
      this.table.forgetIfEmpty(hub);
    }
  }
}
