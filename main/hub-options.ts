// What starts a hub: its data directory, relays, LAN endpoint, local API and ingest tuning.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IngestTiming } from '../native/ingest.ts';
import type { LanOptions } from './links/lan-endpoint.ts';
import type { KeyProtector } from './store/sealed.ts';
import type { PushOptions } from './push/compose.ts';

export interface HubOptions {
  dataDir: string;
  relays: readonly string[];
  /** Local API (and UI) address; port 0 picks one. */
  apiHost?: string;
  apiPort?: number;
  /** Base URL of the phone app, for pairing links that open it. */
  appUrl?: string;
  ingestTiming?: Partial<IngestTiming>;
  /** How much video goes into one fragment, in ms (native/ingest.ts DEFAULT_FRAGMENT_MS; 0 = one per frame). */
  fragmentMs?: number;
  /** Who reads RTSP cameras (native/ingest.ts CameraIngestOptions.reader): 'auto' (the hub's own reader where it can) or 'ffmpeg'. */
  rtspReader?: 'auto' | 'ffmpeg';
  log?: (line: string) => void;
  /** The LAN endpoint for phones at home (links/lan-endpoint.ts); `announce` multicasts: networks you own only. */
  lan?: LanOptions;
  /** Serves non-API requests on the local API port (the headless UI), after the token check. */
  uiHandler?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
  /** Wraps the store's data key (the Electron app passes one backed by safeStorage). */
  keyProtector?: KeyProtector;
  /** The most all recordings may take, in bytes (`--storage-max-gb`); else only keep days and the free-space floor. */
  storageMaxBytes?: number;
  /** Web Push (main/push/): the VAPID subject, send limits, and for tests only, plain http to loopback push services. */
  push?: PushOptions;
}
