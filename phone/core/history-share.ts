// Sharing recorded history with a phone paired later (PROTOCOL §15.7). The hub cannot do it: it
// holds no epoch seed. An owner phone fetches the seeds sealed to itself, opens them, seals each to
// the other phone's X-Wing key, and hands the sealed copies to the hub, which stores them for that
// phone and says so in the roster log (a 'history-shared' entry every phone sees as an alert).
//
// The other phone's keys come from the hub (`device-certificate`), so they are checked before
// anything is sealed to them: the certificate must carry the hub's signature, and its fingerprint
// must be the one the roster log this phone verified lists for that phone. A hub that swapped in
// a key of its own would have to show it in the log every phone checks.
import { equalBytes, fromBase64url, toHex } from '../../crypto/bytes.ts';
import { decodeCertificate, type DeviceCertificate } from '../../crypto/certificate.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { MAX_SHARED_KEYS, type ArgsOf, type ResultOf, type SharedEpochKey } from '../../crypto/phone-commands.ts';
import { decodeRecordingEpoch, sealEpochKey } from '../../crypto/recording.ts';
import { EMPTY_ROSTER, certificateFingerprint, entryHash, extendRoster, type RosterLogEntry } from '../../crypto/roster-log.ts';
import { toBase64url } from '../../crypto/bytes.ts';
import type { PhoneProfile } from './profile.ts';
import { RecordingKeyring } from './recordings.ts';
import type { RosterCheck } from './roster.ts';

/** What sharing needs of the hub link (HubLink has it all). */
export interface HistoryShareLink {
  command(action: 'recording-keys', args: ArgsOf<'recording-keys'>): Promise<ResultOf<'recording-keys'>>;
  command(action: 'roster-log', args: ArgsOf<'roster-log'>): Promise<ResultOf<'roster-log'>>;
  command(action: 'device-certificate', args: ArgsOf<'device-certificate'>): Promise<ResultOf<'device-certificate'>>;
  command(action: 'share-history', args: ArgsOf<'share-history'>): Promise<ResultOf<'share-history'>>;
  syncRoster(): Promise<void>;
  readonly rosterLog: RosterCheck;
}

export type HistoryShareProblem = 'no-such-phone' | 'ambiguous-phone' | 'is-me' | 'roster-refused' | 'certificate-refused' | 'nothing-to-share';

/** Why this phone did not share (before the hub was asked to store anything); never names a key. */
export class HistoryShareError extends Error {
  override readonly name = 'HistoryShareError';
  constructor(readonly code: HistoryShareProblem, message: string) {
    super(message);
  }
}

export interface ShareOutcome {
  readonly to: { readonly id: string; readonly name: string };
  /** The epochs sealed and sent, oldest first. */
  readonly epochs: readonly number[];
  /** Stored for the other phone now; held by it already. */
  readonly stored: number;
  readonly held: number;
  /** The roster log entries that say so. */
  readonly entries: readonly number[];
  /** Keys of this phone's own that did not open (they are not shared). */
  readonly refused: readonly string[];
}

/** Pages of the roster log fetched to check a certificate (100 entries each). */
const MAX_LOG_PAGES = 200;
/** `recording-keys` answers one share asks for (a few keys each). */
const MAX_KEY_PAGES = 1000;

/** The phone named: its full id, an id prefix of 8 or more hex digits, or its exact name (one only). */
export function findPhone(check: RosterCheck, nameOrId: string, me: Uint8Array): { id: string; name: string } {
  const members = check.saved.members;
  const lower = nameOrId.toLowerCase();
  const byId = /^[0-9a-f]{8,32}$/.test(lower) ? members.filter((m) => m.id.startsWith(lower)) : [];
  const found = byId.length > 0 ? byId : members.filter((m) => m.name === nameOrId);
  if (found.length === 0) throw new HistoryShareError('no-such-phone', `no phone "${nameOrId}" on the roster log this phone checked (have: ${members.map((m) => `"${m.name}"`).join(', ') || 'none'})`);
  if (found.length > 1) throw new HistoryShareError('ambiguous-phone', `${found.length} phones are called "${nameOrId}": name one by its id (${found.map((m) => m.id.slice(0, 8)).join(', ')})`);
  const phone = found[0]!;
  if (phone.id === toHex(me)) throw new HistoryShareError('is-me', 'this phone holds its own recording keys already');
  return { id: phone.id, name: phone.name };
}

/**
 * The other phone's certificate, checked: signed by the hub, for that device, and with the
 * fingerprint the roster log lists for it. The whole log is fetched again and must be the one this
 * phone verified (its entry at the length kept hashes to the head kept), extended.
 */
