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
//  * it prints {"event":"ready"} and, with --verbose, one line per SOAP command it received;
//  * --profiles token:WxH:URI,... lists those media profiles (GetProfiles) and answers GetStreamUri
//    with each one's URI (a camera with a main stream and a substream);
//  * Renew (which the mock lacks: it answers with a fault) is answered, unless --no-renew (a camera
//    without Renew, as many are);
//  * --control SOCKET: an HTTP server on a Unix socket (reachable from outside the namespace) that
//    scripts the camera's events: POST /emit {topic, items} queues a notification for the next
//    PullMessages (then answered from that queue only: no more random canned motion), POST /reply
//    {mode: 'bad-xml'|'huge'|'dtd', count} makes the next PullMessages replies hostile, POST /serial
//    {serial} changes what GetDeviceInformation says (a swapped device), GET /stats counts requests.
// Run it inside a network namespace (it joins a multicast group), from the project root; with
// --no-discovery it opens no UDP socket at all and may run on loopback.
// usage: node onvif-mockup.mjs [--host 127.0.0.1] [--port 10101] [--stream-uri URI] [--endpoint-uuid UUID]
//        [--user admin --password secret] [--run-seconds 60 (0: no limit)] [--exit-on-stdin-eof] [--verbose] [--no-discovery]
//        [--profiles main:1920x1080:rtsp://h/cam,sub:640x360:rtsp://h/sub] [--no-renew] [--control SOCKET]
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import { PassThrough } from 'node:stream';
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
const controlSocket = opt('--control', undefined);
const renew = !args.includes('--no-renew');
/** [{token, width, height, uri}] from --profiles; empty: the mock's own single profile. */
const profiles = (opt('--profiles', '') || '').split(',').filter((x) => x !== '').map((spec) => {
  const m = /^([A-Za-z0-9_.-]+):(\d+)x(\d+):(rtsps?:\/\/\S+)$/.exec(spec);
  if (!m) throw new Error(`--profiles: expected token:WxH:rtsp://..., got ${spec}`);
  return { token: m[1], width: Number(m[2]), height: Number(m[3]), uri: m[4] };
});
let serial = '00000000';
const stats = { CreatePullPointSubscription: 0, PullMessages: 0, Renew: 0, Unsubscribe: 0, GetStreamUri: 0, GetDeviceInformation: 0 };
/** Notifications waiting for the next PullMessages (with --control), and hostile replies to send first. */
const queue = [];
const hostile = [];
if (args.includes('--no-discovery')) {
  // The mock binds UDP 3702 and joins 239.255.255.250 as it loads: neither happens (no multicast at all).
  dgram.Socket.prototype.bind = function bind(...a) {
    const cb = a.find((x) => typeof x === 'function');
    if (cb) process.nextTick(cb);
    return this;
  };
  dgram.Socket.prototype.addMembership = function addMembership() {};
  dgram.Socket.prototype.close = function close() { return this; };
}
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
  let patched = text.replace(/<tds:SerialNumber>[^<]*<\/tds:SerialNumber>/, `<tds:SerialNumber>${serial}</tds:SerialNumber>`);
  if (profiles.length > 0 && path.basename(file) === 'GetProfiles.xml') {
    const block = /<trt:Profiles[\s\S]*<\/trt:Profiles>/.exec(patched)[0];
    const all = profiles.map((p, i) => block
      .replace(/token="main"/g, `token="${p.token}"`)
      .replace(/<tt:Name>[^<]*<\/tt:Name>/, `<tt:Name>${p.token}</tt:Name>`)
      .replace(/<tt:Width>\d+<\/tt:Width>/, `<tt:Width>${p.width}</tt:Width>`)
      .replace(/<tt:Height>\d+<\/tt:Height>/, `<tt:Height>${p.height}</tt:Height>`)
      // Only the first keeps the PTZ configuration, as on cameras whose substream has none.
      .replace(i === 0 ? /$^/ : /<tt:PTZConfiguration[\s\S]*<\/tt:PTZConfiguration>/, '')).join('');
    patched = patched.replace(block, all);
  }
  return Buffer.isBuffer(out) ? Buffer.from(patched) : patched;
};

process.env.HOSTNAME = host;
process.env.PORT = String(port);
if (args.includes('--verbose')) process.env.VERBOSE = 'true';
projectRequire('coffeescript/register');
const mockup = projectRequire(path.join(mockDir, '..', 'serverMockup.coffee'));

// Snapshot endpoint with HTTP digest (MD5, qop=auth), in front of the mock's SOAP listener.
const cannedSoap = mockup.server.listeners('request')[0];
mockup.server.removeAllListeners('request');

