// `vigil discover` and `vigil camera add --from-discovery`. Discovery only lists; adding is the
// owner's act, and only then are credentials sent to the device (see main/discovery/README.md).
//
// The hand-over between the two commands is a cache file, DIR/discovery.json, written by
// `vigil discover --data DIR`: the owner adds exactly the device they were shown (same id, same
// addresses), not whatever answers a second discovery run. It expires after an hour.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discover, type DiscoveryReport } from '../discovery/discover.ts';
import type { DiscoveredDevice } from '../discovery/merge.ts';
import { checkPins, decodePin, cameraHost } from '../discovery/pins.ts';
import { prepareCameraFromDiscovery } from '../onvif/camera-control.ts';
import { openStore } from '../store/db.ts';
import { CliError, runningHub } from './api-client.ts';
import { parseCommand, usageOf, type CliCommand } from '../../relay/cli-options.ts';

export const DISCOVERY_CACHE_FILE = 'discovery.json';
export const DISCOVERY_CACHE_MAX_AGE_MS = 60 * 60 * 1000;
const MAX_SECONDS = 60;

/** `vigil discover`'s options: its parser and its --help are both made from this table. */
export const DISCOVER_COMMAND: CliCommand = {
  name: 'vigil discover',
  summary: 'Lists cameras on the LAN (mDNS, ONVIF WS-Discovery); adds nothing, sends no credentials.',
  options: {
    seconds: { type: 'string', value: 'N', help: `how long to listen (default 3, at most ${MAX_SECONDS})` },
    json: { type: 'boolean', help: 'one JSON object per device (id, name, addresses, via, streamUri, ...)' },
    data: {
      type: 'string', value: 'DIR',
      help: `also remember the list in DIR/${DISCOVERY_CACHE_FILE} for 'camera add\n--from-discovery', and warn when a device claims a pinned camera's address`,
    },
    interface: { type: 'string', value: 'ADDRESS', help: 'the local IPv4 address of the interface to use (default: all)' },
  },
  notes: 'It sends multicast probes: run it on your own network only.',
};

export interface DiscoveryCache {
  readonly version: 1;
  readonly at: number;
  readonly devices: DiscoveredDevice[];
}

type Out = { log(line: string): void; error(line: string): void };
const defaultOut: Out = { log: (l) => console.log(l), error: (l) => console.error(l) };

/** One line per device for people; JSON for programs. */
export function formatDevice(d: DiscoveredDevice, json: boolean): string {
  if (json) {
    return JSON.stringify({
      id: d.id, name: d.name, addresses: d.addresses, via: d.via,
      ...(d.streamUri !== undefined ? { streamUri: d.streamUri } : {}),
      identity: d.identity,
      ...(d.onvif !== undefined ? { onvif: { endpoint: d.onvif.endpoint, xaddrs: d.onvif.xaddrs, hardware: d.onvif.hardware } } : {}),
      ...(d.mdns !== undefined ? { mdns: d.mdns.map((m) => ({ type: m.serviceType, name: m.instanceName, host: m.host, port: m.port, txt: m.txt })) } : {}),
      ...(d.vendor !== undefined ? { vendor: d.vendor } : {}),
      ...(d.model !== undefined ? { model: d.model } : {}),
    });
  }
  // Names come from the LAN: strip anything that could move the cursor or fake a line.
  const clean = (s: string) => s.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  const stream = d.streamUri ?? (d.onvif !== undefined ? '(ONVIF: stream URI after adding with credentials)' : '-');
  return [d.id, clean(d.name), d.addresses.join(',') || '-', d.via.join('+'), clean(stream)].join('\t');
}

export async function cmdDiscover(argv: string[], out: Out = defaultOut): Promise<void> {
  const { values } = parseCommand(DISCOVER_COMMAND, argv);
  const seconds = values.seconds === undefined ? 3 : Number(values.seconds);
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= MAX_SECONDS)) throw new CliError(`--seconds wants a number in (0, ${MAX_SECONDS}]\n${usageOf(DISCOVER_COMMAND)}`);
  const json = values.json === true;
  const dir = typeof values.data === 'string' && values.data !== '' ? values.data : undefined;
  const report: DiscoveryReport = await discover({ seconds, ...(typeof values.interface === 'string' ? { interfaceAddress: values.interface } : {}) });
  for (const d of report.devices) out.log(formatDevice(d, json));
  const warnings = [...report.warnings];
  if (dir !== undefined) {
    const cache: DiscoveryCache = { version: 1, at: Date.now(), devices: report.devices };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, DISCOVERY_CACHE_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(cache), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    if (existsSync(join(dir, 'hub.db'))) {
      const store = openStore(dir);
      try {
        for (const w of checkPins(store.listCameras(), report.devices)) warnings.push(w.message);
      } finally {
        store.close();
      }
    }
  }
  for (const w of warnings) out.error(w.startsWith('warning:') || w.startsWith('note:') ? w : `warning: ${w}`);
  const refused = Object.entries({ ...prefix('mdns', report.refused.mdns), ...prefix('onvif', report.refused.onvif) }).map(([k, n]) => `${k} ${n}`);
  out.error(`found ${report.devices.length} device${report.devices.length === 1 ? '' : 's'} in ${seconds} s` +
    (refused.length > 0 ? `; refused: ${refused.join(', ')}` : '') + (report.dropped > 0 ? `; dropped ${report.dropped}` : '') +
    (report.socketErrors.length > 0 ? `; socket problems: ${report.socketErrors.join('; ')}` : ''));
  if (dir !== undefined && report.devices.length > 0) out.error(`add one with: vigil camera add --data ${dir} --from-discovery ID [--user U --password P]`);
}

