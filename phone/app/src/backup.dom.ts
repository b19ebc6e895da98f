// An owner phone keeps its hub's backup (PROTOCOL §18.3) and approves restoring it (§18.5), as
// `vigil-phone backup` and `vigil-phone approve-restore` do, with the same core
// (phone/core/backup.ts, phone/core/backup-restore.ts). The sealed blob and this phone's sealed
// share of the owners' key are kept in the app's IndexedDB store beside the profile: the blob opens
// only with the printed recovery code or k owners' shares, and the share only with this phone's
// own key, which is in the same store anyway. Nothing here opens the backup.
import { toBase64url, toHex } from '../../../crypto/bytes.ts';
import { RESTORE_LINK_PREFIX, type RestoreAnswer } from '../../../crypto/backup-restore.ts';
import { backupVersion, fetchBackup } from '../../core/backup.ts';
import { approveRestore, RestoreApprovalError, type KeptBackup } from '../../core/backup-restore.ts';
import { CommandError, type HubLink } from '../../core/hub-link.ts';
import type { RelayFactory } from '../../core/pair.ts';
import type { PhoneProfile } from '../../core/profile.ts';
import { startScanner, type Scanner } from './scanner.dom.ts';
import { when } from './scope.ts';
import { withStore } from './store.dom.ts';

/** The store key beside the profile's ('hub'). */
const KEY = 'backup';

/** What the app keeps: the CLI's PROFILE.backup (KeptBackup), plus what the status line says. */
export interface AppBackup extends KeptBackup {
  readonly version: string;
  readonly bytes: number;
  readonly owners?: { readonly k: number; readonly n: number };
  readonly code: boolean;
  /** When this phone fetched it (Unix ms). */
  readonly keptAt: number;
}

function fromJson(text: unknown): AppBackup | undefined {
  if (typeof text !== 'string') return undefined;
  const v = JSON.parse(text) as AppBackup;
  if (typeof v !== 'object' || v === null || typeof v.hub !== 'string' || typeof v.id !== 'string' || typeof v.blob !== 'string'
    || typeof v.version !== 'string' || !Number.isSafeInteger(v.madeAt) || (v.share !== undefined && typeof v.share !== 'string')) throw new Error('the kept backup is malformed');
  return v;
}

export async function loadKeptBackup(): Promise<AppBackup | undefined> {
  return fromJson(await withStore<unknown>('readonly', (s) => s.get(KEY)));
}

/** One put: the phone holds the old backup or the new one, never half of one. */
async function saveKeptBackup(b: AppBackup): Promise<void> {
  await withStore('readwrite', (s) => s.put(JSON.stringify(b), KEY));
}

export async function forgetKeptBackup(): Promise<void> {
  await withStore('readwrite', (s) => s.delete(KEY));
}

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

type BackupState = 'loading' | 'checking' | 'fetching' | 'kept' | 'no-backup' | 'failed';

/**
 * The "Hub backup" part of the This phone panel, for owner phones: keeps the backup fresh (checked
 * when the session comes up, and when cameras or the roster change; fetched again when the hub's
 * version moved) and approves a restore invite pasted or scanned.
 */
export class BackupPanel {
  #kept: AppBackup | undefined;
  #state: BackupState = 'loading';
  #problem = '';
  #running = false;
  #again = false;
  #approving = false;
  #scanner: Scanner | undefined;
  readonly #wiring = new AbortController();
  readonly #owner: boolean;
  readonly #hub: string;

  constructor(private readonly opts: { link: HubLink; profile: PhoneProfile; relayFactory: RelayFactory }) {
    this.#owner = opts.profile.certificate.role === 'owner';
    this.#hub = toHex(opts.profile.hub.hubId);
    $('backup').hidden = !this.#owner;
    if (!this.#owner) return;
    const signal = this.#wiring.signal;
    $('restore-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.approve($<HTMLTextAreaElement>('restore-link').value);
    }, { signal });
    $('restore-scan').addEventListener('click', () => void this.scan(), { signal });
    this.render();
  }

