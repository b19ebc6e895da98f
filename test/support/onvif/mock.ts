// Starts the ONVIF device mock (onvif-mockup.mjs next to this file) inside a test namespace.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Netns } from '../netns/netns.ts';

export const MOCK_LAUNCHER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'onvif-mockup.mjs');

export interface OnvifMockOptions {
  host?: string;
  port?: number;
  streamUri?: string;
  endpointUuid?: string;
  user?: string;
  password?: string;
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
    '--user', o.user ?? 'admin', '--password', o.password ?? 'secret', '--run-seconds', String(o.runSeconds ?? 60), '--verbose']);
  await ns.waitFor(child, '"event":"ready"', 15_000);
  return { xaddr: `http://${host}:${port}/onvif/device_service`, endpoint: `urn:uuid:${uuid}`, output: () => child.output };
}
