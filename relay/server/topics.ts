// Topics (README §6.3): a hub publishes media on a topic, the devices it let watch subscribe to it.
// Each fragment is encoded once as a `media` frame and that one buffer goes to every viewer; a slow
// viewer's frames are dropped until the next keyframe and it is told how many. The hub hears how
// many watch (`watchers`), counting viewers on other nodes in a cluster.

import { FLAG_INIT, FLAG_KEYFRAME, RIGHT_WATCH, type RelayErrorCode } from '../codec.ts';
import type { Connections } from './connections.ts';
import { toHex, validCap, type HubState, type HubTable, type LoggedInConnection, type RelayContext, type Sub, type Topic } from './state.ts';

/** Byte offset of `dropped:u32` in a `media` frame: version, type, hubRelayId, topicId, flags. */
const MEDIA_DROPPED_OFFSET = 2 + 32 + 16 + 1;
const MEDIA_FLAGS_OFFSET = MEDIA_DROPPED_OFFSET - 1;
const MEDIA_TYPE = 0x46;
const MEDIA_PAYLOAD_OFFSET = MEDIA_DROPPED_OFFSET + 4 + 4;

/**
 * `media { hubRelayId, topicId, flags, dropped: 0, payload }`, byte for byte what encodeMessage makes
 * (a test holds them equal), built without zero-filling: it is the one copy of every fragment.
 */
export function encodeMediaFrame(hubRelayId: Uint8Array, topicId: Uint8Array, flags: number, payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(MEDIA_PAYLOAD_OFFSET + payload.length);
  frame[0] = 1;
  frame[1] = MEDIA_TYPE;
  frame.set(hubRelayId, 2);
  frame.set(topicId, 34);
  frame[MEDIA_FLAGS_OFFSET] = flags;
  frame.writeUInt32BE(0, MEDIA_DROPPED_OFFSET);
  frame.writeUInt32BE(payload.length, MEDIA_DROPPED_OFFSET + 4);
  frame.set(payload, MEDIA_PAYLOAD_OFFSET);
  return frame;
}

export class Topics {
  /** Media frames this node published to NATS for viewers on other nodes, and received from it. */
  mediaOut = 0;
  mediaIn = 0;

  constructor(
    private readonly ctx: RelayContext,
    private readonly connections: Connections,
    private readonly hubs: HubTable,
  ) {}

  subscribe(conn: LoggedInConnection, requestId: number, hubRelayId: Uint8Array, topicId: Uint8Array, now: number): void {
    const hubHex = toHex(hubRelayId);
    const key = hubHex + toHex(topicId);
    if (conn.subs.has(key)) return this.connections.ok(conn, requestId);
    const hub = this.hubs.get(hubHex);
    if (!hub || !validCap(hub, conn.idHex, RIGHT_WATCH, now)) {
      return this.connections.refuse(conn, requestId, 'no-capability');
    }
    if (conn.subs.size >= this.ctx.limits.maxSubscriptionsPerConnection) {
      return this.connections.refuse(conn, requestId, 'limit-reached');
    }
    let topic = hub.topics.get(key);
    if (!topic) {
      topic = { key, hub, topicId: Uint8Array.from(topicId), subs: new Map() };
      hub.topics.set(key, topic);
      // Always, even when the hub is here: it may move to another node while viewers stay.
      this.ctx.cluster?.watchTopic(hubHex, toHex(topicId));
    }
    const sub: Sub = { topic, conn, dropping: false, dropped: 0 };
    topic.subs.set(conn, sub);
    conn.subs.set(key, sub);
    this.connections.ok(conn, requestId);
    this.tellWatchers(topic);
  }

  unsubscribe(conn: LoggedInConnection, requestId: number, hubRelayId: Uint8Array, topicId: Uint8Array): void {
    const sub = conn.subs.get(toHex(hubRelayId) + toHex(topicId));
    if (sub) this.removeSub(sub, undefined);
    this.connections.ok(conn, requestId);
  }

  /** Ends every subscription of a connection that is gone. */
  leave(conn: LoggedInConnection): void {
    for (const sub of [...conn.subs.values()]) this.removeSub(sub, undefined);
  }

  /** Ends a device's subscriptions to the hub's topics, telling it why. */
  dropDeviceSubs(hub: HubState, deviceHex: string, code: RelayErrorCode): void {
    const device = this.connections.get(deviceHex);
    if (!device) return;
    for (const sub of [...device.subs.values()]) {
      if (sub.topic.hub === hub) this.removeSub(sub, code);
    }
  }

  /** Ends a subscription; `code` set tells the viewer why the relay ended it. */
  private removeSub(sub: Sub, code: RelayErrorCode | undefined): void {
    const { topic, conn } = sub;
    if (topic.subs.get(conn) !== sub) return;
    topic.subs.delete(conn);
    conn.subs.delete(topic.key);
    if (code !== undefined) {
      this.connections.send(conn, { type: 'unsubscribed', hubRelayId: topic.hub.id, topicId: topic.topicId, code }, 'control');
    }
    this.tellWatchers(topic);
    if (topic.subs.size === 0) {
      topic.hub.topics.delete(topic.key);
      this.ctx.cluster?.unwatchTopic(topic.hub.idHex, toHex(topic.topicId));
      this.hubs.forgetIfEmpty(topic.hub);
    }
  }

  // --- watchers ---------------------------------------------------------------------------------

