// Epochs and how their keys reach phones (T2, T3, PROTOCOL §8 and §6.6). A new epoch starts on every
// hub start, phone added or removed, camera added or removed, and every 24 h; each phone still on
// the roster gets its keys, in its session when it has one, else sealed to its X-Wing key. Relays
// get each phone's capability again at every login.
import { sign, type HubIdentity } from '../../crypto/identity.ts';
import { sealKeyUpdateOffline } from '../../crypto/keyupdate.ts';
import { decodeCertificate } from '../../crypto/certificate.ts';
import { Envelope, encodeEnvelope } from '../../crypto/messages.ts';
import { RIGHT_COMMAND, RIGHT_WATCH, signCapability } from '../../relay/codec.ts';
import type { EpochKeys } from '../epoch-keys.ts';
import { hexToBytes } from '../hex.ts';
import type { HubLinks } from '../hub-links.ts';
import type { LiveCameras } from '../media/live-cameras.ts';
import type { PhoneSessions } from '../phone-sessions.ts';
import type { PhonePublisher } from '../phones/publisher.ts';
import type { Device, EpochReason, Store } from '../store/db.ts';
import { rosterScope } from '../phones/scope.ts';

/** Capabilities are re-granted at every relay login; this only bounds a leaked one. */
const CAPABILITY_LIFETIME_S = 7 * 24 * 3600;
export const DAILY_EPOCH_MS = 24 * 3600 * 1000;

export interface KeyDeliveryParts {
  identity: HubIdentity;
  store: Pick<Store, 'nextEpoch' | 'listCameras' | 'listDevices'>;
  keys: EpochKeys;
  cameras: Pick<LiveCameras, 'profileKeys' | 'streams'>;
  publisher: Pick<PhonePublisher, 'resendInits'>;
  sessions: Pick<PhoneSessions, 'sendKeyUpdates'>;
  links: Pick<HubLinks, 'sendEverywhere' | 'grant'>;
  log(line: string): void;
  /** After each new epoch (the recorder starts a recording epoch on a start, a day, a roster change). */
  onEpoch?(reason: EpochReason): void;
  /** The cameras (hex ids) a phone gets keys of now; undefined: all (main/phones/scope.ts). */
  camerasFor?(device: Device): ReadonlySet<string> | undefined;
  /** When a phone's relay capability ends (Unix s), or undefined for none now (scope.ts capabilityExpiry). */
  capabilityExpiry?(device: Device, nowMs: number, lifetimeS: number): number | undefined;
}

export class KeyDelivery {
  #daily: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly p: KeyDeliveryParts) {}

  /** The first epoch of this run, and the daily rotation from now on. */
  start(): void {
    // A new epoch on every start: content keys live only in memory, so counters restart safely.
    this.newEpoch('start');
    this.#daily = setInterval(() => this.newEpoch('daily'), DAILY_EPOCH_MS);
    this.#daily.unref();
  }

  stop(): void {
    clearInterval(this.#daily);
  }

  /**
   * Starts a new epoch and hands every phone still on the roster its keys (T2, T3). `joined`: a phone
   * on the roster starts getting keys now (a guest's window opened; EpochKeys.begin).
   */
  newEpoch(reason: EpochReason, joined = false): void {
    const { store, keys } = this.p;
    const epoch = store.nextEpoch(reason);
    const roster = store.listDevices().map((d) => ({ deviceId: hexToBytes(d.id), role: d.role, ...(d.scope !== null ? { scope: rosterScope(d.scope) } : {}) }));
    keys.begin(epoch, [...store.listCameras(), ...this.p.cameras.profileKeys()], roster, joined);
    this.p.publisher.resendInits(this.p.cameras.streams());
    this.deliver(true);
    this.p.log(`epoch ${epoch} (${reason})`);
    this.p.onEpoch?.(reason);
  }

  /** One more stream keyed in this epoch (a camera's h264 profile): every phone gets the keys again. */
  addStream(camera: { id: string }, number: number): void {
    if (this.p.keys.has(number)) return;
    this.p.keys.addCamera({ id: camera.id, number });
    this.deliver();
  }

  /**
   * Hands every phone the current epoch's keys. After an epoch change (`epochChanged`) phones with a
   * session get them in a new one: the hub ends each session and asks for a new handshake, whose
   * message 2 carries them, so a key taken from an older session opens none of them (PROTOCOL 6.6).
   */
  deliver(epochChanged = false): void {
    const { identity, keys } = this.p;
    if (keys.epoch < 0) return; // not started yet; the first epoch delivers
    const reached = this.p.sessions.sendKeyUpdates({ epochChanged });
    // Phones without a session (e.g. after a hub restart) get the update sealed to their X-Wing key.
    for (const d of this.p.store.listDevices()) {
      if (reached.has(d.id)) continue;
      const cert = decodeCertificate(d.certificate, identity.signing.publicKey);
      const wire = sealKeyUpdateOffline(identity.hubId, { deviceId: cert.deviceId, pqKey: cert.pqKey }, keys.keyUpdateFor(cert.deviceId, this.p.camerasFor?.(d)));
      this.p.links.sendEverywhere(hexToBytes(d.relayKey), encodeEnvelope(Envelope.KEY_UPDATE_OFFLINE, wire));
    }
  }

  /** Lets the relays forward between this phone and the hub (a scoped phone: only inside its window, until its end). */
  async grant(device: Device): Promise<void> {
    const { identity } = this.p;
    const now = Date.now();
    const expiresAt = this.p.capabilityExpiry ? this.p.capabilityExpiry(device, now, CAPABILITY_LIFETIME_S) : Math.floor(now / 1000) + CAPABILITY_LIFETIME_S;
    if (expiresAt === undefined) return;
    const cap = signCapability({
      hubRelayId: identity.relay.publicKey,
      deviceRelayId: hexToBytes(device.relayKey),
      // Every phone watches and sends commands (viewers too: list, watch); which commands a role may
      // run is decided end to end by crypto/command.ts, not by the relay.
      rights: RIGHT_WATCH | RIGHT_COMMAND,
      expiresAt,
    }, (m) => sign(identity.relay, m));
    await this.p.links.grant(cap);
  }
}
