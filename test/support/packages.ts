// The Debian packages the tests need, read from .ci/packages: the one list that .ci/run installs, so a
// test that says what is missing names the package CI installs, and the two cannot drift apart.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PACKAGES_FILE = fileURLToPath(new URL('../../.ci/packages', import.meta.url));

export interface DebianPackage {
  name: string;
  /** What the package provides, as `kind:name`: bin:ffmpeg, gst:x264enc, gi:GstRtspServer, py:gi, file:/path. */
  provides: string[];
}

export function debianPackages(file = PACKAGES_FILE): DebianPackage[] {
  const packages: DebianPackage[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const words = line.split('#', 1)[0]!.trim().split(/\s+/).filter(Boolean);
    if (words.length > 0) packages.push({ name: words[0]!, provides: words.slice(1) });
  }
  return packages;
}

/**
 * The package that provides `what` (`kind:name`). A program matches by name or by absolute path
 * (bin:/usr/bin/python3 is also bin:python3, and the other way round).
 */
export function packageFor(what: string, packages = debianPackages()): string | undefined {
  const base = (w: string) => (w.startsWith('bin:/') ? `bin:${w.slice(w.lastIndexOf('/') + 1)}` : w);
  return (
    packages.find((p) => p.provides.includes(what)) ??
    packages.find((p) => p.provides.some((w) => base(w) === base(what)))
  )?.name;
}

/** What to tell a user who lacks `what`: "apt-get install nats-server", or that no listed package has it. */
export function installHint(what: string): string {
  const pkg = packageFor(what);
  return pkg !== undefined ? `apt-get install ${pkg}` : `no package in .ci/packages provides ${what}`;
}
