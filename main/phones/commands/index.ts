// Every phone command the hub answers, one handler per action (crypto/phone-commands.ts types them).
import { CommandRefused } from '../../../crypto/phone-commands.ts';
import type { CameraInfo } from '../../../contract/hub-ui.ts';
import type { CommandHandler } from '../../phone-sessions.ts';
import { listCameras } from './cameras.ts';
import { steer, takeSnapshot, type CameraControlParts } from './camera-control.ts';
import { dispatch } from './handlers.ts';
import type { HubRosterLog } from '../roster-log.ts';
import { toBase64url } from '../../../crypto/bytes.ts';
import type { Watching } from './watch.ts';
import type { RecordingCommands } from './recordings.ts';
import type { PushCommands } from './push.ts';
import type { HistoryShare } from './history-share.ts';
import type { EventCommands } from './events.ts';
import type { HubBackup } from '../../backup/service.ts';

export interface PhoneCommandParts extends CameraControlParts {
  watching: Watching;
  rosterLog: Pick<HubRosterLog, 'since' | 'length'>;
  recordings: Pick<RecordingCommands, 'keys' | 'recordings' | 'segment'>;
  history: Pick<HistoryShare, 'certificate' | 'share'>;
  events: Pick<EventCommands, 'list' | 'image'>;
  push: PushCommands;
  backup: Pick<HubBackup, 'command'>;
  /** The cameras as the hub's status has them. */
  status(): CameraInfo[];
}

export function phoneCommands(p: PhoneCommandParts): CommandHandler {
  return dispatch({
    'list-cameras': listCameras(p.store, p.status),
    watch: p.watching.watch,
    unwatch: p.watching.unwatch,
    snapshot: takeSnapshot(p),
    ptz: steer(p),
    settings: async () => {
      throw new CommandRefused('settings-on-hub', 'settings are changed on the hub');
    },
    'recording-keys': p.recordings.keys,
    recordings: p.recordings.recordings,
    segment: p.recordings.segment,
    'device-certificate': p.history.certificate,
    'share-history': p.history.share,
    events: p.events.list,
    'event-image': p.events.image,
    'push-subscribe': p.push.subscribe,
    'push-unsubscribe': p.push.unsubscribe,
    'push-settings': p.push.settings,
    backup: p.backup.command,
    'roster-log': async ({ since }) => ({ entries: p.rosterLog.since(since).map(toBase64url), length: p.rosterLog.length() }),
  });
}
