// The UI's side of the contract (contract/hub-ui.ts): the UI talks to the hub only through a
// HubBridge. Two implementations exist: over the local HTTP API (headless, bridge-http.ts) and over
// Electron IPC through the preload's one exposed object (bridge-ipc.ts, main/electron/*).
//
// Pure types: no DOM, no Node, no Electron.
export type {
  AuditEntry, CameraInfo, CameraRef, CameraState, DesktopRecordings, DiscoveredDevice, HubCalls, HubStatus, Invite, InviteAccess, InviteStatus, NewCameraInput,
  PairedPhone, Phone, RecordingClip, RecordingInfo, RecordingMode, RecordingRanges, RecordingStorage, RelayInfo, RelayProblem, Result, Role,
  RosterReport, ScopeChange, ScopeInfo,
} from '../contract/hub-ui.ts';
import type { HubCalls, Result } from '../contract/hub-ui.ts';

/** What a live tile receives: plaintext fMP4 from the hub's own process, never from the network. */
export interface LiveSink {
  onInit(mime: string): void;
  onData(chunk: Uint8Array): void;
  onEnd(error?: string): void;
}

export interface LiveHandle {
  close(): void;
}

export interface HubBridge extends HubCalls {
  /** 'http' in a browser tab on the headless hub, 'ipc' in the desktop app. */
  readonly kind: 'http' | 'ipc';
  openLive(cameraId: string, sink: LiveSink): LiveHandle;
  /** A played recording's MP4 bytes (RecordingClip.clip), once: from the hub's memory, never a file. */
  recordingClip(clip: string): Promise<Result<Uint8Array>>;
}