export async function verifiedCertificate(link: HistoryShareLink, profile: PhoneProfile, id: string): Promise<DeviceCertificate> {
  const kept = link.rosterLog.saved;
  const wires: Uint8Array[] = [];
  for (let page = 0; page < MAX_LOG_PAGES; page++) {
    const { entries, length } = await link.command('roster-log', { since: wires.length });
    wires.push(...entries.map((e) => fromBase64url(e)));
    if (entries.length === 0 || wires.length >= length) break;
  }
  let entries: RosterLogEntry[];
  try {
    entries = extendRoster(EMPTY_ROSTER, wires, profile.hub).entries;
  } catch (e) {
    throw new HistoryShareError('roster-refused', `the hub's roster log does not check (${isCryptoError(e) ? e.code : 'malformed'})`);
  }
  const at = wires[kept.length - 1];
  if (kept.length === 0 || at === undefined || toHex(entryHash(at)) !== kept.head) {
    throw new HistoryShareError('roster-refused', 'the hub\'s roster log is not the one this phone checked');
  }
  const listed = entries.filter((e) => toHex(e.deviceId) === id && e.change !== 'history-shared').at(-1);
  if (listed === undefined || listed.change === 'removed') throw new HistoryShareError('no-such-phone', 'that phone is not on the roster (removed?)');
  const { certificate } = await link.command('device-certificate', { device: id });
  let cert: DeviceCertificate;
  const bytes = fromBase64url(certificate);
  try {
    cert = decodeCertificate(bytes, profile.hub.signingKey);
  } catch (e) {
    throw new HistoryShareError('certificate-refused', `the hub sent a certificate it did not sign (${isCryptoError(e) ? e.code : 'malformed'})`);
  }
  if (toHex(cert.deviceId) !== id || !equalBytes(certificateFingerprint(bytes), listed.fingerprint)) {
    throw new HistoryShareError('certificate-refused', `the hub sent keys for "${listed.name}" that the roster log does not list for it: nothing was shared`);
  }
  return cert;
}

/**
 * Shares this phone's recording epochs with another phone: all it holds, or those whose time
 * reaches past `from` (Unix ms). Seeds are opened in memory, sealed to the other phone, and wiped.
 */
export async function shareHistory(link: HistoryShareLink, profile: PhoneProfile, opts: { readonly to: string; readonly from?: number }): Promise<ShareOutcome> {
  await link.syncRoster();
  const to = findPhone(link.rosterLog, opts.to, profile.device.deviceId);
  const cert = await verifiedCertificate(link, profile, to.id);
  const keyring = new RecordingKeyring(profile);
  try {
    const created = new Map<number, number>();
    const refused: string[] = [];
    let since = 0;
    for (let page = 0; page < MAX_KEY_PAGES; page++) {
      const r = await link.command('recording-keys', { since });
      for (const k of r.keys) {
        try {
          const e = decodeRecordingEpoch(fromBase64url(k.epoch), profile.hub);
          created.set(e.epoch, e.createdAt);
        } catch {
          // RecordingKeyring.take says why.
        }
      }
      const taken = keyring.take(r.keys);
      refused.push(...taken.refused);
      if (taken.newestNamed === undefined || taken.newestNamed < since) break;
      since = taken.newestNamed + 1;
    }
    const held = [...created.keys()].filter((n) => keyring.has(n)).sort((a, b) => a - b);
    // An epoch lasts until the next one begins: it is wanted if that is after `from`.
    const wanted = held.filter((n, i) => opts.from === undefined || (created.get(held[i + 1]!) ?? Infinity) > opts.from);
    if (wanted.length === 0) throw new HistoryShareError('nothing-to-share', 'this phone holds no recording key of that time');
    let stored = 0;
    let already = 0;
    const entries: number[] = [];
    for (let i = 0; i < wanted.length; i += MAX_SHARED_KEYS) {
      const keys: SharedEpochKey[] = wanted.slice(i, i + MAX_SHARED_KEYS).map((n) => ({
        epoch: n,
        sealed: toBase64url(sealEpochKey(profile.hub.hubId, n, keyring.seed(n)!, { deviceId: cert.deviceId, pqKey: cert.pqKey })),
      }));
      const r = await link.command('share-history', { to: to.id, keys });
      stored += r.stored;
      already += r.held;
      if (r.entry !== undefined) entries.push(r.entry);
    }
    // The log grew: check it now, so this phone's own view has the entries it caused.
    await link.syncRoster();
    return { to, epochs: wanted, stored, held: already, entries, refused };
  } finally {
    keyring.wipe();
  }
}
