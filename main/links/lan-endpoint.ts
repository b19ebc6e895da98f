// The LAN endpoint: the relay protocol served by the hub itself for phones at home (PROTOCOL §12).
// The same relay server as in the cloud, with the same limits; the hub is just its first client, a
// link like any relay. It can be stopped and started again on the same port while the hub runs.
import { startRelay, type RelayHandle } from '../../relay/server.ts';
import { HubError } from '../api/errors.ts';
import type { HubLinks, Link } from '../hub-links.ts';
import { LanAnnouncer, lanHostAddress } from '../lan-announce.ts';

export interface LanOptions {
  host: string;
  port: number;
  /** Publish it with mDNS (multicast: only on networks you own; tests run it in namespaces). */
  announce?: boolean;
  /** The address phones are told, when not the one it listens on (e.g. 0.0.0.0). */
  advertisedHost?: string;
}

function wsUrl(host: string, port: number): string {
  return `ws://${host.includes(':') ? `[${host}]` : host}:${port}/v1`;
}

export class LanEndpoint {
  #running: { relay: RelayHandle; link: Link; url: string; announce?: LanAnnouncer } | undefined;
  /** The port it had, so that starting again keeps phones' saved address right. */
  #port: number;

  constructor(
    private readonly opts: LanOptions | undefined,
    private readonly hubId: Uint8Array,
    private readonly links: HubLinks,
    private readonly log: (line: string) => void,
  ) {
    this.#port = opts?.port ?? 0;
  }

  /** The URL phones reach it at, while it runs. */
  get url(): string | undefined {
    return this.#running?.url;
  }

  async start(): Promise<void> {
    const lan = this.opts;
    if (lan === undefined || this.#running !== undefined) return;
    const relay = await startRelay({ host: lan.host, port: this.#port });
    this.#port = relay.port;
    const any = lan.host === '0.0.0.0' || lan.host === '::';
    const link = this.links.add('lan', wsUrl(any ? '127.0.0.1' : lan.host, relay.port));
    const host = lan.advertisedHost ?? (any ? lanHostAddress() : lan.host);
    const url = wsUrl(host, relay.port);
    this.#running = { relay, link, url };
    if (lan.announce) this.#running.announce = new LanAnnouncer(this.hubId, relay.port, host);
    this.log(`lan endpoint: ${url}${lan.announce ? ' (announced with mDNS)' : ''}`);
  }

  async stop(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    if (running === undefined) return;
    await running.announce?.stop();
    await this.links.remove(running.link);
    await running.relay.close();
  }

  /** Stops or starts it (on the same port) while the hub runs. */
  async set(enabled: boolean): Promise<void> {
    if (this.opts === undefined) throw new HubError('conflict', 'this hub was started without --lan');
    await (enabled ? this.start() : this.stop());
  }
}