  /** The hub hears the count of every node's viewers: directly when here, through its node otherwise. */
  tellWatchers(topic: Topic): void {
    const hub = topic.hub;
    if (hub.conn) this.sendWatchers(hub, topic.topicId);
    else this.ctx.cluster?.reportWatchers(hub.idHex, topic.topicId, topic.subs.size);
  }

  /** Tells the hub's node this node's viewer count of each of its topics (it starts with none from us). */
  reportAll(hub: HubState): void {
    for (const topic of hub.topics.values()) this.ctx.cluster?.reportWatchers(hub.idHex, topic.topicId, topic.subs.size);
  }

  private sendWatchers(hub: HubState, topicId: Uint8Array): void {
    if (!hub.conn) return;
    const topicHex = toHex(topicId);
    const count = (hub.topics.get(hub.idHex + topicHex)?.subs.size ?? 0) + this.remoteCount(hub, topicHex);
    this.connections.send(hub.conn, { type: 'watchers', topicId, count }, 'control');
  }

  private remoteCount(hub: HubState, topicHex: string): number {
    const remote = hub.remoteWatchers.get(topicHex);
    if (!remote) return 0;
    let n = 0;
    for (const c of remote.counts.values()) n += c;
    return n;
  }

  /** Another node's viewer count of a topic of a hub connected here (cluster). */
  onWatchersReport(hubHex: string, node: string, topicId: Uint8Array, count: number): void {
    // Reports may come before the hub's first grant on this node created its state.
    const conn = this.connections.get(hubHex);
    if (!conn) return;
    const hub = this.hubs.hubOf(conn);
    const topicHex = toHex(topicId);
    let remote = hub.remoteWatchers.get(topicHex);
    if (!remote) {
      if (count === 0) return;
      remote = { topicId: Uint8Array.from(topicId), counts: new Map() };
      hub.remoteWatchers.set(topicHex, remote);
    }
    if (count === 0) remote.counts.delete(node);
    else remote.counts.set(node, count);
    if (remote.counts.size === 0) hub.remoteWatchers.delete(topicHex);
    this.sendWatchers(hub, remote.topicId);
  }

  /** Forgets the viewers a node that is gone reported for the hub's topics. */
  peerGone(hub: HubState, node: string): void {
    for (const [topicHex, remote] of [...hub.remoteWatchers]) {
      if (!remote.counts.delete(node)) continue;
      if (remote.counts.size === 0) hub.remoteWatchers.delete(topicHex);
      this.sendWatchers(hub, remote.topicId);
    }
  }

  // --- media ------------------------------------------------------------------------------------

  publish(conn: LoggedInConnection, requestId: number, topicId: Uint8Array, flags: number, payload: Uint8Array, now: number): void {
    const cluster = this.ctx.cluster;
    const hub = this.hubs.get(conn.idHex);
    const topicHex = toHex(topicId);
    const topic = hub?.topics.get(conn.idHex + topicHex);
    const remote = hub && cluster ? this.remoteCount(hub, topicHex) > 0 : false;
    if (!hub || (!topic && !remote)) {
      this.ctx.counters.drops['no-subscriber'] += 1;
      return this.connections.ok(conn, requestId);
    }
    // One encoding for every viewer without a gap, here and on other nodes.
    const frame = encodeMediaFrame(hub.id, topicId, flags, payload);
    if (remote) {
      cluster?.publishMedia(hub.idHex, topicHex, frame);
      this.mediaOut += 1;
    }
    if (topic) this.fanOut(hub, topic, flags, frame, now);
    this.connections.ok(conn, requestId);
  }

  /** A `media` frame from the hub's node for this node's viewers (cluster). */
  onMedia(hubHex: string, topicHex: string, frame: Uint8Array): void {
    const topic = this.hubs.get(hubHex)?.topics.get(hubHex + topicHex);
    // Late frames after the last viewer left, or something that is not a media frame, go nowhere.
    if (!topic || frame.length < MEDIA_DROPPED_OFFSET + 8 || frame[1] !== MEDIA_TYPE) return;
    this.mediaIn += 1;
    this.fanOut(topic.hub, topic, frame[MEDIA_FLAGS_OFFSET] as number, frame, Date.now());
  }

  /** Sends one `media` frame (dropped = 0) to a topic's viewers on this node, dropping for slow ones. */
  private fanOut(hub: HubState, topic: Topic, flags: number, frame: Uint8Array, now: number): void {
    const { counters } = this.ctx;
    const resumes = (flags & (FLAG_KEYFRAME | FLAG_INIT)) !== 0;
    for (const sub of [...topic.subs.values()]) {
      const viewerHex = sub.conn.idHex;
      if (!validCap(hub, viewerHex, RIGHT_WATCH, now)) {
        this.removeSub(sub, hub.caps.has(viewerHex) ? 'expired' : 'no-capability');
        continue;
      }
      // A viewer that fell behind gets nothing until a frame it can decode from.
      if (sub.dropping && !resumes) {
        sub.dropped += 1;
        counters.drops['slow-viewer'] += 1;
        continue;
      }
      let bytes = frame;
      if (sub.dropped !== 0) {
        bytes = new Uint8Array(frame); // a copy (Buffer#slice would be a view of the shared frame)
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(MEDIA_DROPPED_OFFSET, Math.min(sub.dropped, 0xffff_ffff));
      }
      if (this.connections.sendBytes(sub.conn, bytes, 'media')) {
        sub.dropping = false;
        sub.dropped = 0;
      } else if (!sub.conn.detached) {
        sub.dropping = true;
        sub.dropped += 1;
        counters.drops['slow-viewer'] += 1;
      }
    }
  }
}
