// `vigil`: the hub's command line. Each command prints one clear line and exits non-zero on failure.
import { createInterface } from 'node:readline/promises';
import QRCode from 'qrcode';
import { runRelayCli } from '../relay/cli.ts';
import { Hub } from './hub.ts';
import { CliError, runningHub, type HubClient } from './cli/api-client.ts';
import { openStore } from './store/db.ts';
import { cmdCameraAddFromDiscovery, cmdDiscover } from './cli/discover.ts';
import { CAMERA, CAMERA_ADD, CAMERA_LIST, CAMERA_REMOVE, DEVICES, DEVICES_LIST, DEVICES_REVOKE, DEVICES_SCOPE, HUB, INVITE, STATUS, VIGIL_PROGRAM } from './cli/commands.ts';
import { CliHelpRequested, chooseSubcommand, parseCommand, programHelpOf, usageOf, type CliArgs, type CliCommand } from '../relay/cli-options.ts';
import { createUiServer } from './ui/ui-server.ts';
import { MAX_FRAGMENT_MS, isFragmentMs } from '../native/ingest.ts';
import { TimeArgError, isoTime, parseTimeArg } from '../lib/time-arg.ts';
import { describeScope } from './cli/roster.ts';

const USAGE = programHelpOf(VIGIL_PROGRAM);

type Out = { log(line: string): void; error(line: string): void };
const out: Out = { log: (l) => console.log(l), error: (l) => console.error(l) };

/** Parses by the command's table (main/cli/commands.ts); the usage line rides on each error. */
function parse(argv: string[], command: CliCommand): CliArgs & { usage: string } {
  return { ...parseCommand(command, argv), usage: usageOf(command) };
}

function dataDir(values: Record<string, unknown>, usage: string): string {
  const dir = values.data;
  if (typeof dir !== 'string' || dir === '') throw new CliError(`--data DIR is required\n${usage}`);
  return dir;
}

async function needHub(dir: string): Promise<HubClient> {
  const api = await runningHub(dir);
  if (api === undefined) throw new CliError(`no hub is running on ${dir}: start it with 'vigil hub --data ${dir} --relay URL'`);
  return api;
}

