// npm run vectors:write: writes every known-answer vector file of test/crypto/vectors/ from the code,
// one generator per family (test/crypto/generate/<family>.ts). Run it when a format changes on
// purpose, then read `git diff test/crypto/vectors`: on an unchanged tree it rewrites every file byte
// for byte. Nothing is random: identities come from seeds and Noise ephemerals and X-Wing
// encapsulations from fixed values (crypto/*.testing.ts).
//
//   npm run vectors:write [-- family...]     e.g. npm run vectors:write -- frame session
import { cryptoReady } from '../../crypto/sodium.ts';
import { writeVectors } from './kat-support.ts';
import * as certificate from './generate/certificate.ts';
import * as command from './generate/command.ts';
import * as frame from './generate/frame.ts';
import * as invite from './generate/invite.ts';
import * as keyupdate from './generate/keyupdate.ts';
import * as pairing from './generate/pairing.ts';
import * as roster from './generate/roster.ts';
import * as session from './generate/session.ts';

interface Generator {
  readonly DESCRIPTION: string;
  buildVectors(): unknown[];
}

const FAMILIES: Record<string, Generator> = { invite, pairing, certificate, session, keyupdate, roster, frame, command };

async function main(args: readonly string[]): Promise<void> {
  const unknown = args.filter((a) => !(a in FAMILIES));
  if (unknown.length > 0) throw new Error(`unknown famil${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')}; known: ${Object.keys(FAMILIES).join(', ')}`);
  // The seeded identities and fixed randomness refuse to run outside tests (isTestEnvironment in
  // crypto/noise.ts); this script is test tooling that exists to use them.
  process.env['VITEST'] = 'true';
  await cryptoReady();
  for (const name of args.length > 0 ? args : Object.keys(FAMILIES)) {
    const family = FAMILIES[name] as Generator;
    const vectors = family.buildVectors();
    writeVectors(name, family.DESCRIPTION, vectors);
    console.log(`test/crypto/vectors/${name}.json: ${vectors.length} vectors`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
