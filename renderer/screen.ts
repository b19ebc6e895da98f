// What a screen is and the small helpers every screen shares. The shell (app.ts) picks the screen;
// screens import this, never the shell, so the dependencies point one way.
import type { CameraState, HubBridge, Result } from './bridge.ts';
import { h } from './dom.ts';

export interface Screen {
  readonly el: HTMLElement;
  dispose(): void;
}

export interface Ctx {
  readonly bridge: HubBridge;
  go(route: string): void;
  /** Read out to screen readers, and shown briefly. */
  announce(message: string): void;
}

export type ScreenFactory = (ctx: Ctx, param: string | undefined) => Screen;

export function stateLabel(state: CameraState): string {
  switch (state) {
    case 'live': return 'Live';
    case 'starting': return 'Connecting…';
    case 'stalled': return 'Stalled';
    case 'backoff': return 'Retrying';
    case 'stopped': return 'Stopped';
    case 'failed': return 'Failed';
  }
}

/** Shows an error Result in `into` (role=alert); returns the value or undefined. */
export function unwrap<T>(r: Result<T>, into: HTMLElement): T | undefined {
  if (r.ok) {
    into.hidden = true;
    return r.value;
  }
  into.hidden = false;
  into.textContent = r.error;
  return undefined;
}

export function errorBox(): HTMLElement {
  return h('p', { class: 'error', role: 'alert', hidden: true });
}
