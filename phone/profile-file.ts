// vigil-phone's profile file (Node only; the phone app keeps its profile in IndexedDB). It holds the
// phone's private keys, and users put it where they like, perhaps in a folder other users may write
// to. So it is written to a new file that only we can have created, then renamed over the profile:
//  * the temporary name is random (16 bytes), so no one can plant anything at it beforehand;
//  * it is opened with O_CREAT|O_EXCL ('wx'): if the name exists, a symlink above all (even a
//    dangling one), the open fails instead of following it;
//  * it is created 0600 (the umask can only take bits away), and chmod'ed to 0600 through the
//    open descriptor, never by name;
//  * rename replaces the profile's directory entry: a symlink at the profile's own name is
//    replaced, its target is not written.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { profileToJson, type PhoneProfile } from './core/profile.ts';

/** Creates `path` as a new 0600 file and returns its descriptor; throws EEXIST if the name exists at all. */
export function createPrivateFile(path: string): number {
  const fd = openSync(path, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Replaces `path` with a 0600 file holding `text`, atomically (readers see the old or the new). */
export function writePrivateFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${randomBytes(16).toString('hex')}`;
  const fd = createPrivateFile(tmp);
  try {
    try {
      const data = Buffer.from(text, 'utf8');
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off);
      // On disk before the rename: a crash leaves the old profile or the new one, not an empty one.
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Saves the profile (private keys inside) as a 0600 file at `path`. */
export function saveProfile(path: string, profile: PhoneProfile): void {
  writePrivateFileAtomic(path, profileToJson(profile));
}