  /** Reads what this phone kept before (also while the hub is down: it is what a restore needs). */
  async load(): Promise<void> {
    if (!this.#owner) return;
    try {
      const kept = await loadKeptBackup();
      this.#kept = kept?.hub === this.#hub ? kept : undefined;
    } catch (e) {
      this.#problem = e instanceof Error ? e.message : String(e);
    }
    if (this.#state === 'loading') this.#state = this.#kept !== undefined ? 'kept' : 'checking';
    this.render();
  }

  /** Asks the hub for its backup's version and keeps the new backup when it moved. At most one check runs. */
  async refresh(): Promise<void> {
    if (!this.#owner) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#check();
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  async #check(): Promise<void> {
    const { link, profile } = this.opts;
    try {
      const version = await backupVersion(link);
      if (this.#kept?.version !== version) {
        this.#state = 'fetching';
        this.render();
        const b = await fetchBackup(link, profile);
        const kept: AppBackup = {
          hub: b.hub, id: b.id, madeAt: b.madeAt, blob: toBase64url(b.blob), ...(b.share ? { share: toBase64url(b.share) } : {}), version: b.version,
          bytes: b.blob.length, ...(b.owners ? { owners: b.owners } : {}), code: b.code, keptAt: Date.now(),
        };
        await saveKeptBackup(kept);
        this.#kept = kept;
      }
      this.#state = 'kept';
      this.#problem = '';
    } catch (e) {
      if (e instanceof CommandError && e.code === 'no-backup') {
        this.#state = 'no-backup';
        this.#problem = '';
      } else {
        this.#state = 'failed';
        this.#problem = e instanceof Error ? e.message : String(e);
      }
    }
    this.render();
  }

  render(): void {
    if (!this.#owner) return;
    const el = $('backup-status');
    const k = this.#kept;
    el.dataset.state = this.#state;
    if (k !== undefined) {
      el.dataset.version = k.version;
      el.dataset.id = k.id;
      el.dataset.madeAt = String(k.madeAt);
      el.dataset.share = String(k.share !== undefined);
    } else {
      for (const a of ['version', 'id', 'madeAt', 'share']) delete el.dataset[a];
    }
    const ways = k === undefined ? '' : [k.code ? 'the printed recovery code' : '', k.owners ? `${k.owners.k} of the ${k.owners.n} owner phones` : ''].filter(Boolean).join(' or ');
    const kept = k === undefined ? ''
      : `This phone keeps the hub's backup of ${when(k.madeAt)} (version ${k.version.slice(0, 8)}, ${Math.ceil(k.bytes / 1024)} KB, sealed: it opens with ${ways})${k.share !== undefined ? ' and its share of the owners\' key' : ''}; fetched ${when(k.keptAt)}.`;
    const now = this.#state === 'checking' || this.#state === 'loading' ? 'Checking the hub\'s backup…'
      : this.#state === 'fetching' ? 'The hub made a new backup: fetching it…'
        : this.#state === 'no-backup' ? 'Your hub has no backup yet: it needs a recovery code (vigil backup --print-code on the hub) or a second owner phone.'
          : this.#state === 'failed' ? `Could not check the hub's backup: ${this.#problem}` : '';
    el.textContent = [kept, now].filter((t) => t !== '').join(' ') || 'No backup kept on this phone.';
    $<HTMLButtonElement>('restore-approve').disabled = this.#approving;
  }

  async scan(): Promise<void> {
    const video = $<HTMLVideoElement>('restore-scan-video');
    const status = $('restore-status');
    this.#scanner?.stop();
    video.hidden = false;
    status.textContent = 'Point the camera at the restore QR code the new machine shows.';
    try {
      this.#scanner = await startScanner(video, (text) => {
        if (!text.trim().startsWith(RESTORE_LINK_PREFIX)) {
          status.textContent = 'That QR code is not a restore invite. Keep pointing at the new machine\'s QR code.';
          return false;
        }
        video.hidden = true;
        $<HTMLTextAreaElement>('restore-link').value = text.trim();
        void this.approve(text);
        return true;
      }, (m) => {
        status.textContent = m;
      });
    } catch (e) {
      video.hidden = true;
      status.textContent = `The camera could not start: ${e instanceof Error ? e.message : String(e)}. Paste the restore invite instead.`;
    }
  }

  /** Sends this phone's share and kept backup to the machine showing the invite (phone/core/backup-restore.ts). */
  async approve(text: string): Promise<void> {
    if (this.#approving) return;
    const status = $('restore-status');
    const link = text.trim();
    if (!link.startsWith(RESTORE_LINK_PREFIX)) {
      status.dataset.state = 'failed';
      status.textContent = `That is not a restore invite: it starts with ${RESTORE_LINK_PREFIX}`;
      return;
    }
    const kept = this.#kept;
    if (kept === undefined) {
      status.dataset.state = 'failed';
      status.textContent = 'This phone keeps no backup of its hub: it fetches one while the hub runs.';
      return;
    }
    if (!confirm('Approve restoring your hub on the machine showing this invite? This phone sends it its share of the owners\' key and the sealed backup. Approve only a restore you started yourself.')) return;
    this.#approving = true;
    this.render();
    status.dataset.state = 'approving';
    status.textContent = 'Reaching the new machine…';
    try {
      const a = await approveRestore({ link, profile: this.opts.profile, kept, relayFactory: this.opts.relayFactory });
      this.#answer(a);
    } catch (e) {
      status.dataset.state = 'failed';
      status.textContent = `Not approved: ${e instanceof RestoreApprovalError || e instanceof Error ? e.message : String(e)}`;
    } finally {
      this.#approving = false;
      this.render();
    }
  }

  #answer(a: RestoreAnswer): void {
    const status = $('restore-status');
    status.dataset.state = a.state;
    status.dataset.have = String(a.have);
    status.dataset.need = String(a.need);
    if (a.state === 'restored') {
      // The hub id the new machine now holds, beside this phone's: the user compares them (the hub's UI shows its id too).
      const theirs = a.hubId ?? '';
      status.dataset.hub = theirs;
      const isMine = theirs === this.#hub;
      status.dataset.same = String(isMine);
      const same = isMine
        ? 'the same hub as this phone\'s: start it there (vigil hub --data DIR --relay URL) and this phone reconnects'
        : `NOT this phone's hub (${this.#hub.slice(0, 16)})`;
      status.textContent = `Restored (${a.have} of ${a.need} owner phones approved): the new machine now holds hub ${theirs.slice(0, 16)}, ${same}.`;
    } else if (a.state === 'accepted') {
      status.textContent = `Approved: ${a.have} of the ${a.need} owner phones needed so far; the new machine waits for the others.`;
    } else {
      status.textContent = `The new machine refused this approval: ${a.reason ?? 'no reason given'}`;
    }
  }

  close(): void {
    this.#scanner?.stop();
    this.#scanner = undefined;
    this.#wiring.abort();
  }
}