async function cmdHub(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, HUB);
  const dir = dataDir(values, usage);
  let fragmentMs: number | undefined;
  if (typeof values['fragment-ms'] === 'string') {
    fragmentMs = Number(values['fragment-ms']);
    if (!/^\d+$/.test(values['fragment-ms']) || !isFragmentMs(fragmentMs)) throw new CliError(`--fragment-ms wants a whole number of milliseconds 0..${MAX_FRAGMENT_MS}\n${usage}`);
  }
  const rtspReader = values['rtsp-reader'];
  if (rtspReader !== undefined && rtspReader !== 'auto' && rtspReader !== 'ffmpeg') throw new CliError(`--rtsp-reader wants auto or ffmpeg\n${usage}`);
  let storageMaxBytes: number | undefined;
  if (typeof values['storage-max-gb'] === 'string') {
    const gb = Number(values['storage-max-gb']);
    if (!/^\d+(\.\d+)?$/.test(values['storage-max-gb']) || !(gb > 0)) throw new CliError(`--storage-max-gb wants a number of GiB above 0\n${usage}`);
    storageMaxBytes = Math.floor(gb * 1024 ** 3);
  }
  const relays = (values.relay as string[] | undefined) ?? [];
  let apiHost = '127.0.0.1';
  let apiPort = 0;
  if (typeof values.ui === 'string') {
    const m = /^(.+):(\d+)$/.exec(values.ui);
    if (!m) throw new CliError(`--ui wants HOST:PORT\n${usage}`);
    apiHost = m[1]!;
    apiPort = Number(m[2]);
    if (apiHost.startsWith('[') && apiHost.endsWith(']')) apiHost = apiHost.slice(1, -1);
    const loopback = apiHost === '127.0.0.1' || apiHost === 'localhost' || apiHost === '::1';
    // Off loopback the page and the token travel in plain HTTP on the LAN: the owner must ask for it.
    if (!loopback && values['ui-allow-remote'] !== true) {
      throw new CliError(`--ui ${values.ui} is not a loopback address: add --ui-allow-remote to serve the UI to the network (it still needs the token)`);
    }
  }
  // The LAN endpoint is off unless asked for: it listens on the network, and --announce multicasts.
  let lan: { host: string; port: number; announce: boolean; advertisedHost?: string } | undefined;
  if (typeof values.lan === 'string' && values['no-lan'] !== true) {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(values.lan);
    if (!m) throw new CliError(`--lan wants HOST:PORT, e.g. 0.0.0.0:7447\n${usage}`);
    lan = { host: m[1]!, port: Number(m[2]), announce: values.announce === true, ...(typeof values['lan-host'] === 'string' ? { advertisedHost: values['lan-host'] } : {}) };
  }
  if (typeof values.ui === 'string') {
    // Build the UI when it is missing or older than its sources (a git pull); a failed build leaves
    // the page saying how to build it by hand, and the hub runs on.
    try {
      await (await import('../tools/build.ts')).ensureBuilt(['renderer'], (l) => out.log(`ui: ${l}`));
    } catch (e) {
      out.error(`ui: could not build the hub UI: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const ui = typeof values.ui === 'string' ? createUiServer() : undefined;
  const hub = await Hub.start({
    dataDir: dir, relays, apiHost, apiPort, log: (l) => out.log(l),
    ...(typeof values['app-url'] === 'string' ? { appUrl: values['app-url'] } : {}),
    ...(ui ? { uiHandler: ui.handler } : {}),
    ...(lan ? { lan } : {}),
    ...(fragmentMs !== undefined ? { fragmentMs } : {}),
    ...(rtspReader !== undefined ? { rtspReader } : {}),
    ...(storageMaxBytes !== undefined ? { storageMaxBytes } : {}),
  });
  ui?.attach(hub);
  out.log(`hub ${Buffer.from(hub.identity.hubId).toString('hex').slice(0, 16)} running; local API ${hub.apiUrl}`);
  if (ui) out.log(`ui: ${hub.apiUrl}/?token=${encodeURIComponent(hub.apiToken)}`);
  if (relays.length === 0 && !lan) out.log('no relay and no LAN endpoint: phones cannot reach this hub (give --relay URL and/or --lan HOST:PORT)');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await hub.close();
}

async function cmdCamera(argv: string[]): Promise<void> {
  const { command, rest } = chooseSubcommand(CAMERA, argv);
  const { values, positionals, usage } = parse(rest, command);
  if (command === CAMERA_ADD) {
    if (typeof values['from-discovery'] === 'string') {
      if (positionals.length > 0 || values['test-pattern'] === true) throw new CliError(`--from-discovery adds the device it names: give no URL and no --test-pattern\n${usage}`);
      await cmdCameraAddFromDiscovery({
        dataDir: dataDir(values, usage), id: values['from-discovery'],
        ...(typeof values.user === 'string' ? { user: values.user } : {}),
        ...(typeof values.password === 'string' ? { password: values.password } : {}),
        ...(typeof values.name === 'string' ? { name: values.name } : {}),
      }, out);
      return;
    }
    if (values.user !== undefined || values.password !== undefined) throw new CliError(`--user and --password go with --from-discovery; with a URL, write rtsp://USER:PASSWORD@HOST/...\n${usage}`);
    const dir = dataDir(values, usage);
    const name = values.name;
    const testPattern = values['test-pattern'] === true;
    const url = testPattern ? 'test-pattern:' : positionals[0];
    if (typeof name !== 'string' || url === undefined) throw new CliError(`camera add needs --name NAME and a URL\n${usage}`);
    const kind = testPattern ? 'test-pattern' as const : 'rtsp' as const;
    const api = await runningHub(dir);
    if (api !== undefined) {
      const r = await api.call('addCamera', { name, url, kind });
      out.log(`added camera "${r.name}" (number ${r.number}); the running hub started it`);
    } else {
      const store = openStore(dir);
      try {
        const c = store.addCamera({ name, url, kind });
        store.audit('owner', 'camera-added', { camera: c.id });
        out.log(`added camera "${c.name}" (number ${c.number}); it starts with the hub`);
      } finally {
        store.close();
      }
    }
  } else if (command === CAMERA_LIST) {
    const dir = dataDir(values, usage);
    const api = await runningHub(dir);
    const cameras: { name: string; number: number; url: string; state: string; error?: string }[] = api ? await api.call('listCameras') : (() => {
      const store = openStore(dir);
      try {
        return store.listCameras().map((c) => ({ id: c.id, name: c.name, number: c.number, url: c.url, state: 'hub not running' }));
      } finally {
        store.close();
      }
    })();
    for (const c of cameras) out.log(values.json ? JSON.stringify(c) : `${c.number}\t${c.name}\t${c.state}\t${c.url}${c.error ? `\t${c.error}` : ''}`);
  } else if (command === CAMERA_REMOVE) {
    const dir = dataDir(values, usage);
    const name = positionals[0];
    if (name === undefined) throw new CliError(`camera remove needs the camera's NAME\n${usage}`);
    const api = await runningHub(dir);
    if (api) await api.call('removeCamera', name);
    else {
      const store = openStore(dir);
      try {
        if (!store.removeCamera(name)) throw new CliError(`no camera "${name}"`);
      } finally {
        store.close();
      }
    }
    out.log(`removed camera "${name}"`);
  } else {
    throw new CliError(usage);
  }
}

/** --from / --until as Unix ms (ISO 8601 or now+2h); `none` is 0 where `noneLifts`. */
function timeOption(values: Record<string, unknown>, name: 'from' | 'until', noneLifts = false): number | undefined {
  const text = values[name] as string | undefined;
  if (text === undefined) return undefined;
  if (noneLifts && text === 'none') return 0;
  try {
    return parseTimeArg(text, Date.now());
  } catch (e) {
    if (e instanceof TimeArgError) throw new CliError(`--${name}: ${e.message}`);
    throw e;
  }
}

async function cmdInvite(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, INVITE);
  const dir = dataDir(values, usage);
  const role = (values.role as string | undefined) ?? 'owner';
  if (role !== 'owner' && role !== 'viewer' && role !== 'guest') throw new CliError('--role must be owner, viewer or guest');
  const cameras = (values.camera as string[] | undefined) ?? [];
  const from = timeOption(values, 'from');
  const until = timeOption(values, 'until');
  const scoped = role === 'guest' || cameras.length > 0 || from !== undefined || until !== undefined;
  const api = await needHub(dir);
  const invite = scoped
    ? await api.call('createInvite', Number(values.ttl ?? 600), { role, cameras, ...(from !== undefined ? { from } : {}), ...(until !== undefined ? { until } : {}) })
    : await api.call('createInvite', Number(values.ttl ?? 600));
  if (scoped) {
    const window = `${from !== undefined ? ` from ${isoTime(from)}` : ''}${until !== undefined ? ` until ${isoTime(until)}` : ''}`;
    out.log(`for a ${role}${cameras.length > 0 ? ` seeing ${cameras.map((c) => `"${c}"`).join(', ')} only, live` : ''}${window}`);
  }
  out.log(`pairing link: ${invite.link}`);
  if (process.stdout.isTTY) out.log(await QRCode.toString(invite.link, { type: 'terminal', small: true }));
  out.log(`valid until ${new Date(invite.expiresAt * 1000).toLocaleTimeString()}; scan it with the phone app or run: ./bin/vigil-phone pair '<link>' --profile phone.json`);
  const deadline = invite.expiresAt * 1000;
  while (Date.now() < deadline) {
    const status = await api.call('inviteStatus', invite.id);
    if (status.state === 'confirm') {
      out.log(`phone "${status.name}" wants to pair; code ${status.code.slice(0, 3)} ${status.code.slice(3)}`);
      let yes = values.yes === true;
      if (!yes) {
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        const answer = await rl.question('Does the phone show the same code? Approve it [y/N] ');
        rl.close();
        yes = /^y(es)?$/i.test(answer.trim());
      }
      if (!yes) {
        await api.call('refuseInvite', invite.id);
        throw new CliError('refused: the phone was not added');
      }
      const device = await api.call('approveInvite', invite.id, role);
      out.log(`paired "${device.name}" as ${device.role} (device ${device.id})`);
      return;
    }
    if (status.state !== 'waiting') throw new CliError(`invite ${status.state}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new CliError('the invite expired before a phone answered');
}

async function cmdDevices(argv: string[]): Promise<void> {
  const { command, rest } = chooseSubcommand(DEVICES, argv);
  const { values, positionals, usage } = parse(rest, command);
  if (command === DEVICES_LIST) {
    const dir = dataDir(values, usage);
    const api = await runningHub(dir);
    const devices = api ? await api.call('listPhones') : (() => {
      const store = openStore(dir);
      try {
        return store.listDevices({ includeRevoked: true }).map((d) => ({
          id: d.id, name: d.name, role: d.role, pairedAt: d.pairedAt, lastSeen: d.lastSeen, revoked: d.revokedAt !== null,
          ...(d.scope !== null ? { scope: { cameras: [...d.scope.cameras], from: d.scope.from, until: d.scope.until } } : {}),
        }));
      } finally {
        store.close();
      }
    })();
    for (const d of devices) {
      const scope = 'scope' in d && d.scope ? `\t${describeScope(d.scope)}` : '';
      out.log(values.json ? JSON.stringify(d) : `${d.id}\t${d.name}\t${d.role}\t${d.revoked ? 'revoked' : 'active'}${scope}`);
    }
  } else if (command === DEVICES_REVOKE) {
    const dir = dataDir(values, usage);
    const id = positionals[0];
    if (id === undefined || !/^[0-9a-f]{32}$/.test(id)) throw new CliError(`devices revoke needs a DEVICE_ID (32 hex digits)\n${usage}`);
    const api = await runningHub(dir);
    if (api) {
      const r = await api.call('revokePhone', id);
      out.log(r.revoked ? `revoked ${id}: it gets no new keys and the relay drops its subscriptions` : `${id} was already revoked`);
    } else {
      const store = openStore(dir);
      try {
        if (store.getDevice(id) === undefined) throw new CliError(`no device ${id}`);
        store.revokeDevice(id);
        store.audit('owner', 'revoked', { device: id });
      } finally {
        store.close();
      }
      out.log(`revoked ${id}; the hub starts a new epoch without it when it starts`);
    }
  } else if (command === DEVICES_SCOPE) {
    const dir = dataDir(values, usage);
    const id = positionals[0];
    if (id === undefined || !/^[0-9a-f]{32}$/.test(id)) throw new CliError(`devices scope needs a DEVICE_ID (32 hex digits)\n${usage}`);
    const cameras = (values.camera as string[] | undefined) ?? [];
    if ((cameras.length > 0) === (values.all === true)) throw new CliError(`give --camera NAME (one or more) or --all\n${usage}`);
    // 'none' lifts a limit: 0 to the hub.
    const from = timeOption(values, 'from', true);
    const until = timeOption(values, 'until', true);
    const api = await needHub(dir);
    const phone = await api.call('setPhoneScope', id, { cameras, ...(from !== undefined ? { from } : {}), ...(until !== undefined ? { until } : {}) });
    const names = new Map((await api.call('listCameras')).map((c) => [c.id, c.name]));
    out.log(`${phone.name} (${phone.role}) now sees ${phone.scope ? describeScope(phone.scope, (c) => names.get(c)) : 'every camera, and recordings'}`);
  } else {
    throw new CliError(usage);
  }
}

async function cmdStatus(argv: string[]): Promise<void> {
  const { values, usage } = parse(argv, STATUS);
  const api = await needHub(dataDir(values, usage));
  const status = await api.call('status');
  out.log(JSON.stringify(status));
  // The JSON line stays one line for scripts; the reason the relay is down is said for people too.
  if (status.relayProblem) out.error(`relay not connected: ${status.relayProblem.url}: ${status.relayProblem.message}`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'relay':
        return await runRelayCli(rest);
      case 'hub':
        await cmdHub(rest);
        return 0;
      case 'camera':
        await cmdCamera(rest);
        return 0;
      case 'discover':
        await cmdDiscover(rest);
        return 0;
      case 'invite':
        await cmdInvite(rest);
        return 0;
      case 'devices':
        await cmdDevices(rest);
        return 0;
      case 'status':
        await cmdStatus(rest);
        return 0;
      case 'record':
        await (await import('./cli/recordings.ts')).cmdRecord(rest, out);
        return 0;
      case 'recordings':
        await (await import('./cli/recordings.ts')).cmdRecordings(rest, out);
        return 0;
      case 'detect':
        await (await import('./cli/detect.ts')).cmdDetect(rest, out);
        return 0;
      case 'events':
        await (await import('./cli/events.ts')).cmdEvents(rest, out);
        return 0;
      case 'roster':
        await (await import('./cli/roster.ts')).cmdRoster(rest, out);
        return 0;
      case 'backup':
        await (await import('./cli/backup.ts')).cmdBackup(rest, out);
        return 0;
      case 'backup-status':
        await (await import('./cli/backup.ts')).cmdBackupStatus(rest, out);
        return 0;
      case 'restore':
        await (await import('./cli/backup.ts')).cmdRestore(rest, out);
        return 0;
      case 'verify-export':
        return await (await import('./cli/verify-export.ts')).cmdVerifyExport(rest, out);
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        out.error(`vigil: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof CliHelpRequested) {
      out.log(e.help);
      return 0;
    }
    out.error(`vigil ${command}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
