// An owner phone approves restoring its hub on a new machine (PROTOCOL §18.5): it reads the restore
// invite the new machine shows, checks in a Noise session that the machine holds that invite's key
// and secret, and only then sends its opened share of the owners' key and the sealed backup it keeps.
import { fromBase64url } from '../../crypto/bytes.ts';
import { openBackupShare } from '../../crypto/backup.ts';
import { parseRestoreLink, startRestoreApproval, type RestoreAnswer } from '../../crypto/backup-restore.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { newSigningKeyPair, sign } from '../../crypto/identity.ts';
import { Envelope, decodeEnvelope, encodeEnvelope } from '../../crypto/messages.ts';
import type { RelayClient } from '../../relay/client.ts';
import type { RelayFactory } from './pair.ts';
import type { PhoneProfile } from './profile.ts';

export class RestoreApprovalError extends Error {
  override readonly name = 'RestoreApprovalError';
}

/** What PROFILE.backup holds (phone/cli-backup.ts writes it). */
export interface KeptBackup {
  readonly hub: string;
  readonly id: string;
  readonly madeAt: number;
  readonly blob: string;
  readonly share?: string;
  /** The hub's backup version when it was fetched (absent in files from before versions). */
  readonly version?: string;
}

/** How long the new machine has to answer each step. */
const ANSWER_WAIT_MS = 20_000;

export async function approveRestore(opts: {
  link: string;
  profile: Pick<PhoneProfile, 'device' | 'hub'>;
  kept: KeptBackup;
  relayFactory: RelayFactory;
  /** Use these relays instead of the invite's. */
  relayUrls?: readonly string[];
  timeoutMs?: number;
}): Promise<RestoreAnswer> {
  const invite = (() => {
    try {
      return parseRestoreLink(opts.link, Date.now() / 1000);
    } catch (e) {
      if (isCryptoError(e, 'expired')) throw new RestoreApprovalError('the restore invite has expired: start vigil restore --from-phones again');
      if (isCryptoError(e)) throw new RestoreApprovalError(`not a restore invite: ${e.message}`);
      throw e;
    }
  })();
  if (opts.kept.share === undefined) throw new RestoreApprovalError('this phone holds no share of the owners\' key (the hub had fewer than two owner phones when it was fetched): restore with the printed code');
  const blob = fromBase64url(opts.kept.blob);
  // Opened here, with this phone's own key; a share that does not open is said now, not after the walk to the new machine.
  const share = openBackupShare(fromBase64url(opts.kept.share), opts.profile.device, opts.profile.hub.hubId);
  const approval = startRestoreApproval({ invite, device: opts.profile.device, hubId: opts.profile.hub.hubId, share, blob });
  share.share.y.fill(0);
  const relayKey = newSigningKeyPair('restore approval relay key');
  let client: RelayClient | undefined;
  let step: 'handshake' | 'answer' = 'handshake';
  const answered = new Promise<RestoreAnswer>((resolve, reject) => {
    client = opts.relayFactory({
      urls: opts.relayUrls ?? invite.relays,
      publicKey: relayKey.publicKey,
      sign: (m) => sign(relayKey, m),
      onMessage(_from, payload) {
        try {
          const { kind, body } = decodeEnvelope(payload);
          if (kind === Envelope.RESTORE_2 && step === 'handshake') {
            const sealed = approval.readMessage2(body);
            step = 'answer';
            client!.postMailbox(invite.mailboxId, encodeEnvelope(Envelope.RESTORE_APPROVAL, sealed)).catch((e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
          } else if (kind === Envelope.RESTORE_ANSWER && step === 'answer') {
            resolve(approval.readAnswer(body));
          }
        } catch (e) {
          // The machine answering does not hold the invite's key and secret: nothing was sent to it.
          if (step === 'handshake' && isCryptoError(e)) reject(new RestoreApprovalError('the machine that answered is not the one showing this restore invite: nothing was sent'));
        }
      },
    });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RestoreApprovalError(step === 'handshake'
      ? 'the new machine did not answer: is vigil restore --from-phones still waiting, on the same relay?'
      : 'the new machine did not say whether it took this approval')), opts.timeoutMs ?? ANSWER_WAIT_MS);
  });
  try {
    await Promise.race([client!.waitReady(10_000), timeout]).catch((e: unknown) => {
      if (e instanceof RestoreApprovalError) throw e;
      throw new RestoreApprovalError(`cannot reach the relay ${(opts.relayUrls ?? invite.relays).join(', ')}`);
    });
    await Promise.race([client!.postMailbox(invite.mailboxId, encodeEnvelope(Envelope.RESTORE_1, approval.message1)), timeout]).catch((e: unknown) => {
      if (e instanceof RestoreApprovalError) throw e;
      throw new RestoreApprovalError('the restore invite\'s mailbox is closed: the restore is over or has not started');
    });
    return await Promise.race([answered, timeout]);
  } finally {
    clearTimeout(timer);
    await client?.close();
  }
}
