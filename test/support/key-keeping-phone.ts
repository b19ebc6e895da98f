// A phone in the test's own process that keeps a copy of every key update it takes, for tests that
// play the attacker's part: "even every key this phone ever held opens none of these frames"
// (test/e2e/guests.test.ts, test/e2e/scope-change.test.ts).
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { isCryptoError } from '../../crypto/errors.ts';
import { FrameOpener } from '../../crypto/frame.ts';
import type { KeyUpdate } from '../../crypto/keyupdate.ts';
import { CommandError, HubLink } from '../../phone/core/hub-link.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { RelayClient, type RelayClientOptions, type WebSocketConstructor } from '../../relay/client.ts';

/** A key update as the phone took it, its keys copied (the link wipes its own when an epoch ends). */
export interface Held {
  readonly hubId: Uint8Array;
  readonly epoch: number;
  readonly cameras: { readonly cameraId: Uint8Array; readonly cameraNumber: number; readonly key: Uint8Array }[];
}

/** A relay factory that hands every media message the relay delivers to `record` too. */
export function tapped(record: (payload: Uint8Array) => void) {
  return (options: RelayClientOptions) => new RelayClient({
    ...options,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    onMedia: (m) => {
      record(Uint8Array.from(m.payload));
      options.onMedia?.(m);
    },
  });
}

/**
 * The phone of `profile` on the relay only, connected, whose key updates are kept in `updates` and
 * whose media goes to `record` too. Pushed onto `links` for the caller to close.
 */
export async function keyKeepingPhone(profile: string, links: HubLink[], record: (payload: Uint8Array) => void = () => undefined): Promise<{ link: HubLink; updates: Held[] }> {
  const link = new HubLink({ profile: profileFromJson(readFileSync(profile, 'utf8')), relayFactory: tapped(record), path: 'relay', commandTimeoutMs: 15_000 });
  links.push(link);
  const media = link['media'] as unknown as { takeKeyUpdate(u: KeyUpdate): void };
  const updates: Held[] = [];
  const take = media.takeKeyUpdate.bind(media);
  media.takeKeyUpdate = (u) => {
    updates.push({ hubId: u.hubId, epoch: u.epoch, cameras: u.cameras.map((c) => ({ cameraId: c.cameraId, cameraNumber: c.cameraNumber, key: Uint8Array.from(c.key.expose()) })) });
    take(u);
  };
  await link.ready(60_000);
  return { link, updates };
}

/** Those of `frames` that the keys of one of `updates` open (each update with an opener of its own). */
export function openedBy(updates: readonly Held[], frames: readonly Uint8Array[]): Uint8Array[] {
  const out = new Set<Uint8Array>();
  for (const u of updates) {
    const opener = new FrameOpener();
    for (const c of u.cameras) opener.addKey({ hubId: u.hubId, cameraId: c.cameraId, cameraNumber: c.cameraNumber, epoch: u.epoch, key: c.key });
    for (const f of frames) {
      try {
        opener.open(f);
        out.add(f);
      } catch (e) {
        if (!isCryptoError(e)) throw e;
      }
    }
  }
  return frames.filter((f) => out.has(f));
}

/** The hub's refusal code of a command (or 'no answer'); undefined when it was served. */
export async function refusalOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof CommandError ? e.code ?? 'no answer' : `not a refusal: ${String(e)}`;
  }
  return undefined;
}
