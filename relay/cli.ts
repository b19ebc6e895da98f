// `vigil relay --listen HOST:PORT [--nats URL]`: runs the blind relay until SIGINT or SIGTERM, alone
// or as one node of a cluster joined through NATS. The main CLI calls runRelayCli(argv) with the
// arguments after `relay`.

import { resolveLimits, startRelay, type LogFields, type RelayLimits, type RelayLogger } from './server.ts';

export const DEFAULT_LISTEN = '127.0.0.1:8787';

export interface RelayCliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Resolves when the process should stop; default: the first SIGINT or SIGTERM. */
  stopSignal?: Promise<void>;
}

const USAGE =
  'usage: vigil relay [--listen HOST:PORT] [--public-host HOST[:PORT]]... [--nats nats://HOST:PORT]... [--nats-prefix SUBJECT] [--limit NAME=VALUE]... [--verbose]';

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

export function parseRelayArgs(argv: readonly string[]): RelayCliArgs {
  let listen = DEFAULT_LISTEN;
  const publicHosts: string[] = [];
  const nats: string[] = [];
  let natsPrefix: string | undefined;
  const limits: Record<string, number> = {};
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--listen':
        listen = value();
        break;
      case '--public-host':
        publicHosts.push(value());
        break;
      case '--nats':
        // One flag may list several servers of one NATS cluster, comma-separated.
        for (const url of value().split(',')) {
          if (!/^(nats|tls):\/\/[^\s/]+\/?$/.test(url)) throw new Error(`--nats wants nats://HOST:PORT, got ${JSON.stringify(url)}`);
          nats.push(url);
        }
        break;
      case '--nats-prefix':
        natsPrefix = value();
        break;
      case '--limit': {
        const m = /^([A-Za-z]+)=(\d+)$/.exec(value());
        if (!m) throw new Error(`--limit wants NAME=VALUE (README §8)\n${USAGE}`);
        limits[m[1] as string] = Number(m[2]);
        break;
      }
      case '--verbose':
        verbose = true;
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    }
  }
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
