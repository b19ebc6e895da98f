// What the hub's relay links say in the hub's log, and the transport pairing and sessions use over
// them. A link down retries every few seconds: the log gets one line per down period and the reason
// once per change, not a line per attempt.
import type { HubLinks, Link, LinkEvents } from '../hub-links.ts';
import { HubError } from '../api/errors.ts';
import { normaliseRelayUrl } from '../../relay/client.ts';

function name(via: Link): string {
  return via.kind === 'lan' ? 'lan endpoint' : 'relay';
}

export function relayLogger(log: (line: string) => void): Pick<LinkEvents, 'onState' | 'onFailure' | 'onError'> {
  /** The state last logged per link ('down' for connecting and waiting alike). */
  const logged = new Map<Link, string>();
  return {
    onState: (via, state) => {
      const down = state === 'connecting' || state === 'waiting';
      const wasDown = logged.get(via) === 'down';
      logged.set(via, down ? 'down' : state);
      if (!(down && wasDown)) log(`${name(via)}: ${state}`);
    },
    onFailure: (via, f) => log(`${name(via)}: cannot connect to ${f.url}: ${f.message} [${f.code}]; retrying`),
    // Includes fragments over a relay's frame limit, which the relay client refuses to send.
    onError: (e) => log(`relay link: ${e instanceof Error ? e.message : String(e)}`),
  };
}

/** Sends through the first link that is up; mailboxes open on every link. */
export function pairingTransport(links: HubLinks) {
  return {
    send: async (to: Uint8Array, payload: Uint8Array) => {
      const link = links.all.find((l) => l.state === 'ready');
      if (link === undefined) throw new Error('no relay connection');
      await link.send(to, payload);
    },
    openMailbox: async (id: Uint8Array, expiresAt: number) => {
      if (links.all.length === 0) throw new HubError('conflict', 'this hub has no relay and no LAN endpoint: start it with --relay URL or --lan HOST:PORT to pair phones');
      await links.openMailbox(id, expiresAt);
    },
    closeMailbox: (id: Uint8Array) => links.closeMailbox(id),
  };
}

/** The relays as given on the command line; `ws://HOST:PORT` means `ws://HOST:PORT/v1` (what invites carry). */
export function relayUrls(urls: readonly string[]): string[] {
  return urls.map((url) => {
    try {
      return normaliseRelayUrl(url);
    } catch {
      throw new Error(`relay URL ${JSON.stringify(url)} is not a ws:// or wss:// URL`);
    }
  });
}
