#!/usr/bin/env node
// The project's launcher for the ONVIF device mock written by the authors of npm `onvif` (shipped
// in onvif@0.6.5 as test/serverMockup.coffee; a devDependency here as `onvif-mockup`). Adapted from
// ../shared/testbed/onvif-mockup.js. What the mock does: answers every WS-Discovery Probe on
// 239.255.255.250:3702 with a canned ProbeMatch, and SOAP requests written exactly as npm `onvif`
// writes them with canned replies (GetDeviceInformation, GetProfiles, GetStreamUri, GetSnapshotUri,
// PTZ ContinuousMove/Stop/GotoPreset/GetPresets, ...). It checks no WS-Security.
// What this launcher adds, for Vigil's tests:
//  * the canned 192.168.x.x addresses become --host:--port, the RTSP URI becomes --stream-uri;
//  * --endpoint-uuid replaces the device's endpoint UUID in ProbeMatches (two "different" devices);
//  * the snapshot URI the mock hands out serves a real 16x16 JPEG behind HTTP digest auth
//    (--user/--password), since the mock itself serves no images;
//  * it prints {"event":"ready"} and, with --verbose, one line per SOAP command it received.
// Run it only inside a network namespace (it joins a multicast group), from the project root.
// usage: node onvif-mockup.mjs [--host 127.0.0.1] [--port 10101] [--stream-uri URI] [--endpoint-uuid UUID]
//        [--user admin --password secret] [--run-seconds 60] [--verbose]
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '10101'));
const streamUri = opt('--stream-uri', `rtsp://${host}:8554/cam`);
const endpointUuid = opt('--endpoint-uuid', 'c9790c3a-701b-464d-a189-0060351c8ada');
const user = opt('--user', 'admin');
const password = opt('--password', 'secret');
const runSeconds = Number(opt('--run-seconds', '60'));
const JPEG = Buffer.from('/9j/4AAQSkZJRgABAgAAAQABAAD//gAQTGF2YzU5LjM3LjEwMAD/2wBDAAgEBAQEBAUFBQUFBQYGBgYGBgYGBgYGBgYHBwcICAgHBwcGBgcHCAgICAkJCQgICAgJCQoKCgwMCwsODg4RERT/xABMAAEBAAAAAAAAAAAAAAAAAAAABwEBAQAAAAAAAAAAAAAAAAAABQcQAQAAAAAAAAAAAAAAAAAAAAARAQAAAAAAAAAAAAAAAAAAAAD/wAARCAAQABADASIAAhEAAxEA/9oADAMBAAIRAxEAPwCOAL+Lf//Z', 'base64');

// The mock is CommonJS + CoffeeScript: load it with require from the project's node_modules. Patching
// fs.readFileSync here patches the object its require('fs') returns.
const projectRequire = createRequire(path.join(process.cwd(), 'package.json'));
const mockDir = path.join(path.dirname(projectRequire.resolve('onvif-mockup/package.json')), 'test', 'serverMockup');
const origRead = fs.readFileSync;
fs.readFileSync = function patchedRead(file, ...rest) {
  const out = origRead.call(this, file, ...rest);
  if (typeof file !== 'string' || !path.resolve(file).startsWith(mockDir + path.sep)) return out;
  const text = out.toString()
    .replace(/rtsp:\/\/192\.168\.68\.111\/h264main/g, streamUri)
    .replace(/http:\/\/192\.168\.\d+\.\d+(:\d+)?/g, `http://${host}:${port}`)
    .replace(/c9790c3a-701b-464d-a189-0060351c8ada/g, endpointUuid);
  return Buffer.isBuffer(out) ? Buffer.from(text) : text;
};

process.env.HOSTNAME = host;
process.env.PORT = String(port);
if (args.includes('--verbose')) process.env.VERBOSE = 'true';
projectRequire('coffeescript/register');
const mockup = projectRequire(path.join(mockDir, '..', 'serverMockup.coffee'));

// Snapshot endpoint with HTTP digest (MD5, qop=auth), in front of the mock's SOAP listener.
const soap = mockup.server.listeners('request')[0];
mockup.server.removeAllListeners('request');
const nonce = crypto.randomBytes(8).toString('hex');
const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
mockup.server.on('request', (req, res) => {
  if (!req.url.startsWith('/onvif-cgi/jpg/image.cgi')) return soap(req, res);
  const auth = req.headers.authorization || '';
  const f = {};
  for (const m of auth.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) f[m[1]] = m[2] !== undefined ? m[2] : m[3];
  const ok = /^Digest /.test(auth) && f.username === user && f.nonce === nonce &&
    f.response === md5(`${md5(`${user}:vigil-mock:${password}`)}:${nonce}:${f.nc}:${f.cnonce}:${f.qop}:${md5(`GET:${f.uri}`)}`);
  console.log(JSON.stringify({ event: 'snapshot', authorized: ok }));
  if (!ok) {
    res.writeHead(401, { 'www-authenticate': `Digest realm="vigil-mock", qop="auth", nonce="${nonce}", algorithm=MD5` });
    return res.end();
  }
  res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': JPEG.length });
  res.end(JPEG);
});
mockup.server.on('listening', () => {
  console.log(JSON.stringify({ event: 'ready', device_service: `http://${host}:${port}/onvif/device_service`, endpoint: `urn:uuid:${endpointUuid}`, stream_uri: streamUri }));
});
const stop = () => { try { mockup.close(); } catch { /* already closed */ } process.exit(0); };
setTimeout(stop, runSeconds * 1000).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
