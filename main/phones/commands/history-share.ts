// device-certificate and share-history (PROTOCOL §15.7): an owner phone gives a phone paired later
// the recordings made before it joined. The hub cannot do that itself (it holds no epoch seed); the
// owner's phone opens its own sealed seeds and seals each to the other phone's X-Wing key. The hub
// checks what it can without opening them (owner only, a phone on the roster, each seed's size and
// address, an epoch the sender holds), stores them for that phone, and appends a 'history-shared'
// entry to the roster log in the same transaction, so every phone sees who was given what.
import { equalBytes, fromBase64url, toBase64url, utf8 } from '../../../crypto/bytes.ts';
import { isCryptoError } from '../../../crypto/errors.ts';
import { CommandRefused } from '../../../crypto/phone-commands.ts';
import { sealedEpochKeyAddress } from '../../../crypto/recording.ts';
import { hexToBytes } from '../../hex.ts';
import type { Device, Store } from '../../store/db.ts';
import type { RecordingIndex } from '../../store/recordings.ts';
import type { HubRosterLog } from '../roster-log.ts';
import type { Handler } from './handlers.ts';
import { mayHoldRecordings } from '../scope.ts';

export interface HistoryShareParts {
  store: Pick<Store, 'getDevice' | 'audit' | 'transaction'>;
  index: Pick<RecordingIndex, 'addSharedKeys' | 'hasEpoch' | 'hasKey'>;
  rosterLog: Pick<HubRosterLog, 'append' | 'length'>;
  hubId: Uint8Array;
  /** The roster log grew to `length`: every phone is told (the receiving one sees an alert). */
  told(length: number): void;
}

/** The roster log's `by` holds 128 bytes: a device name (up to 64 characters) is cut to fit. */
export function sharedBy(device: Pick<Device, 'id' | 'name'>): string {
  let name = device.name;
  while (utf8(name).length > 80) name = [...name].slice(0, -1).join('');
  return `owner phone "${name}" (${device.id.slice(0, 8)})`;
}

function onRoster(store: Pick<Store, 'getDevice'>, id: string): Device {
  const d = store.getDevice(id);
  if (d === undefined || d.revokedAt !== null) throw new CommandRefused('no-such-phone', 'no such phone on this hub (never paired, or removed)');
  return d;
}

export class HistoryShare {
  constructor(private readonly p: HistoryShareParts) {}

  /** Another phone's certificate as the hub issued it (signed by the hub; the phone checks it against the log). */
  readonly certificate: Handler<'device-certificate'> = async ({ device: id }) => ({ certificate: toBase64url(onRoster(this.p.store, id).certificate) });

  readonly share: Handler<'share-history'> = async (args, { device }) => {
    if (args.to === device.id) throw new CommandRefused('no-such-phone', 'a phone holds its own recording keys already');
    const to = onRoster(this.p.store, args.to);
    // A recording epoch opens every camera: a phone limited to some cameras holds none (PROTOCOL §16.3).
    if (!mayHoldRecordings(to)) throw new CommandRefused('live-only', 'that phone sees live video of some cameras only: recordings are not shared with it');
    const toId = hexToBytes(to.id);
    const keys = args.keys.map((k) => {
      let sealed: Uint8Array;
      let address: ReturnType<typeof sealedEpochKeyAddress>;
      try {
        sealed = fromBase64url(k.sealed);
        address = sealedEpochKeyAddress(sealed);
      } catch (e) {
        throw new CommandRefused('bad-arguments', `epoch ${k.epoch}: not a sealed epoch key (${isCryptoError(e) ? e.message : 'bad base64url'})`);
      }
      if (!equalBytes(address.hubId, this.p.hubId) || !equalBytes(address.recipient, toId) || address.epoch !== k.epoch) {
        throw new CommandRefused('bad-arguments', `epoch ${k.epoch}: the sealed key is addressed to another hub, phone or epoch`);
      }
      if (!this.p.index.hasEpoch(k.epoch)) throw new CommandRefused('bad-arguments', `no recording epoch ${k.epoch} on this hub (never made, or its recordings are gone)`);
      // An owner shares what it holds: the hub never hands out more of the past than that phone could open.
      if (!this.p.index.hasKey(device.id, k.epoch)) throw new CommandRefused('no-recording-key', `this phone holds no key of recording epoch ${k.epoch}, so it cannot share it`);
      return { epoch: k.epoch, sealed };
    });
    const { stored, held, entry } = this.p.store.transaction(() => {
      const r = this.p.index.addSharedKeys(to.id, keys);
      if (r.stored.length === 0) return { ...r, entry: undefined };
      const history = { from: hexToBytes(device.id), firstEpoch: Math.min(...r.stored), lastEpoch: Math.max(...r.stored), epochs: r.stored.length };
      return { ...r, entry: this.p.rosterLog.append('history-shared', to, sharedBy(device), history) };
    });
    this.p.store.audit(device.id, 'history-shared', { to: to.id, stored: stored.length, held, ...(entry !== undefined ? { entry } : {}) });
    if (entry !== undefined) this.p.told(this.p.rosterLog.length());
    return { stored: stored.length, held, ...(entry !== undefined ? { entry } : {}) };
  };
}
