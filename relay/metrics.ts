// Counters the relay keeps about itself, and their Prometheus text form. Only counts and sizes:
// never an id, a payload or an address.

import { RELAY_ERROR_CODES, type RelayErrorCode } from './constants.ts';

export type DropReason = 'slow-viewer' | 'queue-full' | 'rate-limited' | 'no-subscriber';

/**
 * Why a TCP connection was refused before it became a WebSocket (there is no WebSocket yet, so no
 * close code: the relay answers with the HTTP status in parentheses, or just closes the socket).
 */
export type HandshakeRefusal =
  | 'headers-timeout' // (408) the upgrade request was not complete within handshakeTimeoutMs: slow-loris
  | 'too-many-handshakes' // (closed) over maxHandshakesPerAddress, or maxConnections pending in total
  | 'bad-request' // (400) not HTTP, or headers too large
  | 'not-found'; // (404) an upgrade on another path

export const HANDSHAKE_REFUSALS: readonly HandshakeRefusal[] = ['headers-timeout', 'too-many-handshakes', 'bad-request', 'not-found'];

/** The cluster link's state (absent on a single node). */
export interface ClusterGauges {
  /** Random id of this node (first 8 hex digits), new at every start. */
  node: string;
  connected: boolean;
  peers: number;
  natsBytesIn: number;
  natsBytesOut: number;
  natsMessagesIn: number;
  natsMessagesOut: number;
  badMessages: number;
  /** Media frames this node published to NATS for viewers on other nodes, and received from it. */
  mediaOut: number;
  mediaIn: number;
}

export interface RelayGauges {
  connections: number;
  loggedIn: number;
  hubs: number;
  capabilities: number;
  topics: number;
  subscriptions: number;
  mailboxes: number;
  /** Bytes queued for sending on all connections now. */
  queuedBytes: number;
  /** TCP connections whose HTTP upgrade request is not complete yet. */
  pendingHandshakes: number;
  cluster: ClusterGauges | undefined;
}

export interface RelayStats extends RelayGauges {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** The most bytes any one connection has had queued (sampled after each send). */
  peakQueuedBytes: number;
  drops: Record<DropReason, number>;
  /** Error frames sent, by code. */
  refusals: Partial<Record<RelayErrorCode, number>>;
  /** Connections the relay closed, by code. */
  closes: Partial<Record<RelayErrorCode, number>>;
  /** TCP connections refused before the WebSocket upgrade, by reason. */
  handshakeRefusals: Record<HandshakeRefusal, number>;
}

export class RelayCounters {
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
  peakQueuedBytes = 0;
  readonly drops: Record<DropReason, number> = { 'slow-viewer': 0, 'queue-full': 0, 'rate-limited': 0, 'no-subscriber': 0 };
  readonly refusals: Partial<Record<RelayErrorCode, number>> = {};
  readonly closes: Partial<Record<RelayErrorCode, number>> = {};
  readonly handshakeRefusals: Record<HandshakeRefusal, number> = {
    'headers-timeout': 0,
    'too-many-handshakes': 0,
    'bad-request': 0,
    'not-found': 0,
  };

  refused(code: RelayErrorCode): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1;
  }
  closed(code: RelayErrorCode): void {
    this.closes[code] = (this.closes[code] ?? 0) + 1;
  }
  snapshot(gauges: RelayGauges): RelayStats {
    return {
      ...gauges,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      peakQueuedBytes: this.peakQueuedBytes,
      drops: { ...this.drops },
      refusals: { ...this.refusals },
      closes: { ...this.closes },
      handshakeRefusals: { ...this.handshakeRefusals },
    };
  }
}

