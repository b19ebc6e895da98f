// How CLI commands reach a running hub: DIR/hub.json says where its local API listens, and
// DIR/api-token holds the token it wants.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HUB_FILE, TOKEN_FILE } from '../hub.ts';

export class CliError extends Error {
  override readonly name = 'CliError';
}

export interface HubApi {
  get(path: string): Promise<unknown>;
  post(path: string, body?: unknown): Promise<unknown>;
  del(path: string): Promise<unknown>;
}

/** The running hub's API, or undefined when no hub runs on this data directory. */
export async function runningHub(dataDir: string): Promise<HubApi | undefined> {
  const hubFile = join(dataDir, HUB_FILE);
  if (!existsSync(hubFile)) return undefined;
  let url: string;
  try {
    url = (JSON.parse(readFileSync(hubFile, 'utf8')) as { url: string }).url;
  } catch {
    return undefined;
  }
  const token = readFileSync(join(dataDir, TOKEN_FILE), 'utf8').trim();
  const call = async (method: string, path: string, body?: unknown) => {
    let res: Response;
    try {
      res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      return { stale: true } as const;
    }
    const value = (await res.json().catch(() => null)) as { error?: string } | null;
    if (!res.ok) throw new CliError(value?.error ?? `the hub answered ${res.status}`);
    return value;
  };
  // A hub.json left behind by a hub that crashed points at nothing: treat as not running.
  const probe = await call('GET', '/api/status');
  if (probe !== null && typeof probe === 'object' && 'stale' in probe) return undefined;
  return {
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b ?? {}),
    del: (p) => call('DELETE', p),
  };
}
