// The two files through which the command line finds a running hub in its data directory: the
// local API's token (made once, kept across restarts, owner-only) and hub.json (the API's URL and
// the hub's pid, while it runs). Anyone who can read the token can drive the hub: mode 0600.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const HUB_FILE = 'hub.json';
export const TOKEN_FILE = 'api-token';

/** The local API token, made on first use. */
export function apiToken(dataDir: string): string {
  const path = join(dataDir, TOKEN_FILE);
  if (!existsSync(path)) writeFileSync(path, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return readFileSync(path, 'utf8').trim();
}

/** Says where the running hub's local API is. */
export function writeHubFile(dataDir: string, url: string): void {
  writeFileSync(join(dataDir, HUB_FILE), JSON.stringify({ url, pid: process.pid }) + '\n', { mode: 0o600 });
}

export function removeHubFile(dataDir: string): void {
  rmSync(join(dataDir, HUB_FILE), { force: true });
}
