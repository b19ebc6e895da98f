// A guest's or camera-limited viewer's own app says what it may see and until when (issue 18,
// PROTOCOL §16.3): a line above the camera list from its entry in the roster log this phone checked,
// and only the cameras that entry gives it are offered. The keys are what holds the limit (the hub
// seals a scoped phone only its cameras' keys, for its window); this is the user's view of it.
import type { Role } from '../../../crypto/certificate.ts';
import type { RosterState, ScopeState } from '../../core/roster.ts';
import { accessLine, nextBoundary, offeredCameras, ownScope, windowState, when } from './scope.ts';

/** The camera list is looked at again at most this long after a window boundary was last planned. */
const MAX_WAIT_MS = 3600_000;

export class AccessView {
  #scope: ScopeState | undefined;
  #key = '';
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly opts: {
    me: string;
    role: Role;
    /** The scope changed, or its window opened or closed: list the cameras again. */
    onChange: () => void;
  }) {}

  /** From the roster log this phone checked; draws the line, and says when the scope changed. */
  update(roster: Pick<RosterState, 'members'>, nameOf: (id: string) => string | undefined): void {
    const scope = ownScope(roster, this.opts.me);
    this.#scope = scope;
    this.render(nameOf);
    const key = JSON.stringify(scope ?? null);
    if (key === this.#key) return;
    this.#key = key;
    this.#plan();
    this.opts.onChange();
  }

  render(nameOf: (id: string) => string | undefined): void {
    const el = document.getElementById('access');
    if (el === null) return;
    const scope = this.#scope;
    const now = Date.now();
    const line = accessLine(this.opts.role, scope, nameOf, now);
    el.hidden = line === undefined;
    el.textContent = line ?? '';
    el.dataset.role = this.opts.role;
    if (scope === undefined) {
      for (const a of ['cameras', 'from', 'until', 'window']) delete el.dataset[a];
      return;
    }
    el.dataset.cameras = scope.cameras.join(',');
    el.dataset.from = String(scope.from);
    el.dataset.until = String(scope.until);
    el.dataset.window = windowState(scope, now);
  }

  /** The cameras to offer of those the hub listed. */
  offered<T extends { readonly id: string }>(cameras: readonly T[]): T[] {
    return offeredCameras(cameras, this.#scope, Date.now());
  }

  /** What the empty camera list says for a scoped phone outside its window. */
  emptyText(): string | undefined {
    const s = this.#scope;
    if (s === undefined) return undefined;
    switch (windowState(s, Date.now())) {
      case 'before':
        return `Your access starts ${when(s.from)}.`;
      case 'ended':
        return 'Your access has ended.';
      case 'open':
        return 'The hub lists none of your cameras just now.';
    }
  }

  /** At the window's start or end the offer changes: list the cameras again then. */
  #plan(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const s = this.#scope;
    if (s === undefined) return;
    const next = nextBoundary(s, Date.now());
    if (next === undefined) return;
    this.#timer = setTimeout(() => {
      this.#plan();
      this.opts.onChange();
    }, Math.min(MAX_WAIT_MS, Math.max(0, next - Date.now()) + 500));
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}
