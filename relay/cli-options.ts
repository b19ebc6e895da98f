// Option tables for the command lines (`vigil`, `vigil relay`, `vigil-phone`): each command's parser
// and its --help text are made from the same table, so an option the parser accepts cannot be missing
// from the help, and the help cannot offer an option the parser refuses. It lives in relay/ because
// that is the lowest layer all three command lines may import (docs/ARCHITECTURE.md, layering).
import { parseArgs } from 'node:util';

export interface CliOption {
  readonly type: 'string' | 'boolean';
  /** May be given several times; the value is then a list. */
  readonly multiple?: boolean;
  /** The value's name in the help (`--listen HOST:PORT`); string options only. */
  readonly value?: string;
  /** Must be given, with a non-empty value. */
  readonly required?: boolean;
  /** What it does, for --help; may span lines. */
  readonly help: string;
}

export interface CliCommand {
  /** The command as typed, e.g. `vigil camera add`. */
  readonly name: string;
  /** One line: what the command does. */
  readonly summary: string;
  /** Positional arguments as the synopsis shows them, e.g. `NAME` or `[URL]`; none when absent. */
  readonly args?: readonly string[];
  readonly options: Readonly<Record<string, CliOption>>;
  /** Paragraphs printed after the options. */
  readonly notes?: string;
}

/** A command made of subcommands, e.g. `vigil camera` (add, list, remove). */
export interface CliGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CliCommand[];
}

/** A whole program: `vigil`, `vigil-phone`. */
export interface CliProgram {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly (CliCommand | CliGroup)[];
  readonly notes?: string;
}

export type CliValues = Record<string, string | boolean | string[] | undefined>;
export interface CliArgs {
  readonly values: CliValues;
  readonly positionals: string[];
}

/** Bad arguments: the message ends with the command's usage line. */
export class CliUsageError extends Error {}

/** `--help` was asked for: the caller prints `help` and exits 0. */
export class CliHelpRequested extends Error {
  constructor(readonly help: string) {
    super('help requested');
  }
}

const WIDTH = 100;
const OPTION_COLUMN = 24;

export function isGroup(c: CliCommand | CliGroup): c is CliGroup {
  return 'commands' in c;
}

/** The last word of a command's name: what is typed to choose it. */
export function wordOf(c: CliCommand | CliGroup): string {
  return c.name.slice(c.name.lastIndexOf(' ') + 1);
}

function flagOf(name: string, o: CliOption): string {
  return o.type === 'string' ? `--${name} ${o.value ?? 'VALUE'}` : `--${name}`;
}

