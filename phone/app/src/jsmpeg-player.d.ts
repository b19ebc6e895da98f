// @cycjimmy/jsmpeg-player ships no types: the part of JSMpeg's API that mpeg1-player.dom.ts uses.
declare module '@cycjimmy/jsmpeg-player' {
  interface JsmpegOptions {
    /** Called as `new source(url, options)`; what it returns is the source. */
    source?: unknown;
    canvas?: HTMLCanvasElement;
    audio?: boolean;
    video?: boolean;
    pauseWhenHidden?: boolean;
    videoBufferSize?: number;
    audioBufferSize?: number;
    onVideoDecode?: (decoder: unknown, time: number) => void;
    [option: string]: unknown;
  }
  const JSMpeg: {
    Player: new (url: string, options?: JsmpegOptions) => unknown;
  };
  export default JSMpeg;
}
