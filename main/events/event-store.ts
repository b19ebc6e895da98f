// Events on the hub, assembled (PROTOCOL §17.2): the store's rows, the sealer on the events bus and
// the phone commands. main/hub.ts builds one, subscribes `sealer` to the events bus and hands
// `commands` to the phone command handlers. Sealing follows the recording epochs and keep days.
import type { HubIdentity } from '../../crypto/identity.ts';
import type { Notice } from '../../crypto/messages.ts';
import { EventCommands } from '../phones/commands/events.ts';
import type { Store } from '../store/db.ts';
import { EventIndex } from '../store/events.ts';
import type { RecordingIndex } from '../store/recordings.ts';
import type { RecordingEpochs } from '../recording/epochs.ts';
import { EventSealer } from './sealer.ts';

export interface HubEventStoreParts {
  identity: HubIdentity;
  store: Store;
  recordings: { readonly index: Pick<RecordingIndex, 'hasKey' | 'settings'>; readonly epochs: Pick<RecordingEpochs, 'current'> };
  notify(deviceId: string, notice: Notice): void;
  log(line: string): void;
}

export class HubEventStore {
  readonly index: EventIndex;
  readonly sealer: EventSealer;
  readonly commands: EventCommands;

  constructor(p: HubEventStoreParts) {
    const { store, recordings } = p;
    this.index = new EventIndex(store);
    this.sealer = new EventSealer({
      identity: p.identity, index: this.index, epoch: () => recordings.epochs.current, devices: () => store.listDevices(),
      hasKey: (deviceId, epoch) => recordings.index.hasKey(deviceId, epoch), notify: p.notify,
      keepDays: (cameraId) => recordings.index.settings(cameraId).keepDays, log: p.log,
    });
    this.commands = new EventCommands({ store, events: this.index, recordings: recordings.index });
  }

  start(): void {
    this.sealer.start();
  }

  stop(): void {
    this.sealer.stop();
  }
}
