// How CLI commands reach a running hub: DIR/hub.json says where its local API listens, and
// DIR/api-token holds the token it wants.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { callPath, type CallBody } from '../../contract/hub-ui.ts';
import type { LocalCallArgs, LocalCallName, LocalCallValue } from '../api/calls.ts';
import { HUB_FILE, TOKEN_FILE } from '../api/hub-files.ts';

export class CliError extends Error {
  override readonly name = 'CliError';
}

/** Nothing answers at the address in hub.json. */
class HubGone extends CliError {}

/** A running hub's local API: its calls (main/api/calls.ts), typed by the contract. */
export interface HubClient {
  call<K extends LocalCallName>(name: K, ...args: LocalCallArgs<K>): Promise<LocalCallValue<K>>;
}

/** The running hub's API, or undefined when no hub runs on this data directory. */
export async function runningHub(dataDir: string): Promise<HubClient | undefined> {
  const hubFile = join(dataDir, HUB_FILE);
  if (!existsSync(hubFile)) return undefined;
  let url: string;
  try {
    url = (JSON.parse(readFileSync(hubFile, 'utf8')) as { url: string }).url;
  } catch {
    return undefined;
  }
  const token = readFileSync(join(dataDir, TOKEN_FILE), 'utf8').trim();
  const post = async (name: LocalCallName, args: unknown[]): Promise<unknown> => {
    const body: CallBody = { args };
    let res: Response;
    try {
      res = await fetch(url + callPath(name), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      throw new HubGone(`the hub at ${url} does not answer`);
    }
    const value = (await res.json().catch(() => null)) as { error?: string } | null;
    if (!res.ok) throw new CliError(value?.error ?? `the hub answered ${res.status}`);
    return value;
  };
  // A hub.json left behind by a hub that crashed points at nothing: treat as not running.
  try {
    await post('status', []);
  } catch (e) {
    if (e instanceof HubGone) return undefined;
    throw e;
  }
  return {
    async call<K extends LocalCallName>(name: K, ...args: LocalCallArgs<K>): Promise<LocalCallValue<K>> {
      // The value's type is the contract's: the hub's JSON is the hub's own.
      return (await post(name, args)) as LocalCallValue<K>;
    },
  };
}
