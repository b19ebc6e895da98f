// node-rtsp-stream ships no types. Only its MPEG-1 muxer is ever imported (eslint.config.js bans the
// package's entry and videoStream.js: an unauthenticated plaintext WebSocket server).
declare module 'node-rtsp-stream/mpeg1muxer.js' {
  import type { ChildProcess } from 'node:child_process';
  import type { EventEmitter } from 'node:events';

  interface Mpeg1MuxerOptions {
    /** ffmpeg's input (`-i`): a URL, or `pipe:0` for its standard input. */
    url: string;
    ffmpegPath: string;
    /** Output options, each key then its value ('' for a flag without one), after `-codec:v mpeg1video`. */
    ffmpegOptions?: Record<string, string | number>;
  }

  interface Mpeg1Muxer extends EventEmitter {
    /** The ffmpeg child: `ffmpeg -i URL -f mpegts -codec:v mpeg1video OPTIONS -`. */
    readonly stream: ChildProcess;
    on(event: 'mpeg1data', listener: (data: Buffer) => void): this;
    on(event: 'ffmpegStderr', listener: (data: Buffer) => void): this;
    on(event: 'exitWithError', listener: () => void): this;
  }

  const Mpeg1Muxer: new (options: Mpeg1MuxerOptions) => Mpeg1Muxer;
  export default Mpeg1Muxer;
}
