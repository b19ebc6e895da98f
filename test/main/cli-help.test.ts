// Every command and subcommand of bin/vigil and bin/vigil-phone answers --help with exit 0 and lists
// every option its parser accepts. The options are read from the same tables the parsers use
// (main/cli/commands.ts, phone/cli-commands.ts, relay/cli.ts), and each command must refuse an option
// that is not in its table: so an accepted option cannot be missing from the help.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, VIGIL, VIGIL_PHONE, run } from '../support/system.ts';
import { VIGIL_PROGRAM } from '../../main/cli/commands.ts';
import { PHONE_PROGRAM } from '../../phone/cli-commands.ts';
import { isGroup, wordOf, type CliCommand, type CliProgram } from '../../relay/cli-options.ts';

const MAX_LINE = 100;

function commandsOf(p: CliProgram): CliCommand[] {
  return p.commands.flatMap((c) => (isGroup(c) ? [...c.commands] : [c]));
}

/** The words after the program's name: `vigil camera add` -> ['camera', 'add']. */
function wordsOf(p: CliProgram, c: { name: string }): string[] {
  expect(c.name.startsWith(`${p.name} `)).toBe(true);
  return c.name.slice(p.name.length + 1).split(' ');
}

function expectReadable(text: string): void {
  for (const line of text.split('\n')) expect(line.length, `line too long for a terminal: ${line}`).toBeLessThanOrEqual(MAX_LINE);
}

const flagIn = (text: string, name: string): boolean => new RegExp(`(^|[\\s[(|])--${name}([\\s\\])|]|$)`, 'm').test(text);

for (const [bin, program] of [[VIGIL, VIGIL_PROGRAM], [VIGIL_PHONE, PHONE_PROGRAM]] as const) {
  describe(`${program.name} --help`, () => {
    it('lists every command with every option it accepts', async () => {
      const r = await run(bin, ['--help'], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${program.name} <command>`));
      for (const c of commandsOf(program)) {
        expect(r.stdout, c.name).toContain(`  ${c.name} `.trimEnd());
        for (const name of Object.keys(c.options)) expect(flagIn(r.stdout, name), `${c.name} --${name} in ${program.name} --help`).toBe(true);
      }
      expectReadable(r.stdout);
    }, 40_000);

    for (const group of program.commands.filter(isGroup)) {
      it(`${group.name} --help lists its subcommands`, async () => {
        const r = await run(bin, [...wordsOf(program, group), '--help'], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(0);
        for (const c of group.commands) expect(r.stdout).toContain(`${group.name} ${wordOf(c)}`);
        expectReadable(r.stdout);
      }, 40_000);
    }

    for (const command of commandsOf(program)) {
      it(`${command.name} --help lists every option; an option not in the table is refused`, async () => {
        const words = wordsOf(program, command);
        const [r, bad] = await Promise.all([run(bin, [...words, '--help'], { timeoutMs: 30_000 }), run(bin, [...words, '--not-an-option'], { timeoutMs: 30_000 })]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.startsWith(`usage: ${command.name}`), r.stdout).toBe(true);
        expect(r.stdout).toContain(command.summary);
        const names = Object.keys(command.options);
        expect(names.length + (command.args?.length ?? 0), 'a command with nothing to give').toBeGreaterThan(0);
        for (const name of names) {
          const o = command.options[name]!;
          const flag = o.type === 'string' ? `--${name} ${o.value}` : `--${name}`;
          expect(o.type === 'boolean' || o.value !== undefined, `--${name} names its value`).toBe(true);
          // In the synopsis, and as an entry of its own with its help text.
          expect(flagIn(r.stdout.split('\n\n')[0]!, name), `--${name} in the usage line`).toBe(true);
          expect(r.stdout, `--${name} entry`).toMatch(new RegExp(`^  ${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm'));
          expect(r.stdout).toContain(o.help.split('\n')[0]!);
        }
        expect(r.stdout).toMatch(/^ {2}-h, --help/m);
        expectReadable(r.stdout);
        // The parser is strict: what is not in the table is refused before the command does anything.
        expect(bad.code).not.toBe(0);
        expect(bad.stderr).toContain('unknown option --not-an-option');
        expect(bad.stderr).toContain(`usage: ${command.name}`);
      }, 60_000);
    }
  });
}

describe('README.md, "The command line"', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /## The command line\n+```\n([\s\S]*?)\n```/.exec(readme)?.[1] ?? '';
  // One entry per './bin/...' line, with its indented continuation lines; comments after '#' dropped.
  const entries: string[] = [];
  for (const line of block.split('\n')) {
    const text = line.replace(/\s+#.*$/, '');
    if (text.startsWith('./bin/')) entries.push(text.slice('./bin/'.length));
    else if (/^\s/.test(text) && entries.length > 0) entries[entries.length - 1] += ` ${text.trim()}`;
  }
  const commands = [...commandsOf(VIGIL_PROGRAM), ...commandsOf(PHONE_PROGRAM)];
  /** The command an entry shows: the longest name it starts with. */
  const commandOf = (entry: string) => commands.filter((c) => entry === c.name || entry.startsWith(`${c.name} `)).sort((a, b) => b.name.length - a.name.length)[0];

  it('shows every command with every option its parser accepts, and no other option', () => {
    expect(entries.length).toBeGreaterThan(10);
    for (const entry of entries) {
      const c = commandOf(entry);
      expect(c, `README shows a command no parser has: ${entry}`).toBeDefined();
      for (const m of entry.matchAll(/--([a-z][a-z-]*)/g)) expect(Object.keys(c!.options), `README: ${entry}`).toContain(m[1]);
    }
    for (const c of commands) {
      const shown = entries.filter((e) => commandOf(e) === c).join(' ');
      expect(shown, `README lacks ${c.name}`).not.toBe('');
      for (const name of Object.keys(c.options)) expect(flagIn(shown, name), `README lacks ${c.name} --${name}`).toBe(true);
    }
  });
});
