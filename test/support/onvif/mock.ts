// Starts the ONVIF device mock (onvif-mockup.mjs next to this file) inside a test namespace, or on
// loopback without its discovery socket (startLoopbackOnvifMock: scripted events, two profiles).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT, type Netns } from '../netns/netns.ts';

export const MOCK_LAUNCHER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'onvif-mockup.mjs');

export interface OnvifMockOptions {
  host?: string;
  port?: number;
  streamUri?: string;
  endpointUuid?: string;
  user?: string;
  password?: string;
  /** The mock exits by itself after this long (default: never; it runs until stopped or until this process is gone). */
  runSeconds?: number;
}

export interface OnvifMock {
  readonly xaddr: string;
  readonly endpoint: string;
  /** Everything the mock printed (with --verbose: `received ptz ContinuousMove` lines). */
  output(): string;
}

export async function startOnvifMock(ns: Netns, o: OnvifMockOptions = {}): Promise<OnvifMock> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 10101;
  const uuid = o.endpointUuid ?? 'c9790c3a-701b-464d-a189-0060351c8ada';
  const child = ns.spawn(process.execPath, [MOCK_LAUNCHER, '--host', host, '--port', String(port),
    '--stream-uri', o.streamUri ?? `rtsp://${host}:8554/cam`, '--endpoint-uuid', uuid,
    '--user', o.user ?? 'admin', '--password', o.password ?? 'secret', '--run-seconds', String(o.runSeconds ?? 0), '--exit-on-stdin-eof', '--verbose'],
    { stdinPipe: true }); // no time limit of its own: destroy() or the end of this process ends it
  await ns.waitFor(child, '"event":"ready"', 15_000);
  return { xaddr: `http://${host}:${port}/onvif/device_service`, endpoint: `urn:uuid:${uuid}`, output: () => child.output };
}

export interface LoopbackOnvifMockOptions {
  port: number;
  streamUri?: string;
  /** token:WxH:URI each (GetProfiles lists them, GetStreamUri answers each one's URI). */
  profiles?: { token: string; width: number; height: number; uri: string }[];
  renew?: boolean;
  /** The mock exits by itself after this long (default: never; it runs until stopped or until this process is gone). */
  runSeconds?: number;
}

export interface MockStats {
  CreatePullPointSubscription: number;
  PullMessages: number;
  Renew: number;
  Unsubscribe: number;
  GetStreamUri: number;
  GetDeviceInformation: number;
  queued: number;
  hostile: number;
}

/** The mock on 127.0.0.1 with no discovery socket (no multicast), scripted through a Unix socket. */
export interface LoopbackOnvifMock {
  readonly xaddr: string;
  output(): string;
  /** Queues a notification for the camera's next PullMessages reply. */
  emit(topic: string, items: Record<string, string>): Promise<MockStats>;
  /** The next `count` PullMessages replies are hostile. */
  hostile(mode: 'bad-xml' | 'huge' | 'dtd', count?: number): Promise<MockStats>;
  /** What GetDeviceInformation says from now on. */
  setSerial(serial: string): Promise<MockStats>;
  stats(): Promise<MockStats>;
  stop(): Promise<void>;
}

function controlCall(socketPath: string, method: 'GET' | 'POST', url: string, body?: unknown): Promise<MockStats> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: url, timeout: 5_000, headers: { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(parts).toString()) as MockStats) : reject(new Error(`mock control ${url}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('mock control timed out')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export async function startLoopbackOnvifMock(o: LoopbackOnvifMockOptions): Promise<LoopbackOnvifMock> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-onvif-mock-'));
  const socketPath = path.join(dir, 'control.sock');
  const args = [MOCK_LAUNCHER, '--host', '127.0.0.1', '--port', String(o.port), '--no-discovery', '--control', socketPath, '--verbose',
    '--stream-uri', o.streamUri ?? o.profiles?.[0]?.uri ?? 'rtsp://127.0.0.1:8554/cam', '--run-seconds', String(o.runSeconds ?? 0), '--exit-on-stdin-eof'];
  if (o.profiles !== undefined) args.push('--profiles', o.profiles.map((p) => `${p.token}:${p.width}x${p.height}:${p.uri}`).join(','));
  if (o.renew === false) args.push('--no-renew');
  // No time limit of its own (a guessed one can run out while a slow test still uses it): it ends at
  // stop(), or when this process is gone and the stdin pipe closes.
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => { out = (out + b.toString()).slice(-64 * 1024); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await once(child, 'exit');
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!out.includes('"event":"ready"')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the ONVIF mock did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    xaddr: `http://127.0.0.1:${o.port}/onvif/device_service`,
    output: () => out,
    emit: (topic, items) => controlCall(socketPath, 'POST', '/emit', { topic, items }),
    hostile: (mode, count = 1) => controlCall(socketPath, 'POST', '/reply', { mode, count }),
    setSerial: (serial) => controlCall(socketPath, 'POST', '/serial', { serial }),
    stats: () => controlCall(socketPath, 'GET', '/stats'),
    stop,
  };
}
