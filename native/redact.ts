// Keeping camera credentials out of everything a user, a log or a relay can see. ffmpeg echoes its
// input URL (with user:password@) in its stream info and some errors, so every stderr line passes
// through a Redactor before it is stored, and so does every error message built from it.

/** Replace the userinfo of every URL in `text` (scheme://user:pass@host → scheme://***@host). */
export function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@'"]*@/gi, '$1***@');
}

/** The URL without userinfo, for messages. */
export function urlWithoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return redactUrls(url);
  }
}

export class Redactor {
  private readonly secrets: string[];

  /** `secrets`: strings that must never be shown (passwords). Empty strings are ignored. */
  constructor(secrets: readonly string[]) {
    const all = new Set<string>();
    for (const s of secrets) {
      if (!s) continue;
      all.add(s);
      all.add(encodeURIComponent(s));
      try {
        all.add(decodeURIComponent(s));
      } catch {
        // not percent-encoded
      }
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets = [...all].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  }

  /** A Redactor for the credentials in a URL (plus Basic-auth forms of them). */
  static forUrl(url: string, extra: readonly string[] = []): Redactor {
    const secrets = [...extra];
    try {
      const u = new URL(url);
      if (u.password) {
        secrets.push(u.password);
        const user = safeDecode(u.username);
        const pass = safeDecode(u.password);
        secrets.push(Buffer.from(`${user}:${pass}`).toString('base64'));
      }
    } catch {
      // not a URL: only the URL pattern applies
    }
    return new Redactor(secrets);
  }

  redact(text: string): string {
    let out = redactUrls(text);
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The last lines of a child's stderr, bounded in lines and bytes, each line redacted before it is
 * stored (a secret can never be split across two stored pieces because storage is per line).
 */
export class StderrRing {
  private lines: string[] = [];
  private bytes = 0;
  private partial = '';

  constructor(
    private readonly redactor: Redactor,
    private readonly maxLines = 50,
    private readonly maxBytes = 8 * 1024,
    private readonly maxLineLength = 1024,
  ) {}

  push(chunk: string): void {
    let text = this.partial + chunk;
    let nl: number;
    while ((nl = text.search(/[\r\n]/)) >= 0) {
      this.addLine(text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    // A line with no end in sight is cut, so one endless line cannot grow without bound.
    // The last 256 characters stay behind so a secret is not cut in two at the split.
    if (text.length > this.maxLineLength * 4) {
      this.addLine(text.slice(0, -256));
      text = text.slice(-256);
    }
    this.partial = text;
  }

  private addLine(raw: string): void {
    let line = this.redactor.redact(raw).trimEnd();
    if (!line) return;
    if (line.length > this.maxLineLength) line = `${line.slice(0, this.maxLineLength)}…`;
    this.lines.push(line);
    this.bytes += line.length + 1;
    while (this.lines.length > this.maxLines || (this.bytes > this.maxBytes && this.lines.length > 1)) {
      this.bytes -= (this.lines.shift()?.length ?? 0) + 1;
    }
  }

  /** All stored lines plus the redacted unfinished one. */
  text(): string {
    const tail = this.partial ? [this.redactor.redact(this.partial).slice(0, this.maxLineLength)] : [];
    return [...this.lines, ...tail].join('\n');
  }

  /** The last `n` lines (for an error message). */
  tail(n = 3): string[] {
    const tail = this.partial ? [this.redactor.redact(this.partial).slice(0, this.maxLineLength)] : [];
    return [...this.lines, ...tail].slice(-n);
  }

  clear(): void {
    this.lines = [];
    this.bytes = 0;
    this.partial = '';
  }
}