/** Words joined into lines of at most WIDTH characters, continuation lines indented. */
function wrap(first: string, words: readonly string[], indent: string): string {
  const lines: string[] = [];
  let line = first;
  for (const w of words) {
    if (line.length + 1 + w.length > WIDTH && line.trim() !== '') {
      lines.push(line);
      line = indent + w;
    } else {
      line = line === '' || line.endsWith(' ') ? line + w : `${line} ${w}`;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** Every option in the synopsis: required ones first, then the arguments, then the optional ones. */
function synopsisWords(c: CliCommand): string[] {
  const entries = Object.entries(c.options);
  const rep = (o: CliOption) => (o.multiple ? '...' : '');
  return [
    ...entries.filter(([, o]) => o.required).map(([n, o]) => flagOf(n, o) + rep(o)),
    ...(c.args ?? []),
    ...entries.filter(([, o]) => !o.required).map(([n, o]) => `[${flagOf(n, o)}]${rep(o)}`),
  ];
}

/** `vigil hub --data DIR [--relay URL]... [...]` after `prefix`, wrapped under the first option. */
export function synopsisOf(c: CliCommand, prefix = ''): string {
  return wrap(`${prefix}${c.name}`, synopsisWords(c), ' '.repeat(prefix.length + Math.min(c.name.length + 1, 16)));
}

/** The first part of --help, and what ends each usage error. */
export function usageOf(c: CliCommand): string {
  return synopsisOf(c, 'usage: ');
}

function commandList(commands: readonly (CliCommand | CliGroup)[]): string {
  const lines: string[] = [];
  for (const c of commands) {
    for (const sub of isGroup(c) ? c.commands : [c]) {
      lines.push(synopsisOf(sub, '  '), `      ${sub.summary}`);
    }
  }
  return lines.join('\n');
}

/** The help of one command: usage line, summary, one entry per option, notes. */
export function helpOf(c: CliCommand): string {
  const rows = Object.entries(c.options).map(([n, o]) => {
    const flag = `  ${flagOf(n, o)}${o.multiple ? ' (repeatable)' : ''}`;
    const [head, ...rest] = o.help.split('\n');
    const pad = ' '.repeat(OPTION_COLUMN);
    const first = flag.length < OPTION_COLUMN - 1 ? flag.padEnd(OPTION_COLUMN) + head : `${flag}\n${pad}${head}`;
    return [first, ...rest.map((l) => pad + l)].join('\n');
  });
  rows.push('  -h, --help'.padEnd(OPTION_COLUMN) + 'print this help');
  return [usageOf(c), '', c.summary, '', ...rows, ...(c.notes ? ['', c.notes] : [])].join('\n');
}

export function groupHelpOf(g: CliGroup): string {
  return [`usage: ${g.name} <${g.commands.map(wordOf).join('|')}> [options]`, '', g.summary, '', commandList(g.commands), '', `Each takes --help, e.g. '${g.commands[0]?.name} --help'.`].join('\n');
}

export function programHelpOf(p: CliProgram): string {
  return [`usage: ${p.name} <command> [options]`, '', p.summary, '', commandList(p.commands), '',
    `Every command takes --help, e.g. '${p.commands.find((c) => !isGroup(c))?.name ?? p.name} --help'.`, ...(p.notes ? ['', p.notes] : [])].join('\n');
}

/**
 * Parses argv by the command's table. Throws CliHelpRequested for -h/--help, CliUsageError for an
 * unknown option, a missing or doubtful value, a missing required option or an extra argument.
 */
export function parseCommand(c: CliCommand, argv: readonly string[]): CliArgs {
  const bad = (message: string) => new CliUsageError(`${message}\n${usageOf(c)}`);
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [n, o] of Object.entries(c.options)) options[n] = { type: o.type, ...(o.multiple ? { multiple: true } : {}) };
  // Not strict: the tokens are checked here, to give one clear message per mistake.
  const { values, positionals, tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  if (values.help === true) throw new CliHelpRequested(helpOf(c));
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const o = t.name === 'help' ? undefined : c.options[t.name];
    if (o === undefined) throw bad(`unknown option ${t.rawName}`);
    if (o.type === 'boolean' && t.value !== undefined) throw bad(`${t.rawName} takes no value`);
    if (o.type === 'string' && t.value === undefined) throw bad(`${t.rawName} needs a value (${o.value ?? 'VALUE'})`);
    // `--listen --verbose` is almost always a forgotten value, not a value that starts with '-'.
    if (o.type === 'string' && !t.inlineValue && t.value?.startsWith('-')) throw bad(`${t.rawName} needs a value; to give one that starts with '-', write ${t.rawName}=${t.value}`);
  }
  for (const [n, o] of Object.entries(c.options)) {
    const v = values[n];
    if (o.required && (v === undefined || v === '' || (Array.isArray(v) && v.length === 0))) throw bad(`${flagOf(n, o)} is required`);
  }
  const max = c.args?.length ?? 0;
  if (positionals.length > max) throw bad(`unexpected argument ${JSON.stringify(positionals[max])}`);
  delete values.help;
  return { values: values as CliValues, positionals };
}

/** Finds the subcommand argv[0] names in a group; CliHelpRequested for --help. */
export function chooseSubcommand(g: CliGroup, argv: readonly string[]): { command: CliCommand; rest: string[] } {
  const [word, ...rest] = argv;
  if (word === '--help' || word === '-h' || word === 'help') throw new CliHelpRequested(groupHelpOf(g));
  if (word === undefined) throw new CliUsageError(`a subcommand is needed: ${g.commands.map(wordOf).join(', ')}\n${groupHelpOf(g)}`);
  const command = g.commands.find((c) => wordOf(c) === word);
  if (command === undefined) throw new CliUsageError(`unknown subcommand "${word}"\n${groupHelpOf(g)}`);
  return { command, rest };
}
