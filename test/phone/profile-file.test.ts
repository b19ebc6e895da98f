// vigil-phone's profile file holds the phone's private keys. Saved in a folder other users can
// write to (a shared or sticky /tmp-like folder), its temporary file must not be a name another user
// can predict and plant a symlink at: the old `PROFILE.tmp-PID` was opened with a plain write, which
// followed such a link and wrote the keys wherever it pointed, then renamed the link over the
// profile. First the attack against the real `vigil-phone pair`, then the file primitives.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateFile, writePrivateFileAtomic } from '../../phone/profile-file.ts';
import { cryptoReady } from '../../crypto/sodium.ts';
import { profileFromJson } from '../../phone/core/profile.ts';
import { VIGIL, VIGIL_PHONE, start, startHub, startRelay, stopAll, tempDir } from '../support/system.ts';

afterAll(async () => {
  await stopAll();
});

const modeOf = (p: string) => lstatSync(p).mode & 0o777;

describe('a symlink planted at the profile\'s temporary name (issue 14, finding 10)', () => {
  it('vigil-phone pair writes no key through it and saves its own 0600 file', async () => {
    const dir = tempDir();
    const relay = await startRelay();
    await startHub(join(dir, 'hub'), relay.url);
    // A folder every user may write to, and a file the attacker owns and everyone may write.
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const bait = join(dir, 'attacker-reads-this');
    writeFileSync(bait, 'nothing yet\n');
    chmodSync(bait, 0o666);
    const profile = join(shared, 'phone.json');

    const invite = start(VIGIL, ['invite', '--data', join(dir, 'hub'), '--yes', '--role', 'viewer'], { maxSeconds: 90 });
    const [, link] = await invite.waitFor(/pairing link: (\S+)/);
    const phone = start(VIGIL_PHONE, ['pair', link!, '--profile', profile, '--name', 'Shared folder'], { maxSeconds: 90 });
    // bin/vigil-phone execs node, so this is the process that saves; pairing takes a while longer.
    const planted = `${profile}.tmp-${phone.child.pid}`;
    symlinkSync(bait, planted);
    const exited = new Promise<number | null>((r) => phone.child.once('exit', (code) => r(code)));
    await phone.waitFor(/profile saved to/, 60_000);
    expect(await exited, phone.output()).toBe(0);
    await invite.waitFor(/paired "Shared folder"/);

    expect(readFileSync(bait, 'utf8')).toBe('nothing yet\n');
    expect(lstatSync(profile).isFile()).toBe(true);
    expect(modeOf(profile)).toBe(0o600);
    await cryptoReady();
    expect(profileFromJson(readFileSync(profile, 'utf8')).certificate.role).toBe('viewer');
    // The planted link is left as it was, and nothing else of ours is left behind.
    expect(readlinkSync(planted)).toBe(bait);
    expect(readdirSync(shared).sort()).toEqual(['phone.json', `phone.json.tmp-${phone.child.pid}`]);
  }, 120_000);
});

describe('createPrivateFile and writePrivateFileAtomic', () => {
  it('createPrivateFile refuses a name that exists, a symlink (dangling or not) included, and writes nothing through it', () => {
    const dir = tempDir();
    const bait = join(dir, 'bait');
    writeFileSync(bait, 'bait\n');
    chmodSync(bait, 0o666);
    symlinkSync(bait, join(dir, 'link'));
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
    for (const name of ['link', 'dangling', 'bait']) {
      expect(() => createPrivateFile(join(dir, name)), name).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    }
    expect(readFileSync(bait, 'utf8')).toBe('bait\n');
    expect(() => readFileSync(join(dir, 'nowhere'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('writes 0600 whatever the umask, replaces a symlinked profile by a file (not its target), and leaves no temporary file', () => {
    const dir = tempDir();
    const path = join(dir, 'p.json');
    const old = process.umask(0);
    try {
      writePrivateFileAtomic(path, 'one');
    } finally {
      process.umask(old);
    }
    expect(readFileSync(path, 'utf8')).toBe('one');
    expect(modeOf(path)).toBe(0o600);

    const target = join(dir, 'target');
    writeFileSync(target, 'target\n');
    const linked = join(dir, 'linked.json');
    symlinkSync(target, linked);
    writePrivateFileAtomic(linked, 'two');
    expect(lstatSync(linked).isFile()).toBe(true);
    expect(readFileSync(linked, 'utf8')).toBe('two');
    expect(readFileSync(target, 'utf8')).toBe('target\n');
    expect(readdirSync(dir).sort()).toEqual(['linked.json', 'p.json', 'target']);
  });

  it('on failure (the profile path is a directory) it throws and removes its temporary file', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'p.json'));
    expect(() => writePrivateFileAtomic(join(dir, 'p.json'), 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['p.json']);
  });
});
