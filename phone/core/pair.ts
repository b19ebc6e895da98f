// The phone's side of pairing: scan (or paste) the link, reach the hub through the relay mailbox the
// invite names, show the code, wait for the owner's approval on the hub, keep the certificate.
import { equalBytes } from '../../crypto/bytes.ts';
import { CryptoError, isCryptoError } from '../../crypto/errors.ts';
import { newDeviceIdentity, newSigningKeyPair, sign, type HubPublicKeys } from '../../crypto/identity.ts';
import { parseInviteLink } from '../../crypto/invite.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../../crypto/messages.ts';
import { startPairing } from '../../crypto/pairing.ts';
import type { RelayClient, RelayClientOptions } from '../../relay/client.ts';
import { HubLink } from './hub-link.ts';
import type { PhoneProfile } from './profile.ts';

export type RelayFactory = (options: RelayClientOptions) => RelayClient;

export interface PairOptions {
  link: string;
  name: string;
  relayFactory: RelayFactory;
  /** Called once the code is known, to show it next to the hub's. */
  onCode?: (code: string) => void;
  /** How long to wait for the owner's approval. */
  timeoutMs?: number;
  /** Use this relay instead of the invite's list. */
  relayUrl?: string;
  /** Use these relays (in order) instead of the invite's list. */
  relayUrls?: readonly string[];
  /** How long to wait for each relay or LAN endpoint to answer before trying the next. */
  connectTimeoutMs?: number;
}

/** How long learnLanEndpoints waits for the hub's `paths` notice: a relay login, a handshake and its answer. */
const PATHS_WAIT_MS = 8000;

export class PairingError extends Error {
  override readonly name = 'PairingError';
}

export async function pairWithHub(opts: PairOptions): Promise<PhoneProfile> {
  const invite = parseInviteLink(opts.link);
  const urls = opts.relayUrls !== undefined ? [...opts.relayUrls] : opts.relayUrl !== undefined ? [opts.relayUrl] : [...invite.relays];
  if (urls.length === 0) throw new PairingError('the pairing link names no relay to reach the hub through');
  let lastError: unknown;
  const reasons: string[] = [];
  // The hub lists its LAN endpoint first (when it has one), then its relays: at home pairing works
  // without the internet, away from home through the relay.
  for (const url of urls) {
    try {
      return await pairThrough(url, opts, invite);
    } catch (e) {
      lastError = e;
      if (!(e instanceof UnreachableError)) throw e;
      reasons.push(e.message);
    }
  }
  throw lastError instanceof UnreachableError
    ? new PairingError(`could not reach the hub (${reasons.join('; ')}): is it running, and is this phone on its network or online?`)
    : lastError;
}

class UnreachableError extends Error {}

/**
 * Asks the hub which of its addresses are LAN endpoints, in a session over the first of `urls` that
 * answers (the hub says so after every handshake: `paths`, end to end), and keeps the answer in the
 * profile. The invite lists the hub's LAN endpoint among its relays without saying which it is, so
 * a profile fresh from pairing does not know, even when it paired through that very endpoint; a
 * phone asked for the LAN path (`vigil-phone watch --path lan`) asks first. Resolves to whether the
 * hub said so within `timeoutMs`; the profile is left as it was when not.
 */
export async function learnLanEndpoints(profile: PhoneProfile, relayFactory: RelayFactory, urls: readonly string[], timeoutMs = PATHS_WAIT_MS): Promise<boolean> {
  if (profile.lanUrls !== undefined) return true;
  if (urls.length === 0) return false;
  let heard: () => void = () => undefined;
  const told = new Promise<void>((resolve) => (heard = resolve));
  // The link changes the profile for other reasons too (a key update): wait for the notice itself.
  const link = new HubLink({
    profile, relayFactory, relayUrls: urls,
    onProfileChanged: (p) => {
      if (p.lanUrls !== undefined) heard();
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([told, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    await link.close();
  }
  return profile.lanUrls !== undefined;
}

async function pairThrough(relayUrl: string, opts: PairOptions, invite: ReturnType<typeof parseInviteLink>): Promise<PhoneProfile> {
  const device = newDeviceIdentity();
  const relayKey = newSigningKeyPair('phone relay key');
  const pairing = startPairing({ invite, device, relayKey: relayKey.publicKey, name: opts.name, now: Date.now() / 1000 });

  let hub: HubPublicKeys | undefined;
  let client: RelayClient | undefined;
  const result = new Promise<PhoneProfile>((resolve, reject) => {
    const fail = (e: unknown) => reject(e instanceof Error ? e : new PairingError(String(e)));
    client = opts.relayFactory({
      url: relayUrl,
      publicKey: relayKey.publicKey,
      sign: (m) => sign(relayKey, m),
      onMessage(from, payload) {
        try {
          const { kind, body } = decodeEnvelope(payload);
          if (kind === Envelope.PAIR_2 && hub === undefined) {
            const m2 = pairing.readMessage2(body);
            hub = m2.hub;
            opts.onCode?.(m2.code);
            client?.postMailbox(invite.inviteId, encodeEnvelope(Envelope.PAIR_CONFIRM, m2.confirmation)).catch(fail);
          } else if (kind === Envelope.PAIR_RESULT && hub !== undefined && equalBytes(from, hub.relayKey)) {
            const certificate = pairing.readResult(body);
            resolve({
              name: opts.name, device, relayKey, hub, certificate, relays: invite.relays.length ? invite.relays : [relayUrl],
              lastSeq: 0n, pairedAt: Math.floor(Date.now() / 1000),
            });
          }
        } catch (e) {
          // A refusal or the wrong hub ends pairing; anything else on the wire is someone else's noise.
          if (isCryptoError(e) && (e.code === 'forbidden' || e.code === 'wrong-hub-key' || e.code === 'tampered' || e.code === 'expired')) fail(e);
        }
      },
    });
  });
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PairingError(hub === undefined
      ? 'the hub did not answer: is it running and connected to the same relay, and is the code still valid?'
      : 'the owner did not approve this phone on the hub in time')), timeoutMs);
  });
  try {
    try {
      await client!.waitReady(opts.connectTimeoutMs ?? 4000);
    } catch (e) {
      // Why, as the relay client saw it (refused, DNS, TLS, 404, ...); the URL is no secret.
      const f = client!.failure;
      throw new UnreachableError(f !== undefined ? `${f.url}: ${f.message} [${f.code}]` : `${relayUrl}: ${e instanceof Error ? e.message : String(e)}`);
    }
    await Promise.race([client!.postMailbox(invite.inviteId, encodeEnvelope(Envelope.PAIR_1, pairing.message1)), timeout]);
    return await Promise.race([result, timeout]);
  } catch (e) {
    if (e instanceof CryptoError && e.code === 'forbidden') throw new PairingError('the owner refused this phone on the hub');
    if (e instanceof CryptoError && e.code === 'wrong-hub-key') throw new PairingError('the hub that answered is not the one in the QR code: pairing aborted');
    throw e;
  } finally {
    clearTimeout(timer);
    await client?.close();
  }
}
