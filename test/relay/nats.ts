// Starts a real nats-server (the Debian package) on a free loopback port for the cluster tests, and
// relay nodes as child processes (`bin/vigil relay`) that a test can kill.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { installHint } from '../support/packages.ts';

export const NATS_SERVER = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
export const haveNats = existsSync(NATS_SERVER);
if (!haveNats) console.warn(`relay cluster tests SKIPPED: no nats-server at ${NATS_SERVER} (${installHint('bin:nats-server')})`);

const VIGIL = fileURLToPath(new URL('../../bin/vigil', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface NatsServer {
  url: string;
  stop(): Promise<void>;
}

export async function startNats(port?: number): Promise<NatsServer> {
  port ??= await freePort();
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const deadline = Date.now() + 5000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { url: `nats://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export interface RelayProcess {
  url: string;
  port: number;
  stderr(): string;
  /** SIGKILL: the node dies mid-stream, with no goodbye to NATS or its clients. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** `bin/vigil relay --listen 127.0.0.1:PORT --nats URL`, resolved once it prints its URL. */
export async function startRelayProcess(natsUrl: string, extra: string[] = []): Promise<RelayProcess> {
  const port = await freePort();
  const child = spawn(VIGIL, ['relay', '--listen', `127.0.0.1:${port}`, '--nats', natsUrl, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`relay process did not start: ${stderr}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /relay listening on (ws:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay process exited ${code}: ${stderr}`));
    });
  });
  return {
    url,
    port,
    stderr: () => stderr,
    kill: () => stopChild(child, 'SIGKILL'),
    stop: () => stopChild(child),
  };
}
