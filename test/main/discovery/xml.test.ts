import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryError, isDiscoveryError } from '../../../main/discovery/errors.ts';
import { DEFAULT_LIMITS } from '../../../main/discovery/limits.ts';
import { buildProbe, newMessageId, parseWsDiscovery } from '../../../main/discovery/ws-discovery.ts';
import { decodeXmlText, parseSafeXml } from '../../../main/discovery/xml.ts';
import { HOSTILE, UUID_A, bye, hello, probeMatch } from './fixtures.ts';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isDiscoveryError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('parseSafeXml: hostile XML is refused before parsing', () => {
  for (const [name, doc] of Object.entries(HOSTILE)) {
    it(`refuses ${name} (doctype)`, () => {
      expect(codeOf(() => parseSafeXml(doc))).toBe('doctype');
      expect(codeOf(() => parseWsDiscovery(Buffer.from(doc)))).toBe('doctype');
    });
  }

  it('refuses a document over the size bound, before decoding it', () => {
    const big = `<a>${'x'.repeat(DEFAULT_LIMITS.maxDatagramBytes)}</a>`;
    expect(codeOf(() => parseSafeXml(big))).toBe('too-large');
    expect(codeOf(() => parseSafeXml(Buffer.from(big)))).toBe('too-large');
  });

  it('refuses truncated, garbage, non-UTF-8 and over-deep documents with typed errors', () => {
    const full = probeMatch({ relatesTo: newMessageId() });
    for (const cut of [10, 100, full.length / 2, full.length - 3]) expect(codeOf(() => parseWsDiscovery(Buffer.from(full.slice(0, cut))))).toBe('malformed-xml');
    expect(codeOf(() => parseSafeXml('lollipop'))).toBe('malformed-xml');
    expect(codeOf(() => parseSafeXml(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x61, 0x3e])))).toBe('malformed-xml');
    expect(codeOf(() => parseSafeXml('<a>'.repeat(40) + '</a>'.repeat(40)))).toBe('too-large');
    expect(codeOf(() => parseSafeXml(`<r>${'<e/>'.repeat(DEFAULT_LIMITS.maxXmlElements + 1)}</r>`))).toBe('too-large');
  });

  it('keeps entity references literal and decodes only the predefined ones, once', () => {
    expect(decodeXmlText('a &amp;lt; b &#x41;&#66; &unknown; &#0;')).toBe('a &lt; b AB &unknown; &#0;');
    const doc = parseSafeXml('<a x="1&amp;2">t &lt; u</a>');
    expect(doc).toEqual({ a: { '#text': 't &lt; u', '@x': '1&amp;2' } });
  });

  it('property: arbitrary bytes give a value or a DiscoveryError, quickly', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
      const t0 = performance.now();
      try {
        parseWsDiscovery(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(DiscoveryError);
      }
      expect(performance.now() - t0).toBeLessThan(250);
    }), { numRuns: 300 });
  });

  it('property: XML-looking strings (tags, entities, declarations) give a value or a DiscoveryError', () => {
    const piece = fc.constantFrom('<', '>', '</', '/>', '<!', '<!DOCTYPE', '<!ENTITY', '&', ';', '&amp;', '&#x41;', '"', '=', 'a', 's:Envelope', 'Body', 'ProbeMatches', ' ', '<?xml?>', '<![CDATA[', ']]>', '<!--', '-->');
    fc.assert(fc.property(fc.array(piece, { maxLength: 200 }), (parts) => {
      try {
        parseWsDiscovery(parts.join(''));
      } catch (e) {
        expect(e).toBeInstanceOf(DiscoveryError);
      }
    }), { numRuns: 500 });
  });

  it('a mutated real ProbeMatch gives a value or a DiscoveryError', () => {
    const base = Buffer.from(probeMatch({ relatesTo: newMessageId() }));
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      try {
        parseWsDiscovery(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DiscoveryError);
      }
    }), { numRuns: 300 });
  });
});

describe('parseWsDiscovery', () => {
  it('reads a ProbeMatch like the ONVIF mock sends', () => {
    const id = newMessageId();
    const m = parseWsDiscovery(Buffer.from(probeMatch({ relatesTo: id })));
    expect(m.kind).toBe('probe-matches');
    if (m.kind !== 'probe-matches') return;
    expect(m.relatesTo).toBe(id);
    expect(m.matches[0]).toMatchObject({
      endpoint: `urn:uuid:${UUID_A}`, types: ['NetworkVideoTransmitter', 'Device'],
      xaddrs: ['http://192.0.2.10:10101/onvif/device_service'], metadataVersion: 1, name: 'Front Door', hardware: 'HD PREDATOR',
    });
  });

  it('reads Hello and Bye; drops non-http XAddrs and XAddrs with credentials', () => {
    const h = parseWsDiscovery(hello({ uuid: UUID_A, xaddr: 'http://192.0.2.20/onvif ftp://x/ http://u:p@192.0.2.21/ https://[2001:db8::1]/onvif' }));
    expect(h.kind === 'hello' && h.device.xaddrs).toEqual(['http://192.0.2.20/onvif', 'https://[2001:db8::1]/onvif']);
    expect(parseWsDiscovery(bye(UUID_A.toUpperCase()))).toEqual({ kind: 'bye', endpoint: `urn:uuid:${UUID_A}` });
  });

  it('recognises its own Probe (looped back) as not for us, and refuses other SOAP', () => {
    expect(parseWsDiscovery(buildProbe(newMessageId())).kind).toBe('probe');
    expect(codeOf(() => parseWsDiscovery('<s:Envelope xmlns:s="x"><s:Body><Other/></s:Body></s:Envelope>'))).toBe('not-ws-discovery');
    expect(codeOf(() => parseWsDiscovery('<root/>'))).toBe('not-ws-discovery');
  });

  it('refuses control characters and oversized fields', () => {
    expect(codeOf(() => parseWsDiscovery(hello({ uuid: `${'a'.repeat(600)}` })))).toBe('bad-field');
    expect(codeOf(() => parseWsDiscovery(hello({ uuid: 'x&#x1b;[2J' })))).toBe('bad-field');
  });
});
