// Recordings on the hub, assembled: the index in the store, recording epochs (following the live
// epochs' start, daily and roster-change reasons), the recorder on the media bus, the phone
// commands, and the owner's settings. main/hub.ts builds one and wires it.
import type { RecordingInfo, RecordingMode, RecordingStorage } from '../../contract/hub-ui.ts';
import type { HubIdentity } from '../../crypto/identity.ts';
import type { Notice } from '../../crypto/messages.ts';
import { RecordingCommands } from '../phones/commands/recordings.ts';
import type { EpochReason, Store } from '../store/db.ts';
import { RecordingIndex } from '../store/recordings.ts';
import { RecordingAdmin } from './admin.ts';
import { RecordingEpochs, recordingEpochReason } from './epochs.ts';
import { Recorder } from './recorder.ts';
import { diskSpace, freeFloor } from './retention.ts';
import { mayHoldRecordings } from '../phones/scope.ts';

export interface HubRecordingsParts {
  dataDir: string;
  identity: HubIdentity;
  store: Store;
  notify(deviceId: string, notice: Notice): void;
  quotaBytes?: number;
  log(line: string): void;
}

export class HubRecordings {
  readonly index: RecordingIndex;
  readonly epochs: RecordingEpochs;
  readonly recorder: Recorder;
  readonly commands: RecordingCommands;
  readonly #admin: RecordingAdmin;

  constructor(private readonly p: HubRecordingsParts) {
    const { store, identity, log } = p;
    this.index = new RecordingIndex(store);
    this.epochs = new RecordingEpochs({ identity, index: this.index, devices: () => store.listDevices().filter(mayHoldRecordings), log });
    this.recorder = new Recorder({
      dataDir: p.dataDir, identity, index: this.index, epochs: this.epochs, log,
      ...(p.quotaBytes !== undefined ? { quotaBytes: p.quotaBytes } : {}),
    });
    this.commands = new RecordingCommands({ store, index: this.index, dataDir: p.dataDir, notify: p.notify });
    this.#admin = new RecordingAdmin({ store, index: this.index, recorder: this.recorder });
  }

  /** Recovery first, before the first epoch and any camera. */
  start(): void {
    this.recorder.start();
  }

  stop(): void {
    this.recorder.stop();
  }

  /** A live epoch began (main/keys/key-delivery.ts): some reasons start a recording epoch too. */
  epochChanged(reason: EpochReason): void {
    const r = recordingEpochReason(reason);
    if (r === undefined) return;
    try {
      this.epochs.rotate(r);
    } catch (e) {
      // Nothing is recorded until an epoch is made: never on to one a removed phone holds.
      this.p.log(`recording epoch (${r}) failed, recording paused: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  list(): RecordingInfo[] {
    return this.#admin.list();
  }

  set(camera: string, mode: RecordingMode, keepDays?: number): RecordingInfo {
    return this.#admin.set(camera, mode, keepDays);
  }

  /** All recordings' bytes, the quota, and the disk's free space (the hub UI's Recordings screen). */
  storage(): RecordingStorage {
    const disk = diskSpace(this.p.dataDir);
    return { used: this.index.totalBytes(), quota: this.p.quotaBytes ?? null, free: disk.free, total: disk.total, floor: freeFloor(disk.total) };
  }
}
