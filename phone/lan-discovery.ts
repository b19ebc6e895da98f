// The command-line phone looks for its hub on the LAN with mDNS: the hub announces `_vigil._tcp`
// with a LAN id only its own phones can recognise (crypto/identity.ts lanIdFor). Multicast: only on
// request (`--mdns`), and in tests only inside network namespaces.
import { Bonjour } from 'bonjour-service';
import { lanIdFor } from '../crypto/identity.ts';
import { toHex } from '../crypto/bytes.ts';

export async function findHubOnLan(hubId: Uint8Array, waitMs: number): Promise<string[]> {
  const want = toHex(lanIdFor(hubId));
  const bonjour = new Bonjour();
  const found = new Set<string>();
  const browser = bonjour.find({ type: 'vigil' }, (service) => {
    const txt = (service.txt ?? {}) as Record<string, unknown>;
    if (String(txt.id ?? '') !== want) return;
    for (const a of service.addresses ?? []) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(a)) found.add(`ws://${a}:${service.port}/v1`);
    }
  });
  await new Promise((r) => setTimeout(r, waitMs));
  browser.stop();
  await new Promise<void>((r) => bonjour.destroy(() => r()));
  return [...found];
}
