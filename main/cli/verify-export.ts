// `vigil verify-export CLIP.mp4`: checks an exported clip against its proof (crypto/clip-proof.ts)
// with nothing but the two files: no data directory, no hub, no network. The proof names the hub
// and carries its public signing key; the check shows that key signed exactly this video, for
// this camera and these times. Whether that hub is yours is the one thing the file cannot say:
// compare the hub id printed with `vigil status`, or give it with --hub to have it checked.
import { readFileSync, statSync } from 'node:fs';
import { toHex } from '../../crypto/bytes.ts';
import { MAX_CLIP_PROOF_BYTES, verifyClip } from '../../crypto/clip-proof.ts';
import { isCryptoError } from '../../crypto/errors.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { isoTime } from '../../lib/time-arg.ts';
import { parseCommand, usageOf } from '../../relay/cli-options.ts';
import { CliError } from './api-client.ts';
import { VERIFY_EXPORT } from './commands.ts';

type Out = { log(line: string): void; error(line: string): void };

/** The largest clip read whole into memory (a day of 4 Mbit/s is about 43 GB: clips are shorter). */
const MAX_CLIP_BYTES = 4 * 1024 ** 3;

/** 0: the clip is what the hub signed; 1: it is not (each problem on stderr). */
export async function cmdVerifyExport(argv: string[], out: Out): Promise<number> {
  const { values, positionals } = parseCommand(VERIFY_EXPORT, argv);
  const clipPath = positionals[0];
  if (clipPath === undefined || positionals.length > 1) throw new CliError(`verify-export needs one CLIP.mp4\n${usageOf(VERIFY_EXPORT)}`);
  const proofPath = typeof values.proof === 'string' ? values.proof : `${clipPath}.proof`;
  const wantHub = typeof values.hub === 'string' ? values.hub.toLowerCase() : undefined;
  if (wantHub !== undefined && !/^[0-9a-f]{32}$/.test(wantHub)) throw new CliError('--hub wants the hub id: 32 hex digits, as `vigil status` prints it');
  await cryptoReady();
  const size = fileSize(clipPath, 'clip');
  if (size > MAX_CLIP_BYTES) throw new CliError(`${clipPath} is larger than a clip this command reads (4 GiB)`);
  if (fileSize(proofPath, 'proof') > MAX_CLIP_PROOF_BYTES) throw new CliError(`${proofPath} is larger than a proof may be`);
  const mp4 = new Uint8Array(readFileSync(clipPath));
  let verdict;
  try {
    verdict = verifyClip(mp4, readFileSync(proofPath, 'utf8'));
  } catch (e) {
    if (isCryptoError(e)) throw new CliError(`${proofPath} is not a clip proof: ${e.message}`);
    throw e;
  }
  const hubId = toHex(verdict.hubId);
  const name = verdict.cameraName !== undefined ? ` ("${verdict.cameraName.replace(/[^\x20-\x7e]/g, '?')}", a name the proof does not sign)` : '';
  out.log(`hub ${hubId}`);
  out.log(`camera ${toHex(verdict.cameraId)}${name}`);
  out.log(`from ${isoTime(verdict.start)} to ${isoTime(verdict.end)} (hub clock), ${verdict.segments} segments`);
  const problems = verdict.problems.map((p) => (p.segment !== undefined ? `segment ${p.segment + 1} (${isoTime(p.start!)}): ${p.what}` : p.what));
  if (wantHub !== undefined && wantHub !== hubId) problems.unshift(`signed by hub ${hubId}, not by hub ${wantHub}`);
  if (problems.length === 0) {
    out.log(`ok: ${clipPath} is exactly what this hub recorded${wantHub === undefined ? ' (check the hub id is yours: vigil status)' : ''}`);
    return 0;
  }
  for (const p of problems) out.error(`ALTERED: ${p}`);
  out.error(`${clipPath} is not what the hub recorded`);
  return 1;
}

function fileSize(path: string, what: string): number {
  try {
    return statSync(path).size;
  } catch {
    throw new CliError(`cannot read the ${what} at ${path}`);
  }
}
