// HubBridge over Electron IPC: the preload (main/electron/hub.preload.ts) exposes exactly one object,
// `window.vigilHub` (PreloadApi), and this wraps it in the same interface as the HTTP bridge.
import {
  CALL_TIMEOUT_MS, SLOW_CALLS, SLOW_CALL_TIMEOUT_MS, fail, withTimeout,
  type CallArgs, type CallName, type CallValue, type InviteAccess, type ScopeChange, type LiveEvent, type NewCameraInput, type PreloadApi, type RecordingMode, type Result, type Role,
} from '../contract/hub-ui.ts';
import type { HubBridge, LiveHandle, LiveSink } from './bridge.ts';

export class IpcBridge implements HubBridge {
  readonly kind = 'ipc' as const;
  readonly #sinks = new Map<number, LiveSink>();

  constructor(private readonly api: PreloadApi) {
    api.onLive((streamId, event) => this.#onLive(streamId, event));
  }

  #call<K extends CallName>(name: K, ...args: CallArgs<K>): Promise<Result<CallValue<K>>> {
    const ms = SLOW_CALLS.has(name) ? SLOW_CALL_TIMEOUT_MS : CALL_TIMEOUT_MS;
    const p = this.api.invoke(name, ...args).catch((e: unknown) => fail<CallValue<K>>(`${name}: ${e instanceof Error ? e.message : String(e)}`));
    return withTimeout(name, ms, p);
  }

  status() { return this.#call('status'); }
  listCameras() { return this.#call('listCameras'); }
  addCamera(input: NewCameraInput) { return this.#call('addCamera', input); }
  renameCamera(id: string, name: string) { return this.#call('renameCamera', id, name); }
  removeCamera(id: string) { return this.#call('removeCamera', id); }
  discovery() { return this.#call('discovery'); }
  createInvite(ttlSeconds?: number, access?: InviteAccess) { return access === undefined ? this.#call('createInvite') : this.#call('createInvite', ttlSeconds, access); }
  inviteStatus(id: string) { return this.#call('inviteStatus', id); }
  approveInvite(id: string, role: Role) { return this.#call('approveInvite', id, role); }
  refuseInvite(id: string) { return this.#call('refuseInvite', id); }
  listPhones() { return this.#call('listPhones'); }
  revokePhone(id: string) { return this.#call('revokePhone', id); }
  setPhoneScope(id: string, change: ScopeChange) { return this.#call('setPhoneScope', id, change); }
  relay() { return this.#call('relay'); }
  audit(limit: number) { return this.#call('audit', limit); }
  roster() { return this.#call('roster'); }
  recordings() { return this.#call('recordings'); }
  recordingStorage() { return this.#call('recordingStorage'); }
  setRecording(camera: string, mode: RecordingMode, keepDays?: number) { return keepDays === undefined ? this.#call('setRecording', camera, mode) : this.#call('setRecording', camera, mode, keepDays); }
  desktopRecordings() { return this.#call('desktopRecordings'); }
  setDesktopRecordings(enabled: boolean) { return this.#call('setDesktopRecordings', enabled); }
  recordingRanges(camera: string, from: number, to: number) { return this.#call('recordingRanges', camera, from, to); }
  playRecording(camera: string, from: number, seconds: number) { return this.#call('playRecording', camera, from, seconds); }

  recordingClip(clip: string): Promise<Result<Uint8Array>> {
    const p = this.api.recordingClip(clip).catch((e: unknown) => fail<Uint8Array>(`recordingClip: ${e instanceof Error ? e.message : String(e)}`));
    return withTimeout('recordingClip', SLOW_CALL_TIMEOUT_MS, p);
  }

  #onLive(streamId: number, event: LiveEvent): void {
    const sink = this.#sinks.get(streamId);
    if (sink === undefined) return;
    switch (event.type) {
      case 'init':
        sink.onInit(event.mime);
        return;
      case 'data':
        sink.onData(event.chunk);
        return;
      case 'end':
        this.#sinks.delete(streamId);
        sink.onEnd(event.error);
        return;
    }
  }

  openLive(cameraId: string, sink: LiveSink): LiveHandle {
    let streamId: number | undefined;
    let closed = false;
    void this.api.openLive(cameraId).then((r) => {
      if (!r.ok) {
        sink.onEnd(r.error);
        return;
      }
      if (closed) {
        this.api.closeLive(r.value.streamId);
        return;
      }
      streamId = r.value.streamId;
      this.#sinks.set(streamId, sink);
    }, (e: unknown) => sink.onEnd(String(e)));
    return {
      close: () => {
        closed = true;
        if (streamId !== undefined) {
          this.#sinks.delete(streamId);
          this.api.closeLive(streamId);
        }
      },
    };
  }
}