/** The Prometheus text exposition (version 0.0.4) of a stats snapshot. */
export function prometheusText(s: RelayStats): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  metric('vigil_relay_connections', 'gauge', 'Open WebSocket connections.', [['', s.connections]]);
  metric('vigil_relay_logged_in', 'gauge', 'Connections that have logged in.', [['', s.loggedIn]]);
  metric('vigil_relay_capabilities', 'gauge', 'Capabilities held in memory.', [['', s.capabilities]]);
  metric('vigil_relay_subscriptions', 'gauge', 'Topic subscriptions.', [['', s.subscriptions]]);
  metric('vigil_relay_mailboxes', 'gauge', 'Open pairing mailboxes.', [['', s.mailboxes]]);
  metric('vigil_relay_hubs', 'gauge', 'Hubs with state on this node.', [['', s.hubs]]);
  metric('vigil_relay_topics', 'gauge', 'Topics with viewers on this node.', [['', s.topics]]);
  metric('vigil_relay_pending_handshakes', 'gauge', 'TCP connections not yet upgraded.', [['', s.pendingHandshakes]]);
  metric('vigil_relay_queued_bytes', 'gauge', 'Bytes queued for sending.', [['', s.queuedBytes]]);
  metric('vigil_relay_bytes_in_total', 'counter', 'Frame bytes received.', [['', s.bytesIn]]);
  metric('vigil_relay_bytes_out_total', 'counter', 'Frame bytes sent.', [['', s.bytesOut]]);
  metric('vigil_relay_frames_in_total', 'counter', 'Frames received.', [['', s.framesIn]]);
  metric('vigil_relay_frames_out_total', 'counter', 'Frames sent.', [['', s.framesOut]]);
  metric('vigil_relay_peak_queued_bytes', 'gauge', 'Most bytes one connection has had queued.', [['', s.peakQueuedBytes]]);
  metric(
    'vigil_relay_drops_total',
    'counter',
    'Frames dropped, by reason.',
    Object.entries(s.drops).map(([reason, n]) => [`{reason="${reason}"}`, n]),
  );
  metric(
    'vigil_relay_refusals_total',
    'counter',
    'Error frames sent, by code.',
    Object.keys(RELAY_ERROR_CODES).map((code) => [`{code="${code}"}`, s.refusals[code as RelayErrorCode] ?? 0]),
  );
  metric(
    'vigil_relay_closes_total',
    'counter',
    'Connections closed by the relay, by code.',
    Object.keys(RELAY_ERROR_CODES).map((code) => [`{code="${code}"}`, s.closes[code as RelayErrorCode] ?? 0]),
  );
  metric(
    'vigil_relay_handshake_refusals_total',
    'counter',
    'TCP connections refused before the WebSocket upgrade, by reason.',
    HANDSHAKE_REFUSALS.map((reason) => [`{reason="${reason}"}`, s.handshakeRefusals[reason]]),
  );
  const c = s.cluster;
  metric('vigil_relay_cluster_enabled', 'gauge', '1 when this node is joined to a NATS cluster.', [['', c ? 1 : 0]]);
  if (c) {
    metric('vigil_relay_cluster_connected', 'gauge', '1 while the NATS connection is up.', [['', c.connected ? 1 : 0]]);
    metric('vigil_relay_cluster_peers', 'gauge', 'Other relay nodes heard from recently.', [['', c.peers]]);
    metric('vigil_relay_nats_bytes_in_total', 'counter', 'Bytes received from NATS.', [['', c.natsBytesIn]]);
    metric('vigil_relay_nats_bytes_out_total', 'counter', 'Bytes sent to NATS.', [['', c.natsBytesOut]]);
    metric('vigil_relay_nats_messages_in_total', 'counter', 'Messages received from NATS.', [['', c.natsMessagesIn]]);
    metric('vigil_relay_nats_messages_out_total', 'counter', 'Messages sent to NATS.', [['', c.natsMessagesOut]]);
    metric('vigil_relay_cluster_media_frames_total', 'counter', 'Media frames exchanged with other nodes.', [
      ['{direction="out"}', c.mediaOut],
      ['{direction="in"}', c.mediaIn],
    ]);
    metric('vigil_relay_cluster_bad_messages_total', 'counter', 'Cluster messages that did not decode.', [['', c.badMessages]]);
  }
  return lines.join('\n') + '\n';
}
