// `vigil restore --from-phones` (PROTOCOL §18.5): the new machine collects owner phones' approvals
// of a restore through its restore invite's mailbox, and restores once k of them, from owner phones
// the backup lists, rebuild the owners' key. Each message that does not check out is answered with a
// reason (when a session exists to answer in) or dropped; nothing a phone sends makes it wait longer
// or hold more than a bounded number of attempts.
import { equalBytes, toHex } from '../../crypto/bytes.ts';
import { backupAddress, combineBackupShares, type BackupShare } from '../../crypto/backup.ts';
import { acceptRestoreApproval, type RestoreAnswer, type RestoreInvite, type RestorerAttempt } from '../../crypto/backup-restore.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import type { KeyPair } from '../../crypto/identity.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../../crypto/messages.ts';
import type { BackupPayload } from './payload.ts';
import type { Recovery } from './recovery.ts';
import { RestoreError, restoreHub, type RestoreOutcome } from './restore.ts';

/** Phones one restore invite talks to (the relay's mailbox takes 16 posts; two per phone). */
const MAX_ATTEMPTS = 16;

interface Approval {
  readonly from: string;
  readonly attempt: RestorerAttempt;
  readonly phoneKey: Uint8Array;
  readonly deviceId: string;
  readonly share: BackupShare;
}

export interface RestoreDeskOptions {
  readonly dataDir: string;
  readonly invite: Pick<RestoreInvite, 'mailboxId' | 'secret'>;
  readonly key: KeyPair;
  /** The sealed backup, when given on the command line (--from FILE); else the first phone's. */
  readonly blob?: Uint8Array;
  readonly send: (to: Uint8Array, payload: Uint8Array) => Promise<void>;
  /** One line per thing worth saying (never a share or key). */
  readonly log: (line: string) => void;
}

export class RestoreDesk {
  readonly #attempts = new Map<string, RestorerAttempt>();
  readonly #approvals: Approval[] = [];
  #blob: Uint8Array | undefined;
  #need: number | undefined;
  #done: ((r: RestoreOutcome) => void) | undefined;
  #failed: ((e: unknown) => void) | undefined;
  /** Resolves once the hub is restored. */
  readonly restored: Promise<RestoreOutcome>;
  #outcome: RestoreOutcome | undefined;
  #told: Promise<void> = Promise.resolve();

  /** Resolves once the approving phones were told the hub is restored (the relay took the answers). */
  told(): Promise<void> {
    return this.#told;
  }

  constructor(private readonly o: RestoreDeskOptions) {
    this.#blob = o.blob;
    if (o.blob !== undefined) this.#need = ownersOf(o.blob).k;
    this.restored = new Promise((resolve, reject) => {
      this.#done = resolve;
      this.#failed = reject;
    });
    // Whoever waits on it sees a failure; a failure after the deadline won is not an unhandled one.
    this.restored.catch(() => undefined);
  }