const ENVELOPE = '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics"><SOAP-ENV:Body>';
const soapReply = (res, body) => {
  res.setHeader('Content-Type', 'application/soap+xml;charset=UTF-8');
  res.end(`${ENVELOPE}${body}</SOAP-ENV:Body></SOAP-ENV:Envelope>`);
};
const esc = (v) => String(v).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
function notification(n) {
  const items = Object.entries(n.items ?? {}).map(([k, v]) => `<tt:SimpleItem Name="${esc(k)}" Value="${esc(v)}"/>`).join('');
  return `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${esc(n.topic)}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${new Date().toISOString()}"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vscfg0"/></tt:Source>` +
    `<tt:Data>${items}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>`;
}
const lifetime = () => `<wsnt:CurrentTime>${new Date().toISOString()}</wsnt:CurrentTime><wsnt:TerminationTime>${new Date(Date.now() + 60_000).toISOString()}</wsnt:TerminationTime>`;

// Requests this launcher answers itself; the rest go to the mock with their body replayed.
function soap(req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 1 << 20) chunks.push(c); });
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const command = /<s:Body[^>]*>\s*<(\w+)[\s>/]/.exec(body)?.[1];
    if (command in stats) stats[command]++;
    if (command === 'GetStreamUri' && profiles.length > 0) {
      const token = /<ProfileToken>([^<]*)<\/ProfileToken>/.exec(body)?.[1];
      const p = profiles.find((x) => x.token === token) ?? profiles[0];
      if (args.includes('--verbose')) console.log('received media GetStreamUri', p.token);
      return soapReply(res, `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${esc(p.uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`);
    }
    if (command === 'Renew' && renew) {
      if (args.includes('--verbose')) console.log('received events Renew');
      return soapReply(res, `<wsnt:RenewResponse>${lifetime()}</wsnt:RenewResponse>`);
    }
    if (command === 'PullMessages' && controlSocket !== undefined) {
      const bad = hostile.shift();
      if (bad === 'bad-xml') return soapReply(res, '<tev:PullMessagesResponse><wsnt:NotificationMessage><unclosed></tev:PullMessagesResponse');
      if (bad === 'dtd') {
        res.setHeader('Content-Type', 'application/soap+xml');
        return res.end('<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><lol>&b;</lol>');
      }
      if (bad === 'huge') {
        // 64 MiB of notifications, written as fast as the client reads.
        res.setHeader('Content-Type', 'application/soap+xml');
        res.write(`${ENVELOPE}<tev:PullMessagesResponse>`);
        const one = Buffer.from(notification({ topic: 'tns1:RuleEngine/CellMotionDetector/Motion', items: { IsMotion: 'true' } }).repeat(200));
        let sent = 0;
        const more = () => {
          while (sent < 64 << 20) {
            sent += one.length;
            if (!res.write(one)) return res.once('drain', more);
          }
          res.end('</tev:PullMessagesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>');
        };
        res.on('error', () => undefined);
        res.on('close', () => { sent = Infinity; });
        return more();
      }
      const out = queue.splice(0, 32).map(notification).join('');
      return soapReply(res, `<tev:PullMessagesResponse><tev:CurrentTime>${new Date().toISOString()}</tev:CurrentTime><tev:TerminationTime>${new Date(Date.now() + 60_000).toISOString()}</tev:TerminationTime>${out}</tev:PullMessagesResponse>`);
    }
    const replay = new PassThrough();
    Object.assign(replay, { url: req.url, method: req.method, headers: req.headers });
    cannedSoap(replay, res);
    replay.end(Buffer.concat(chunks));
  });
}
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
if (controlSocket !== undefined) {
  try { fs.unlinkSync(controlSocket); } catch { /* not there */ }
  const control = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = {};
      try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {}; } catch { res.statusCode = 400; return res.end('bad json'); }
      if (req.method === 'POST' && req.url === '/emit') {
        if (typeof body.topic !== 'string') { res.statusCode = 400; return res.end('topic'); }
        queue.push({ topic: body.topic, items: body.items ?? {} });
      } else if (req.method === 'POST' && req.url === '/reply') {
        for (let i = 0; i < (body.count ?? 1); i++) hostile.push(body.mode);
      } else if (req.method === 'POST' && req.url === '/serial') {
        serial = String(body.serial);
      } else if (req.url !== '/stats') { res.statusCode = 404; return res.end(); }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ...stats, queued: queue.length, hostile: hostile.length }));
    });
  });
  control.listen(controlSocket);
  control.unref();
}
mockup.server.on('listening', () => {
  console.log(JSON.stringify({ event: 'ready', device_service: `http://${host}:${port}/onvif/device_service`, endpoint: `urn:uuid:${endpointUuid}`, stream_uri: streamUri }));
});
const stop = () => { try { mockup.close(); } catch { /* already closed */ } process.exit(0); };
if (runSeconds > 0) setTimeout(stop, runSeconds * 1000).unref();
// The test process that started us is gone (its end of our stdin closed): so are we.
if (args.includes('--exit-on-stdin-eof')) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
