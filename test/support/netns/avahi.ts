// A real mDNS/DNS-SD responder in a test namespace: Debian's avahi-daemon with a private config,
// no D-Bus, and a static service file (as ../shared/testbed/netns-mdns.sh). Its run directory is a
// private tmpfs and /etc/avahi/services a private bind mount, in a private mount namespace, so the
// host's avahi (which must never run on real interfaces) is not touched.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Netns } from './netns.ts';

export const AVAHI_DAEMON = '/usr/sbin/avahi-daemon';

export interface AvahiService {
  name: string;
  type: string; // e.g. _rtsp._tcp
  port: number;
  txt?: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function avahiAvailable(): boolean {
  return existsSync(AVAHI_DAEMON);
}

/** Starts avahi-daemon in `ns` advertising `services` on lo; resolves when they are established. */
export async function startAvahi(ns: Netns, services: AvahiService[], hostName = 'simcam-1'): Promise<{ dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vigil-avahi-'));
  mkdirSync(path.join(dir, 'services'));
  writeFileSync(path.join(dir, 'avahi.conf'), `[server]
host-name=${hostName}
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
[reflector]
enable-reflector=no
[rlimits]
`);
  services.forEach((s, i) => {
    const txt = (s.txt ?? []).map((t) => `    <txt-record>${esc(t)}</txt-record>\n`).join('');
    writeFileSync(path.join(dir, 'services', `camera${i}.service`), `<?xml version="1.0" standalone='no'?>
<service-group>
  <name>${esc(s.name)}</name>
  <service>
    <type>${esc(s.type)}</type>
    <port>${s.port}</port>
${txt}  </service>
</service-group>
`);
  });
  mkdirSync('/run/avahi-daemon', { recursive: true }); // an empty mount point; the daemon gets a private tmpfs on it
  const child = ns.spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
    'mount -t tmpfs tmpfs /run/avahi-daemon && mount --bind "$1" /etc/avahi/services && exec "$3" -f "$2" --no-drop-root --no-chroot --no-rlimits --no-proc-title',
    'sh', path.join(dir, 'services'), path.join(dir, 'avahi.conf'), AVAHI_DAEMON]);
  child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const s of services) await ns.waitFor(child, `Service "${s.name}" (/etc/avahi/services/`, 10_000);
  await ns.waitFor(child, 'successfully established', 10_000);
  return { dir };
}
