// `vigil relay --listen HOST:PORT [--nats URL]`: runs the blind relay until SIGINT or SIGTERM, alone
// or as one node of a cluster joined through NATS. The main CLI calls runRelayCli(argv) with the
// arguments after `relay`.

import { CliHelpRequested, helpOf, parseCommand, synopsisOf, type CliCommand } from './cli-options.ts';
import { resolveLimits, startRelay, type LogFields, type RelayLimits, type RelayLogger } from './server.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8787';

/** `vigil relay`'s options: its parser and its --help are both made from this table. */
export const RELAY_COMMAND: CliCommand = {
  name: 'vigil relay',
  summary: 'Runs the blind relay until Ctrl-C (SIGINT) or SIGTERM. It forwards only ciphertext.',
  options: {
    listen: { type: 'string', value: 'HOST:PORT', help: `where to listen (default ${DEFAULT_LISTEN}; [::1]:PORT for IPv6)` },
    'public-host': { type: 'string', value: 'HOST[:PORT]', multiple: true, help: 'the host name phones and hubs reach this relay by, as logins sign it\n(default: the request\'s Host header; relay/README.md section 4)' },
    nats: { type: 'string', value: 'nats://HOST:PORT', multiple: true, help: 'join a relay cluster through this NATS server; comma-separate or repeat\nfor the servers of one NATS cluster' },
    'nats-prefix': { type: 'string', value: 'SUBJECT', help: 'NATS subject prefix (default vigil.relay.v1), so several relay clusters\nmay share one NATS; needs --nats' },
    limit: { type: 'string', value: 'NAME=VALUE', multiple: true, help: 'set one limit of relay/README.md section 8, e.g.\nmaxConnectionsPerAddress=10000 behind a reverse proxy' },
    verbose: { type: 'boolean', help: 'also log debug lines' },
  },
  notes: 'Logs one JSON line per event on stderr. Exits 2 on bad arguments, 1 when it cannot start.',
};
const USAGE = `usage: ${synopsisOf(RELAY_COMMAND)}`;

export interface RelayCliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Resolves when the process should stop; default: the first SIGINT or SIGTERM. */
  stopSignal?: Promise<void>;
}

/** Parses `HOST:PORT` or `[IPV6]:PORT`. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen wants HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

export interface RelayCliArgs {
  host: string;
  port: number;
  publicHosts: string[];
  /** NATS servers to join a cluster through; empty: a single node. */
  nats: string[];
  natsPrefix: string | undefined;
  /** Limits over the defaults (README §8), e.g. maxConnectionsPerAddress behind a proxy. */
  limits: Partial<RelayLimits>;
  verbose: boolean;
}

/** Parses `vigil relay`'s arguments; throws CliHelpRequested for --help. */
export function parseRelayArgs(argv: readonly string[]): RelayCliArgs {
  const { values } = parseCommand(RELAY_COMMAND, argv);
  const listen = (values.listen as string | undefined) ?? DEFAULT_LISTEN;
  const publicHosts = (values['public-host'] as string[] | undefined) ?? [];
  const nats: string[] = [];
  // One flag may list several servers of one NATS cluster, comma-separated.
  for (const url of ((values.nats as string[] | undefined) ?? []).flatMap((v) => v.split(','))) {
    if (!/^(nats|tls):\/\/[^\s/]+\/?$/.test(url)) throw new Error(`--nats wants nats://HOST:PORT, got ${JSON.stringify(url)}`);
    nats.push(url);
  }
  const natsPrefix = values['nats-prefix'] as string | undefined;
  const limits: Record<string, number> = {};
  for (const v of (values.limit as string[] | undefined) ?? []) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(v);
    if (!m) throw new Error(`--limit wants NAME=VALUE (relay/README.md section 8)\n${USAGE}`);
    limits[m[1] as string] = Number(m[2]);
  }
  const verbose = values.verbose === true;
  if (natsPrefix !== undefined && nats.length === 0) throw new Error(`--nats-prefix needs --nats\n${USAGE}`);
  resolveLimits(limits); // unknown names and conflicts fail here, as bad arguments
  return { ...parseListen(listen), publicHosts, nats, natsPrefix, limits, verbose };
}

/** One JSON line per event on stderr; fields are already limited to short ids, sizes and codes. */
function jsonLogger(write: (line: string) => void, verbose: boolean): RelayLogger {
  const line =
    (level: string) =>
    (event: string, fields: LogFields = {}): void =>
      write(JSON.stringify({ t: new Date().toISOString(), level, event, ...fields }));
  return { info: line('info'), warn: line('warn'), ...(verbose ? { debug: line('debug') } : {}) };
}

function signals(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Runs the relay; resolves with the exit code once it has stopped. */
export async function runRelayCli(
  argv: readonly string[],
  io: RelayCliIo = { stdout: (l) => console.log(l), stderr: (l) => console.error(l) },
): Promise<number> {
  let args: RelayCliArgs;
  try {
    args = parseRelayArgs(argv);
  } catch (e) {
    if (e instanceof CliHelpRequested) {
      io.stdout(helpOf(RELAY_COMMAND));
      return 0;
    }
    io.stderr((e as Error).message);
    return 2;
  }
  let relay;
  try {
    relay = await startRelay({
      host: args.host,
      port: args.port,
      logger: jsonLogger(io.stderr, args.verbose),
      limits: args.limits,
      ...(args.publicHosts.length > 0 ? { publicHosts: args.publicHosts } : {}),
      ...(args.nats.length > 0
        ? { nats: { servers: args.nats, ...(args.natsPrefix !== undefined ? { prefix: args.natsPrefix } : {}) } }
        : {}),
    });
  } catch (e) {
    io.stderr(`relay: cannot start: ${(e as Error).message}`);
    return 1;
  }
  io.stdout(`relay listening on ${relay.url}${args.nats.length > 0 ? ` (cluster via ${args.nats.join(',')})` : ''}`);
  await (io.stopSignal ?? signals());
  await relay.close();
  return 0;
}
