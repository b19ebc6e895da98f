// Counters the relay keeps about itself, and their Prometheus text form. Only counts and sizes:
// never an id, a payload or an address.

import { RELAY_ERROR_CODES, type RelayErrorCode } from './constants.ts';

export type DropReason = 'slow-viewer' | 'queue-full' | 'rate-limited' | 'no-subscriber';

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
  metric('vigil_relay_queued_bytes', 'gauge', 'Bytes queued for sending.', [['', s.queuedBytes]]);
  metric('vigil_relay_bytes_in_total', 'counter', 'Frame bytes received.', [['', s.bytesIn]]);
  metric('vigil_relay_bytes_out_total', 'counter', 'Frame bytes sent.', [['', s.bytesOut]]);
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
  return lines.join('\n') + '\n';
}
