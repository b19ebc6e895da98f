#!/usr/bin/env python3
"""bench:events' camera: a still scene in which an object starts moving at a known time.

Serves rtsp://127.0.0.1:PORT/cam (H.264 baseline, x264 ultrafast zerolatency, as the project's test
camera): still SMPTE bars with the test camera's clock and running-time overlays, and a black and
white checkered block (a tenth of the picture wide, a quarter high: a person at a few metres)
standing on them. Each SIGUSR1 starts the block walking sideways (a third of the picture's width a
second, turning at the edges) or stops it where it is, and prints {"event": "scene", "moving":
true|false, "ms": WALL_MS} when it is told; when it starts, also {"event": "frame", "moved": true,
"ms": WALL_MS} once the first picture with the block moved leaves the compositor (the moment a real
camera's sensor would see it). The block is checkered so that it differs from every bar: a grey one
was the grey level of the red bar, and a detector rightly saw nothing while it crossed it, which
measured the scene's contrast rather than the time to an event. The rest of the scene never
changes, so what the detector sees is motion starting, not a new scene (the project camera's
--usr1-pattern switches the whole picture, which a detector rightly takes for a change of light).

Prints {"event": "ready", "url": ..., "port": ...} once listening. Exits on SIGTERM/SIGINT or after
--run-seconds.
"""
import argparse
import json
import signal
import sys
import time


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="640x360")
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--run-seconds", type=float, default=600)
    a = p.parse_args(argv)
    w, h = (int(v) for v in a.size.split("x"))
    ow, oh = (w // 10) & ~1, (h // 4) & ~1
    y0 = (h - oh) // 2
    margin = w // 16
    speed = w / 3.0  # pixels a second

    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
    Gst.init(None)

    font = max(8, h // 30)
    caps = f"video/x-raw,width={w},height={h},framerate={a.fps}/1"
    launch = (
        f"( compositor name=mix sink_1::xpos={margin} sink_1::ypos={y0} ! {caps} "
        f"! clockoverlay halignment=left valignment=top shaded-background=true font-desc=\"Sans {font}\" "
        f"text=SIMCAM time-format=\"%Y-%m-%d %H:%M:%S\" "
        f"! timeoverlay halignment=right valignment=bottom shaded-background=true font-desc=\"Sans {font}\" "
        f"! videoconvert ! video/x-raw,format=I420 "
        f"! x264enc speed-preset=ultrafast tune=zerolatency key-int-max={2 * a.fps} bframes=0 "
        f"bitrate={max(200, w * h * a.fps // 5000)} sliced-threads=false "
        f"! video/x-h264,profile=baseline ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        f"videotestsrc is-live=true pattern=smpte ! {caps} ! mix.sink_0 "
        f"videotestsrc is-live=true pattern=checkers-8 "
        f"! video/x-raw,width={ow},height={oh},framerate={a.fps}/1 ! mix.sink_1 )"
    )
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service("0")
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(json.dumps({"event": "error", "error": "cannot bind"}), flush=True)
        return 2

    pads = []
    state = {"moving": False, "x": float(margin), "dir": 1.0, "last": 0.0, "watch": None}

    def configure(_f, media):
        mix = media.get_element().get_by_name("mix")
        pad = mix.get_static_pad("sink_1")
        if pad is not None:
            pad.set_property("xpos", int(state["x"]))
            pads.append(pad)
            mix.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, composed, pad)

    def composed(_src, _info, pad):
        # A picture just left the compositor: the first with the block moved is motion's start.
        x = pad.get_property("xpos")
        if state["watch"] is not None and x != state["watch"]:
            state["watch"] = None
            print(json.dumps({"event": "frame", "moved": True, "ms": int(time.time() * 1000)}), flush=True)
        return Gst.PadProbeReturn.OK
    factory.connect("media-configure", configure)

    def place():
        for pad in pads:
            pad.set_property("xpos", int(state["x"]))

    def step():
        if not state["moving"]:
            return GLib.SOURCE_REMOVE
        now = time.monotonic()
        x = state["x"] + state["dir"] * speed * (now - state["last"])
        state["last"] = now
        if x > w - ow - margin or x < margin:
            state["dir"] = -state["dir"]
            x = min(max(x, margin), w - ow - margin)
        state["x"] = x
        place()
        return GLib.SOURCE_CONTINUE

    def toggle(*_):
        state["moving"] = not state["moving"]
        if state["moving"]:
            state["watch"] = int(state["x"])
            # The first step now (a few pixels), then one every 10 ms: its wall time is motion's start.
            state["last"] = time.monotonic() - 0.01
            step()
            GLib.timeout_add(10, step)
        print(json.dumps({"event": "scene", "moving": state["moving"], "ms": int(time.time() * 1000)}), flush=True)
        return GLib.SOURCE_CONTINUE

    loop = GLib.MainLoop()

    def stop(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, toggle)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.timeout_add(int(a.run_seconds * 1000), stop)
    port = server.get_bound_port()
    print(json.dumps({"event": "ready", "url": f"rtsp://127.0.0.1:{port}/cam", "port": port}), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
