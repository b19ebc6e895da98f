// XML from the LAN (WS-Discovery datagrams) parsed safely. The rules, in order:
//  1. size bound before anything else;
//  2. strict UTF-8 (a camera that sends Latin-1 is refused, not guessed at);
//  3. any markup declaration (`<!DOCTYPE`, `<!ENTITY`, `<!ELEMENT`, ...) is refused before the parser
//     sees the text: no DTD means no external entity (XXE) and no entity expansion (billion laughs);
//  4. element count and nesting depth bounded by a linear pre-scan;
//  5. fast-xml-parser validates well-formedness, then parses with entity processing OFF
//     (processEntities: false); the five predefined entities and numeric character references are
//     decoded here, one pass, no recursion, so the output is never longer than the input.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DiscoveryError } from './errors.ts';
import { DEFAULT_LIMITS, type DiscoveryLimits } from './limits.ts';

export type XmlLimits = Pick<DiscoveryLimits, 'maxDatagramBytes' | 'maxXmlElements' | 'maxXmlDepth'>;

/** A parsed element: child elements by local name (namespace prefixes removed), attributes under `@name`, text under `#text`. */
export type XmlNode = { readonly [key: string]: XmlValue };
export type XmlValue = string | XmlNode | readonly XmlValue[];

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** `<!` followed by a letter: DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION. Comments (`<!--`) and CDATA (`<![`) pass. */
const MARKUP_DECLARATION = /<![A-Za-z]/;

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  allowBooleanAttributes: false,
  maxNestedTags: DEFAULT_LIMITS.maxXmlDepth + 1,
});

/** Parses untrusted XML or throws a DiscoveryError (too-large, doctype, malformed-xml). */
export function parseSafeXml(input: Uint8Array | string, limits: XmlLimits = DEFAULT_LIMITS, where = 'parseSafeXml'): XmlNode {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > limits.maxDatagramBytes) throw new DiscoveryError('too-large', where, `document of ${size} bytes is over the ${limits.maxDatagramBytes}-byte bound`);
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = utf8.decode(input);
    } catch (e) {
      throw new DiscoveryError('malformed-xml', where, 'not valid UTF-8', { cause: e });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (MARKUP_DECLARATION.test(text)) throw new DiscoveryError('doctype', where, 'document carries a DTD or entity declaration; refused');
  prescan(text, limits, where);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw new DiscoveryError('malformed-xml', where, `not well-formed XML (${valid.err.code} at line ${valid.err.line})`);
  let out: unknown;
  try {
    out = parser.parse(text);
  } catch (e) {
    throw new DiscoveryError('malformed-xml', where, `not well-formed XML (${e instanceof Error ? e.message : 'parser error'})`, { cause: e });
  }
  if (out === null || typeof out !== 'object' || Array.isArray(out)) throw new DiscoveryError('malformed-xml', where, 'no root element');
  return out as XmlNode;
}

/** Linear bound on elements and depth; a rough scan (it does not parse), but it never under-counts opening tags. */
function prescan(text: string, limits: XmlLimits, where: string): void {
  let elements = 0;
  let depth = 0;
  const tag = /<(\/?)[A-Za-z_][^<>]*?(\/?)>|<[A-Za-z_]/g;
  for (let m = tag.exec(text); m !== null; m = tag.exec(text)) {
    if (m[0].length === 2) {
      elements++; // an unclosed `<name`: counts, the validator will refuse it
    } else if (m[1] === '/') {
      depth--;
    } else {
      elements++;
      if (m[2] !== '/') depth++;
    }
    if (elements > limits.maxXmlElements) throw new DiscoveryError('too-large', where, `more than ${limits.maxXmlElements} elements`);
    if (depth > limits.maxXmlDepth) throw new DiscoveryError('too-large', where, `elements nested deeper than ${limits.maxXmlDepth}`);
  }
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the five predefined entities and numeric references; anything else stays as written. */
export function decodeXmlText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return NAMED[ref] ?? whole;
    const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return whole;
    return String.fromCodePoint(cp);
  });
}

/** The text of an element (string or `{#text}`), decoded, or undefined. */
export function textOf(v: XmlValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return decodeXmlText(v);
  if (Array.isArray(v)) return textOf(v[0] as XmlValue | undefined);
  const t = (v as XmlNode)['#text'];
  return typeof t === 'string' ? decodeXmlText(t) : (t === undefined ? '' : undefined);
}

/** A child element (the first, if repeated). */
export function child(v: XmlValue | undefined, name: string): XmlValue | undefined {
  if (v === undefined || typeof v === 'string') return undefined;
  if (Array.isArray(v)) return child(v[0] as XmlValue | undefined, name);
  return (v as XmlNode)[name];
}

/** Every occurrence of a child element. */
export function children(v: XmlValue | undefined, name: string): XmlValue[] {
  if (v === undefined || typeof v === 'string') return [];
  if (Array.isArray(v)) return v.flatMap((x) => children(x as XmlValue, name));
  const c = (v as XmlNode)[name];
  if (c === undefined) return [];
  return Array.isArray(c) ? [...(c as XmlValue[])] : [c as XmlValue];
}
