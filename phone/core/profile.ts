// A phone's profile: its own keys, the hub it belongs to, and its certificate. The command-line phone
// keeps it in a 0600 JSON file; the phone app keeps the same object in IndexedDB. Private keys are
// in here and nowhere else: they are never sent anywhere.
import { fromBase64url, toBase64url } from '../../crypto/bytes.ts';
import { decodeCertificate, encodeCertificate, type DeviceCertificate } from '../../crypto/certificate.ts';
import {
  exportDeviceIdentity, importDeviceIdentity, signingFromSecret,
  type DeviceIdentity, type HubPublicKeys, type KeyPair,
} from '../../crypto/identity.ts';
import { rosterStateFromJson, type RosterState } from './roster.ts';

export const PROFILE_FORMAT = 'vigil-phone-profile';

export interface PhoneProfile {
  readonly name: string;
  readonly device: DeviceIdentity;
  /** The Ed25519 key this phone uses on relays for this hub only. */
  readonly relayKey: KeyPair;
  readonly hub: HubPublicKeys;
  readonly certificate: DeviceCertificate;
  readonly relays: readonly string[];
  /** The hub's LAN endpoints, as the hub last told us. */
  lanUrls?: readonly string[];
  /** Last command sequence number used; commands must keep going up across restarts. */
  lastSeq: bigint;
  /**
   * The newest epoch this phone took a key update of. Epochs are hub-wide, so no key update of an
   * older one is taken again, for any camera or profile, across restarts (issue 14, finding 2).
   */
  epochFloor?: number;
  /** How far this phone checked the hub's roster log, and the changes it alerted on (roster.ts). */
  roster?: RosterState;
  readonly pairedAt: number;
}

interface ProfileJson {
  format: typeof PROFILE_FORMAT;
  version: 1;
  name: string;
  device: string;
  relayKey: string;
  hub: { hubId: string; signingKey: string; exchangeKey: string; pqKey: string; relayKey: string };
  certificate: string;
  relays: string[];
  lanUrls?: string[];
  lastSeq: string;
  epochFloor?: number;
  roster?: RosterState;
  pairedAt: number;
}

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

export function profileToJson(p: PhoneProfile): string {
  const json: ProfileJson = {
    format: PROFILE_FORMAT,
    version: 1,
    name: p.name,
    device: toBase64url(exportDeviceIdentity(p.device)),
    relayKey: toBase64url(p.relayKey.privateKey.expose()),
    hub: {
      hubId: toBase64url(p.hub.hubId),
      signingKey: toBase64url(p.hub.signingKey),
      exchangeKey: toBase64url(p.hub.exchangeKey),
      pqKey: toBase64url(p.hub.pqKey),
      relayKey: toBase64url(p.hub.relayKey),
    },
    certificate: toBase64url(encodeCertificate(p.certificate)),
    relays: [...p.relays],
    ...(p.lanUrls ? { lanUrls: [...p.lanUrls] } : {}),
    lastSeq: p.lastSeq.toString(),
    ...(p.epochFloor !== undefined ? { epochFloor: p.epochFloor } : {}),
    ...(p.roster !== undefined ? { roster: p.roster } : {}),
    pairedAt: p.pairedAt,
  };
  return JSON.stringify(json, null, 2) + '\n';
}

export function profileFromJson(text: string): PhoneProfile {
  let j: ProfileJson;
  try {
    j = JSON.parse(text) as ProfileJson;
  } catch {
    throw new ProfileError('the profile file is not JSON');
  }
  if (j?.format !== PROFILE_FORMAT || j.version !== 1) throw new ProfileError('not a Vigil phone profile (or a newer version)');
  try {
    const hub: HubPublicKeys = {
      hubId: fromBase64url(j.hub.hubId),
      signingKey: fromBase64url(j.hub.signingKey),
      exchangeKey: fromBase64url(j.hub.exchangeKey),
      pqKey: fromBase64url(j.hub.pqKey),
      relayKey: fromBase64url(j.hub.relayKey),
    };
    return {
      name: String(j.name),
      device: importDeviceIdentity(fromBase64url(j.device)),
      relayKey: signingFromSecret(fromBase64url(j.relayKey), 'phone relay key'),
      hub,
      certificate: decodeCertificate(fromBase64url(j.certificate), hub.signingKey),
      relays: j.relays.map(String),
      ...(Array.isArray(j.lanUrls) ? { lanUrls: j.lanUrls.map(String) } : {}),
      lastSeq: BigInt(j.lastSeq),
      ...(j.epochFloor !== undefined ? { epochFloor: epochOf(j.epochFloor) } : {}),
      ...(j.roster !== undefined ? { roster: rosterStateFromJson(j.roster) } : {}),
      pairedAt: Number(j.pairedAt),
    };
  } catch (e) {
    throw new ProfileError(`the profile file is damaged (${e instanceof Error ? e.message : 'unreadable'})`);
  }
}

function epochOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new ProfileError('epochFloor is not an epoch');
  return v;
}
