// Two test hosts joined by a virtual cable: the hub's home network and a phone on it. Each side is a
// network namespace (test/support/netns), so multicast (mDNS) stays on this cable.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Netns } from '../netns/netns.ts';

export const HUB_ADDR = '198.18.77.1';
export const PHONE_ADDR = '198.18.77.2';

export interface LanPair {
  readonly hub: Netns;
  readonly phone: Netns;
  destroy(): Promise<void>;
}

export function createLanPair(): LanPair {
  const hub = Netns.create('hub');
  const phone = Netns.create('phone');
  const tag = randomBytes(3).toString('hex');
  const a = `vh${tag}`;
  const b = `vp${tag}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  try {
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
    ip('link', 'set', a, 'netns', hub.name);
    ip('link', 'set', b, 'netns', phone.name);
    ip('-n', hub.name, 'addr', 'add', `${HUB_ADDR}/24`, 'dev', a);
    ip('-n', phone.name, 'addr', 'add', `${PHONE_ADDR}/24`, 'dev', b);
    ip('-n', hub.name, 'link', 'set', a, 'up', 'multicast', 'on');
    ip('-n', phone.name, 'link', 'set', b, 'up', 'multicast', 'on');
    ip('-n', hub.name, 'route', 'replace', '224.0.0.0/4', 'dev', a);
    ip('-n', phone.name, 'route', 'replace', '224.0.0.0/4', 'dev', b);
  } catch (e) {
    hub.destroySync();
    phone.destroySync();
    throw e;
  }
  return {
    hub,
    phone,
    async destroy() {
      await hub.destroy();
      await phone.destroy();
    },
  };
}
