// DNS-SD TXT records (RFC 6763 §6) read safely: bounded total size and entry count, keys are
// printable ASCII compared case-insensitively, first occurrence wins, values must be UTF-8 text
// without control characters. The result has no prototype, so a key like `__proto__` is just a key.
import { DiscoveryError } from './errors.ts';
import { DEFAULT_LIMITS, type DiscoveryLimits } from './limits.ts';

export type TxtRecord = Readonly<Record<string, string>>;

const utf8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function decodeTxt(raw: readonly Uint8Array[] | undefined, limits: Pick<DiscoveryLimits, 'maxTxtBytes' | 'maxTxtEntries' | 'maxFieldChars'> = DEFAULT_LIMITS): TxtRecord {
  const where = 'decodeTxt';
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (raw === undefined) return out;
  let total = 0;
  for (const item of raw) {
    total += item.byteLength + 1;
    if (total > limits.maxTxtBytes) throw new DiscoveryError('too-large', where, `TXT records over ${limits.maxTxtBytes} bytes`);
  }
  let n = 0;
  for (const item of raw) {
    if (item.byteLength === 0) continue;
    let s: string;
    try {
      s = utf8.decode(item);
    } catch {
      continue; // binary values (allowed by RFC 6763) carry nothing we use
    }
    const eq = s.indexOf('=');
    const key = (eq < 0 ? s : s.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : s.slice(eq + 1);
    if (key === '' || key.length > 64 || !/^[\x20-\x3c\x3e-\x7e]+$/.test(key)) continue;
    if (value.length > limits.maxFieldChars || CONTROL.test(value)) continue;
    if (key in out) continue;
    if (++n > limits.maxTxtEntries) break;
    out[key] = value;
  }
  return out;
}

/**
 * The stream path a TXT record gives, if any: `path=` (dns-sd.org's key for _rtsp._tcp), else
 * `stream=`. Must start with `/`, hold no whitespace, `@` or `..`, and not carry credentials.
 */
export function streamPathFromTxt(txt: TxtRecord): string | undefined {
  const p = txt['path'] ?? txt['stream'];
  if (p === undefined || p === '') return undefined;
  const path = p.startsWith('/') ? p : `/${p}`;
  if (path.length > 256 || /[\s@\\]|\.\.|(?:^|[?&;])(?:user|password|pass|pwd)=/i.test(path)) return undefined;
  return path;
}
