// Removing a phone from the hub (T2): from that moment it can neither watch nor command. Its
// waiting PTZ moves go and one under way stops, its session ends with a notice, a new epoch starts
// before anything else is sealed, and the relays drop its capability.
import type { Store } from '../store/db.ts';
import { HubError } from '../api/errors.ts';
import { hexToBytes } from '../hex.ts';
import type { HubLinks } from '../hub-links.ts';
import type { KeyDelivery } from '../keys/key-delivery.ts';
import type { PtzQueue } from '../onvif/ptz-queue.ts';
import type { PhoneSessions } from '../phone-sessions.ts';
import { BY_HUB_OWNER, type HubRosterLog } from './roster-log.ts';

export interface RemovalParts {
  store: Pick<Store, 'getDevice' | 'revokeDevice' | 'audit'>;
  ptzQueue: Pick<PtzQueue, 'withdraw'>;
  sessions: Pick<PhoneSessions, 'end'>;
  delivery: Pick<KeyDelivery, 'newEpoch'>;
  links: Pick<HubLinks, 'revoke'>;
  rosterLog: Pick<HubRosterLog, 'append'>;
}

/** Who removes a phone, for the roster log and the audit log: its owner, or the hub when a window ends. */
export interface Remover {
  /** The roster log entry's `by`. */
  readonly by: string;
  readonly actor: 'owner' | 'hub';
  readonly reason?: string;
}

const BY_OWNER: Remover = { by: BY_HUB_OWNER, actor: 'owner' };

/** False if it was removed already. */
export async function removePhone(p: RemovalParts, id: string, who: Remover = BY_OWNER): Promise<boolean> {
  const device = p.store.getDevice(id);
  if (device === undefined) throw new HubError('not-found', 'no such phone');
  if (!p.store.revokeDevice(id)) return false;
  p.ptzQueue.withdraw(id);
  p.sessions.end(id, { type: 'removed' });
  // In the log before the new epoch's key updates, which name the roster it arrives at.
  p.rosterLog.append('removed', device, who.by);
  // New keys before anything else is sealed: the next frame is already of the new epoch.
  p.delivery.newEpoch('device-removed');
  p.store.audit(who.actor, 'revoked', { device: id, name: device.name, ...(who.reason ? { reason: who.reason } : {}) });
  await p.links.revoke(hexToBytes(device.relayKey));
  return true;
}