function prefix(p: string, o: Record<string, number | undefined>): Record<string, number> {
  const r: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[`${p}:${k}`] = v;
  return r;
}

export function readDiscoveryCache(dataDir: string, now = Date.now()): DiscoveryCache {
  const file = join(dataDir, DISCOVERY_CACHE_FILE);
  if (!existsSync(file)) throw new CliError(`no discovery list in ${dataDir}: run 'vigil discover --data ${dataDir}' first`);
  let cache: DiscoveryCache;
  try {
    cache = JSON.parse(readFileSync(file, 'utf8')) as DiscoveryCache;
  } catch {
    throw new CliError(`${file} is damaged: run 'vigil discover --data ${dataDir}' again`);
  }
  if (cache?.version !== 1 || !Array.isArray(cache.devices) || typeof cache.at !== 'number') throw new CliError(`${file} is not a discovery list of this Vigil version: run discover again`);
  if (now - cache.at > DISCOVERY_CACHE_MAX_AGE_MS) throw new CliError(`the discovery list in ${dataDir} is over an hour old: run 'vigil discover --data ${dataDir}' again`);
  return cache;
}

export function findCachedDevice(cache: DiscoveryCache, id: string): DiscoveredDevice {
  const want = id.trim().toLowerCase();
  if (!/^[0-9a-f]{4,12}$/.test(want)) throw new CliError('--from-discovery wants the device id discover printed (4 to 12 hex characters)');
  const hits = cache.devices.filter((d) => d.id.startsWith(want));
  if (hits.length === 0) throw new CliError(`no device ${want} in the last discovery list: run 'vigil discover' again`);
  if (hits.length > 1) throw new CliError(`${want} matches ${hits.length} devices: give more of the id`);
  return hits[0]!;
}

function urlWithCredentials(url: string, username?: string, password?: string): string {
  if (username === undefined && password === undefined) return url;
  const u = new URL(url);
  u.username = encodeURIComponent(username ?? '');
  u.password = encodeURIComponent(password ?? '');
  return u.href;
}

export interface AddFromDiscoveryOptions {
  readonly dataDir: string;
  readonly id: string;
  readonly user?: string;
  readonly password?: string;
  readonly name?: string;
}

/**
 * Adds the camera the owner picked from the last discovery list: asks an ONVIF device for its
 * stream URI with the owner's credentials and pins its identity; an mDNS-only device is added with
 * the URI its announcement gave. Returns the new camera's id and name.
 */
export async function cmdCameraAddFromDiscovery(opts: AddFromDiscoveryOptions, out: Out = defaultOut): Promise<{ id: string; name: string; url: string }> {
  const cache = readDiscoveryCache(opts.dataDir);
  const device = findCachedDevice(cache, opts.id);
  if ((opts.user === undefined) !== (opts.password === undefined)) throw new CliError('give both --user and --password, or neither');
  // Refuse before any credentials leave: a device already added, or one claiming a pinned camera's address.
  const pre = openStore(opts.dataDir);
  try {
    for (const c of pre.listCameras()) {
      const pin = decodePin(c.onvifPin);
      if (pin?.endpoint !== undefined && device.onvif?.endpoint === pin.endpoint) throw new CliError(`this device is already camera "${c.name}"`);
      const host = cameraHost(c);
      if (pin?.endpoint !== undefined && device.onvif !== undefined && host !== undefined && device.addresses.includes(host)) {
        throw new CliError(`warning: camera "${c.name}" at ${host} is pinned to ${pin.endpoint}, but this device says it is ${device.onvif.endpoint}; refusing to add it (if the camera was really replaced, remove "${c.name}" first)`);
      }
    }
  } finally {
    pre.close();
  }
  const prepared = await prepareCameraFromDiscovery({
    device, ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.user !== undefined ? { username: opts.user } : {}), ...(opts.password !== undefined ? { password: opts.password } : {}),
  });
  const api = await runningHub(opts.dataDir);
  let id: string;
  let name: string;
  if (api !== undefined) {
    const r = await api.call('addCamera', { name: prepared.name, url: urlWithCredentials(prepared.url, prepared.username, prepared.password), kind: 'rtsp' });
    id = r.id;
    name = r.name;
  }
  const store = openStore(opts.dataDir);
  try {
    if (api === undefined) {
      const c = store.addCamera({
        name: prepared.name, url: prepared.url, kind: 'rtsp',
        ...(prepared.username !== undefined ? { username: prepared.username } : {}), ...(prepared.password !== undefined ? { password: prepared.password } : {}),
      });
      store.audit('owner', 'camera-added', { camera: c.id, from: `discovery:${prepared.via}` });
      id = c.id;
      name = c.name;
    }
    if (prepared.pin !== null) store.setCameraOnvifPin(id!, prepared.pin);
  } finally {
    store.close();
  }
  out.log(`added camera "${name!}" from ${prepared.via === 'onvif' ? 'ONVIF' : 'mDNS'} discovery: ${prepared.url}${prepared.device ? ` (${prepared.device.manufacturer} ${prepared.device.model}, serial ${prepared.device.serialNumber})` : ''}${api !== undefined ? '; the running hub started it' : '; it starts with the hub'}`);
  return { id: id!, name: name!, url: prepared.url };
}
