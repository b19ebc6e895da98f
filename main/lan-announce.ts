// The hub announces its LAN endpoint with mDNS so a paired phone at home finds it. A stranger on the
// LAN may see the announcement, so it carries only what such a stranger may know: the service type,
// a port, and a LAN id (a hash of the hub id under its own label) that a paired phone can recognise
// and that links to nothing else: not the relay id, not another home. No camera or hub names.
import { networkInterfaces } from 'node:os';
import { Bonjour } from 'bonjour-service';
import { lanIdFor } from '../crypto/identity.ts';
import { bytesToHex } from './hex.ts';

export const LAN_SERVICE_TYPE = 'vigil';

/** The first non-internal IPv4 address: what phones on the LAN will connect to. */
export function lanHostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** The address of this machine's interface that `host` names, if it names one (for multicast). */
function localInterface(host: string): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal && a.address === host) return a.address;
  }
  return undefined;
}

export class LanAnnouncer {
  readonly #bonjour: Bonjour;

  constructor(hubId: Uint8Array, port: number, host: string) {
    const id = bytesToHex(lanIdFor(hubId));
    // The responder must hear questions, which are sent to the group 224.0.0.251: on Linux a socket
    // bound to a unicast address never receives them, and multicast-dns binds to `interface` unless
    // told otherwise. So it listens on every address (`bind`) and only joins the group and sends on
    // the LAN endpoint's interface. Bound to the address, the hub only ever spoke unasked (its
    // announcements at about 0.5, 1.5, 4.5, 13.5, 40.5 s… after start) and never answered a phone
    // that asked. An advertised address that is not one of ours (`--lan-host` behind NAT, say) names
    // no interface: then every interface, as on loopback.
    const iface = localInterface(host);
    this.#bonjour = new Bonjour({ ...(iface !== undefined ? { interface: iface } : {}), bind: '0.0.0.0' } as Record<string, unknown>);
    this.#bonjour.publish({ name: `vigil-${id.slice(0, 8)}`, type: LAN_SERVICE_TYPE, port, txt: { v: '1', id } });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#bonjour.unpublishAll(() => this.#bonjour.destroy(() => resolve()));
    });
  }
}