  /** Approvals that count so far, and how many are needed (undefined until a backup is known). */
  get progress(): { have: number; need: number | undefined } {
    return { have: this.#approvals.length, need: this.#need };
  }

  onMailboxMessage(mailboxId: Uint8Array, from: Uint8Array, payload: Uint8Array): void {
    if (!equalBytes(mailboxId, this.o.invite.mailboxId) || this.#outcome !== undefined) return;
    let env;
    try {
      env = decodeEnvelope(payload);
    } catch {
      return;
    }
    const fromHex = toHex(from);
    if (env.kind === Envelope.RESTORE_1) {
      if (this.#attempts.has(fromHex) || this.#attempts.size >= MAX_ATTEMPTS) return;
      let attempt: RestorerAttempt;
      try {
        attempt = acceptRestoreApproval(this.o.invite, this.o.key, env.body);
      } catch (e) {
        if (isCryptoError(e)) return; // not someone holding this invite
        throw e;
      }
      this.#attempts.set(fromHex, attempt);
      void this.o.send(from, encodeEnvelope(Envelope.RESTORE_2, attempt.message2)).catch(() => undefined);
    } else if (env.kind === Envelope.RESTORE_APPROVAL) {
      const attempt = this.#attempts.get(fromHex);
      if (attempt === undefined) return;
      const answer = (a: Omit<RestoreAnswer, 'have' | 'need'>): void => {
        const full = { ...a, have: this.#approvals.length, need: this.#need ?? 0 };
        void this.o.send(from, encodeEnvelope(Envelope.RESTORE_ANSWER, attempt.answer(full))).catch(() => undefined);
      };
      try {
        this.#onApproval(fromHex, attempt, env.body, answer);
      } catch (e) {
        const reason = e instanceof RestoreError ? e.message : isCryptoError(e) ? `not a usable approval (${e.code}: ${e.message})` : undefined;
        if (reason === undefined) {
          this.#failed?.(e);
          return;
        }
        this.o.log(`refused an approval: ${reason}`);
        answer({ state: 'refused', reason });
      }
    }
  }

  #onApproval(from: string, attempt: RestorerAttempt, body: Uint8Array, answer: (a: Omit<RestoreAnswer, 'have' | 'need'>) => void): void {
    const a = attempt.readApproval(body);
    if (this.#blob === undefined) {
      ownersOf(a.blob); // a backup with no owners' key cannot be restored by phones
      this.#blob = a.blob;
      this.#need = ownersOf(a.blob).k;
    }
    const owners = ownersOf(this.#blob);
    const address = backupAddress(this.#blob);
    if (!equalBytes(a.hubId, address.hubId)) throw new RestoreError('this phone\'s hub is not the one in the backup being restored');
    if (!equalBytes(a.share.keyId, owners.keyId)) {
      throw new RestoreError('this phone\'s share is of another split of the owners\' key than the backup being restored (fetch the backup again on every owner phone: vigil-phone backup)');
    }
    const deviceId = toHex(a.deviceId);
    if (this.#approvals.some((x) => x.deviceId === deviceId || x.share.share.x === a.share.share.x)) throw new RestoreError('this phone approved already');
    this.#approvals.push({ from, attempt, phoneKey: a.phoneKey, deviceId, share: a.share });
    const need = this.#need!;
    this.o.log(`approved by ${this.#approvals.length} of the ${need} owner phones needed`);
    if (this.#approvals.length < need) {
      answer({ state: 'accepted' });
      return;
    }
    const seed = combineBackupShares(this.#approvals.map((x) => x.share), address.hubId);
    try {
      // Every approval MUST come from a phone the backup lists among the owners the key was split
      // for, whose handshake key is that phone's: a share passed to another device does not count.
      const outcome = restoreHub(this.o.dataDir, this.#blob, seed, (payload) => this.#approvers(payload));
      this.#outcome = outcome;
      this.#told = Promise.allSettled(this.#approvals.map((x) => {
        const full = { state: 'restored' as const, have: this.#approvals.length, need, hubId: outcome.hubId };
        return this.o.send(Buffer.from(x.from, 'hex'), encodeEnvelope(Envelope.RESTORE_ANSWER, x.attempt.answer(full)));
      })).then(() => undefined);
      this.#done?.(outcome);
    } catch (e) {
      // The last approval is the one that did not check out (the ones before it were checked when
      // they came: same hub, same split, another phone): drop it and wait for another.
      this.#approvals.pop();
      throw e;
    } finally {
      seed.wipe();
    }
  }

  /** Checks every approver against the opened backup; the roster entry's `by` names them. */
  #approvers(payload: BackupPayload): string {
    const recovery = payload.recovery === null ? {} : JSON.parse(payload.recovery) as Recovery;
    const names: string[] = [];
    for (const x of this.#approvals) {
      const row = payload.devices.find((d) => d.id === x.deviceId);
      if (row === undefined || row.role !== 'owner' || row.revoked_at !== null || recovery.owners?.shares[x.deviceId] === undefined) {
        throw new RestoreError('this phone is not among the owner phones the backup\'s key was split for');
      }
      if (row.exchange_key !== toHex(x.phoneKey)) throw new RestoreError('this phone\'s key is not the one the backup lists for it');
      names.push(row.name);
    }
    let by = `owner phones ${names.map((n) => `'${n}'`).join(', ')}`;
    while (new TextEncoder().encode(by).length > 128) by = by.slice(0, -1);
    return by;
  }
}

function ownersOf(blob: Uint8Array): { keyId: Uint8Array; k: number; n: number } {
  const owners = backupAddress(blob).recipients.find((r) => r.kind === 'owners');
  if (owners === undefined) throw new RestoreError('this backup is not sealed to owner phones (fewer than two owners when it was made): restore it with the printed code');
  return owners;
}
