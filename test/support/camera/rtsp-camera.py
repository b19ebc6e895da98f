#!/usr/bin/python3
"""Vigil's test camera, adapted from ../shared/testbed/rtsp-camera.py.

Changes: before it serves, the camera checks every GStreamer element its pipeline needs (and the
GObject introspection namespaces it imports); when one is missing it prints one line on stderr naming
it and its Debian package (from .ci/packages), the same line as {"event": "error", ...} on stdout,
and exits 3, so the TS helper fails at once instead of serving RTSP 503s. --list-requirements prints
everything any of its pipelines can need, for the check that .ci/packages provides it all.
--exit-on-stdin-eof stops the camera when the test process that started it goes away, even if it was
killed hard. --stamp writes each frame's creation time (wall clock, ms) into its pixels before the
encoder, for bench/glass.bench.ts (see STAMP below).

Simulated IP camera: a GStreamer RTSP server (gst-rtsp-server via python3-gi).

Serves a live test pattern (with a wall-clock overlay) on rtsp://HOST:PORT/PATH.

Debian packages: see ../../../.ci/packages (rtsp-camera.py --list-requirements says what it needs).

Uses /usr/bin/python3 on purpose: python3-gi is installed for Debian's Python.

On start it prints one JSON line to stdout, e.g.
  {"event": "ready", "url": "rtsp://127.0.0.1:8554/cam", "port": 8554, ...}
then serves until SIGINT/SIGTERM or until --run-seconds elapse.

Only unicast RTP (UDP or RTSP-interleaved TCP) is offered: multicast transport is
disabled so the server never emits multicast packets.
"""
import argparse
import json
import os
import shlex
import signal
import sys

PACKAGES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".ci", "packages")
# The GObject introspection namespaces imported below, all version 1.0.
GI_NAMESPACES = ("Gst", "GstRtsp", "GstRtspServer")


def debian_packages():
    """What .ci/packages says provides what: {"gst:x264enc": "gstreamer1.0-plugins-ugly", ...}."""
    provided_by = {}
    try:
        with open(PACKAGES_FILE, encoding="utf-8") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                for what in words[1:]:
                    provided_by[what] = words[0]
    except OSError:
        pass  # the message then says where the list should have been
    return provided_by


def fail_missing(kind, names):
    """One line on stderr (and as an error event on stdout) naming what is missing and its package; exit 3."""
    provided_by = debian_packages()
    parts, pkgs = [], []
    for name in names:
        pkg = provided_by.get(f"{kind}:{name}")
        parts.append(f"{name} ({pkg})" if pkg else f"{name} (no package in {os.path.normpath(PACKAGES_FILE)} provides it)")
        if pkg and pkg not in pkgs:
            pkgs.append(pkg)
    what = {"gst": "GStreamer element", "gi": "GObject introspection namespace", "py": "Python module"}[kind]
    line = f"rtsp-camera: missing {what}{'s' if len(names) > 1 else ''} {', '.join(parts)}"
    if pkgs:
        line += f"; install: apt-get install {' '.join(pkgs)}"
    print(line, file=sys.stderr, flush=True)
    print(json.dumps({"event": "error", "missing": pkgs, "error": line}), flush=True)
    sys.exit(3)


def load_gi():
    try:
        import gi
    except ImportError:
        fail_missing("py", ["gi"])
    for ns in GI_NAMESPACES:
        try:
            gi.require_version(ns, "1.0")
        except ValueError:
            fail_missing("gi", [ns])
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402
    return GLib, Gst, GstRtsp, GstRtspServer


def parse_size(text):
    try:
        w, h = text.lower().split("x")
        w, h = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 1920x1080")
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError("width/height must be even and >= 16")
    return w, h


def build_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8554, help="RTSP TCP port; 0 = pick a free one (default 8554)")
    p.add_argument("--path", default="/cam", help="mount path (default /cam)")
    p.add_argument("--codec", choices=["h264", "h265"], default="h264")
    p.add_argument("--size", type=parse_size, default=(1280, 720), help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    p.add_argument("--gop", type=int, default=None, help="keyframe interval in frames (default = 2*fps)")
    p.add_argument("--bframes", type=int, default=0, help="B-frames between references (default 0, like most cameras)")
    p.add_argument("--bitrate", type=int, default=None, help="video kbit/s (default scales with size*fps)")
    p.add_argument("--slices", type=int, default=1,
                   help="slices per frame (default 1; >1 mimics cameras that send multi-slice frames)")
    p.add_argument("--audio", choices=["none", "aac", "pcmu"], default="none",
                   help="audio track: none, aac (MPEG4-GENERIC, 16 kHz mono), pcmu (G.711 u-law 8 kHz)")
    p.add_argument("--auth", choices=["none", "basic", "digest", "both"], default="none")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="secret")
    p.add_argument("--label", default="SIMCAM", help="text drawn before the clock")
    p.add_argument("--no-clock", action="store_true", help="disable the clock/running-time overlay")
    p.add_argument("--pattern", default="smpte", help="videotestsrc pattern (smpte, ball, snow, ...)")
    p.add_argument("--motion", type=int, default=2,
                   help="videotestsrc horizontal-speed in px/frame (0 = static picture)")
    p.add_argument("--not-shared", action="store_true",
                   help="one encoder per client instead of one shared encoder")
    p.add_argument("--restart-on-play", action="store_true",
                   help="each client's PLAY restarts the shared stream's timeline, so the timestamps of "
                        "clients already watching go back (GStreamer's default; real cameras do not)")
    p.add_argument("--usr1-pattern", default=None, metavar="PATTERN",
                   help="each SIGUSR1 switches the picture between --pattern and PATTERN (motion starting at a known time); "
                        "prints {\"event\": \"scene\", \"pattern\": ..., \"ms\": ...}")
    p.add_argument("--run-seconds", type=float, default=0, help="exit after this many seconds (0 = until signal)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit when stdin closes (the parent process went away)")
    p.add_argument("--stamp", action="store_true",
                   help="write each frame's creation time (wall clock ms) into its pixels as black/white blocks")
    p.add_argument("--print-launch", action="store_true", help="print the gst-launch pipeline and exit")
    p.add_argument("--list-requirements", action="store_true",
                   help="print every gst:ELEMENT and gi:NAMESPACE any pipeline of this camera can need, and exit")
    p.add_argument("--require-element", action="append", default=[], metavar="NAME",
                   help="also require this GStreamer element at start (to test the check)")
    a = p.parse_args(argv)
    if not a.path.startswith("/"):
        a.path = "/" + a.path
    if a.fps < 1 or a.fps > 120:
        p.error("--fps must be 1..120")
    if a.gop is None:
        a.gop = 2 * a.fps
    if a.slices < 1:
        p.error("--slices must be >= 1")
    if a.gop < 1:
        p.error("--gop must be >= 1")
    if a.stamp and (a.size[0] < STAMP_COLS * STAMP_BLOCK + 2 * STAMP_BLOCK or a.size[1] < STAMP_ROWS * STAMP_BLOCK + 2 * STAMP_BLOCK):
        p.error(f"--stamp needs a picture of at least {STAMP_COLS * STAMP_BLOCK + 2 * STAMP_BLOCK}x{STAMP_ROWS * STAMP_BLOCK + 2 * STAMP_BLOCK}")
    if a.bitrate is None:
        w, h = a.size
        a.bitrate = max(256, w * h * a.fps // 15000)
    return a


def set_auth_methods_raw(auth, mask):
    """PyGObject treats GstRTSPAuthMethod as an enum, so BASIC|DIGEST (3) cannot be passed;
    call the C function directly with the OR-ed mask."""
    import ctypes
    lib = ctypes.CDLL("libgstrtspserver-1.0.so.0")
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype = ctypes.c_void_p
    get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
    lib.gst_rtsp_auth_set_supported_methods.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.gst_rtsp_auth_set_supported_methods(get_ptr(auth.__gpointer__, None), mask)


# STAMP: with --stamp every frame carries the wall-clock time (ms since 1970) at which it left the
# source, written into the raw picture before the encoder, so a viewer can tell how old the frame it
# shows is: 64 bits as a grid of STAMP_COLS x STAMP_ROWS blocks of STAMP_BLOCK x STAMP_BLOCK pixels,
# left to right then top to bottom, most significant bit first, black (luma 16) for 0 and white (luma
# 235) for 1, chroma neutral. Bits 0..47 are the time, bits 48..63 its CRC-16/CCITT-FALSE (over the
# time's 6 bytes, big-endian), so a frame whose blocks the encoder smeared is recognised and skipped.
# Blocks this large survive H.264 at any bit rate the camera uses. The grid's top-left corner is
# reported in the ready line ("stamp": {...}); bench/lib/glass-page.ts reads it.
STAMP_BLOCK = 16
STAMP_COLS = 16
STAMP_ROWS = 4
STAMP_TIME_BITS = 48


def crc16_ccitt(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def stamp_bits(ms):
    """The 64 bits of a stamp, most significant first: 48 of time, 16 of CRC."""
    ms &= (1 << STAMP_TIME_BITS) - 1
    crc = crc16_ccitt(ms.to_bytes(6, "big"))
    word = (ms << 16) | crc
    return [(word >> (63 - i)) & 1 for i in range(64)]


def stamp_origin(size):
    """Top-left corner of the grid: one block in from the left, centred vertically (even lines)."""
    w, h = size
    return STAMP_BLOCK, ((h - STAMP_ROWS * STAMP_BLOCK) // 2) & ~1


def round_up_4(n):
    return (n + 3) & ~3


def write_stamp(frame, size, ms):
    """Writes the stamp into an I420 frame (bytearray, GStreamer's default strides) in place."""
    w, h = size
    x0, y0 = stamp_origin(size)
    y_stride, c_stride = round_up_4(w), round_up_4(w // 2)
    u_off = y_stride * h
    v_off = u_off + c_stride * (h // 2)
    bits = stamp_bits(ms)
    white, black = b"\xeb" * STAMP_BLOCK, b"\x10" * STAMP_BLOCK
    grey = b"\x80" * (STAMP_BLOCK // 2)
    for i, bit in enumerate(bits):
        x = x0 + (i % STAMP_COLS) * STAMP_BLOCK
        y = y0 + (i // STAMP_COLS) * STAMP_BLOCK
        row = white if bit else black
        for line in range(y, y + STAMP_BLOCK):
            start = line * y_stride + x
            frame[start:start + STAMP_BLOCK] = row
        for line in range(y // 2, (y + STAMP_BLOCK) // 2):
            for off in (u_off, v_off):
                start = off + line * c_stride + x // 2
                frame[start:start + STAMP_BLOCK // 2] = grey


def video_branch(a):
    w, h = a.size
    src = (f"videotestsrc name=scene is-live=true pattern={a.pattern} horizontal-speed={a.motion} "
           f"! video/x-raw,width={w},height={h},framerate={a.fps}/1 ")
    overlay = ""
    label = a.label.replace('"', "'")
    if not a.no_clock:
        font = max(8, h // 30)
        overlay = (f"! clockoverlay halignment=left valignment=top shaded-background=true "
                   f"font-desc=\"Sans {font}\" text=\"{label}\" time-format=\"%Y-%m-%d %H:%M:%S\" "
                   f"! timeoverlay halignment=right valignment=bottom shaded-background=true "
                   f"font-desc=\"Sans {font}\" ")
    # With --stamp the raw frames go out through an appsink and come back, stamped, through an
    # appsrc (install_stamper): a buffer seen in a pad probe is not writable from Python.
    raw = f"! videoconvert ! video/x-raw,format=I420 "
    if a.stamp:
        raw += (f"! appsink name=stampin emit-signals=true sync=false max-buffers=2 drop=true "
                f"appsrc name=stampout is-live=true format=time do-timestamp=true "
                f"caps=video/x-raw,format=I420,width={w},height={h},framerate={a.fps}/1 ")
    if a.codec == "h264":
        enc = (raw +
               f"! x264enc speed-preset=ultrafast tune=zerolatency key-int-max={a.gop} "
               f"bframes={a.bframes} bitrate={a.bitrate} sliced-threads=false "
               f"option-string=\"slices={a.slices}\" "
               f"! video/x-h264,profile={'main' if a.bframes else 'baseline'} "
               f"! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1")
    else:
        # x265enc has no bframes property; pass it through option-string.
        enc = (raw +
               f"! x265enc speed-preset=ultrafast tune=zerolatency key-int-max={a.gop} "
               f"bitrate={a.bitrate} option-string=\"bframes={a.bframes}:slices={a.slices}\" "
               f"! video/x-h265,profile=main ! h265parse "
               f"! rtph265pay name=pay0 pt=96 config-interval=-1")
    return src + overlay + enc


def audio_branch(a):
    if a.audio == "aac":
        return (" audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
                "! audio/x-raw,rate=16000,channels=1 ! audioconvert ! audioresample "
                "! avenc_aac bitrate=32000 ! aacparse ! rtpmp4gpay name=pay1 pt=97")
    if a.audio == "pcmu":
        return (" audiotestsrc is-live=true wave=sine freq=440 volume=0.2 "
                "! audio/x-raw,rate=8000,channels=1 ! audioconvert ! audioresample "
                "! mulawenc ! rtppcmupay name=pay1 pt=0")
    return ""


def launch_line(a):
    return "( " + video_branch(a) + audio_branch(a) + " )"


def pipeline_elements(launch):
    """The element names in a gst-launch line: the words that are neither caps nor property=value."""
    links, current, quoted = [], "", False
    for ch in launch:
        if ch == '"':
            quoted = not quoted
        if not quoted and ch in "!()":
            links.append(current)
            current = ""
        else:
            current += ch
    links.append(current)
    names = []
    for link in links:
        for i, word in enumerate(shlex.split(link)):
            if "=" in word or (i == 0 and "/" in word):
                continue
            if word not in names:
                names.append(word)
    return names


def requirements():
    """Everything any of this camera's pipelines can need, as kind:name lines for .ci/check-packages."""
    elements = []
    for codec in ("h264", "h265"):
        for audio in ("none", "aac", "pcmu"):
            for stamp in ([], ["--stamp"]):
                for name in pipeline_elements(launch_line(build_args(["--codec", codec, "--audio", audio] + stamp))):
                    if name not in elements:
                        elements.append(name)
    return [f"gi:{ns}" for ns in GI_NAMESPACES] + [f"gst:{e}" for e in elements]


def install_stamper(factory, a, Gst):
    """Stamps every raw frame between the appsink and appsrc of a --stamp pipeline (see STAMP)."""
    import time

    def on_sample(sink, src):
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        try:
            frame = bytearray(info.data)
        finally:
            buf.unmap(info)
        write_stamp(frame, a.size, int(time.time() * 1000))
        return src.emit("push-buffer", Gst.Buffer.new_wrapped(bytes(frame)))

    def on_configure(_factory, media):
        bin_ = media.get_element()
        sink, src = bin_.get_by_name("stampin"), bin_.get_by_name("stampout")
        sink.connect("new-sample", on_sample, src)

    factory.connect("media-configure", on_configure)


def main(argv):
    a = build_args(argv)
    launch = launch_line(a)
    if a.print_launch:
        print(launch)
        return 0
    if a.list_requirements:
        print("\n".join(requirements()))
        return 0

    GLib, Gst, GstRtsp, GstRtspServer = load_gi()
    Gst.init(None)
    # A missing element would only show when a client asks for the stream (RTSP 503): check now.
    absent = [e for e in pipeline_elements(launch) + a.require_element if Gst.ElementFactory.find(e) is None]
    if absent:
        fail_missing("gst", absent)
    server = GstRtspServer.RTSPServer()
    server.set_address(a.host)
    server.set_service(str(a.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(not a.not_shared)
    if not a.restart_on_play:
        # A camera's live stream ignores the Range of a PLAY. GStreamer's RTSP server instead seeks
        # a seekable shared media to it (ffmpeg asks for npt=0-), which restarts the timeline of
        # every client already watching: their timestamps go back and ffmpeg clamps them. A media
        # that publishes its clock and offset counts as not seekable (rtsp-media.c check_seekable),
        # so a new client joins the stream as it runs.
        factory.set_publish_clock_mode(GstRtspServer.RTSPPublishClockMode.CLOCK_AND_OFFSET)
    if a.stamp:
        install_stamper(factory, a, Gst)
    # unicast only: never negotiate multicast RTP
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP)

    if a.auth != "none":
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        if a.auth in ("basic", "both"):
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        if a.auth in ("digest", "both"):
            auth.add_digest(a.user, a.password, token)
        if a.auth == "basic":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        elif a.auth == "digest":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            set_auth_methods_raw(auth, int(GstRtsp.RTSPAuthMethod.BASIC) | int(GstRtsp.RTSPAuthMethod.DIGEST))
        auth.set_realm(a.label)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        perms.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(perms)

    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print(json.dumps({"event": "error", "error": f"cannot bind {a.host}:{a.port}"}), flush=True)
        return 2

    loop = GLib.MainLoop()

    def stop(*_):
        loop.quit()
        return GLib.SOURCE_REMOVE

    def cleanup():
        server.get_session_pool().cleanup()
        return GLib.SOURCE_CONTINUE

    if a.usr1_pattern:
        medias = []
        scene = {"alt": False}

        def configure(_f, media):
            medias[:] = [m for m in medias if m.get_status() != GstRtspServer.RTSPMediaStatus.UNPREPARED] + [media]
            if scene["alt"]:
                Gst.util_set_object_arg(media.get_element().get_by_name("scene"), "pattern", a.usr1_pattern)
        factory.connect("media-configure", configure)

        def switch(*_):
            import time
            scene["alt"] = not scene["alt"]
            pattern = a.usr1_pattern if scene["alt"] else a.pattern
            for media in medias:
                el = media.get_element().get_by_name("scene")
                if el is not None:
                    Gst.util_set_object_arg(el, "pattern", pattern)
            print(json.dumps({"event": "scene", "pattern": pattern, "ms": int(time.time() * 1000)}), flush=True)
            return GLib.SOURCE_CONTINUE
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, switch)

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.timeout_add_seconds(2, cleanup)
    if a.run_seconds > 0:
        GLib.timeout_add(int(a.run_seconds * 1000), stop)
    if a.exit_on_stdin_eof:
        def on_stdin(_fd, _cond):
            try:
                data = sys.stdin.buffer.read1(4096)
            except OSError:
                data = b""
            if not data:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE
        GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT,
                          GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR, on_stdin)

    port = server.get_bound_port()
    host = f"[{a.host}]" if ":" in a.host else a.host
    cred = f"{a.user}:{a.password}@" if a.auth != "none" else ""
    print(json.dumps({
        "event": "ready",
        "url": f"rtsp://{host}:{port}{a.path}",
        "url_with_credentials": f"rtsp://{cred}{host}:{port}{a.path}",
        "port": port, "path": a.path, "codec": a.codec,
        "size": f"{a.size[0]}x{a.size[1]}", "fps": a.fps, "gop": a.gop, "bframes": a.bframes,
        "bitrate_kbps": a.bitrate, "audio": a.audio, "auth": a.auth,
        "stamp": None if not a.stamp else {
            "x": stamp_origin(a.size)[0], "y": stamp_origin(a.size)[1], "block": STAMP_BLOCK,
            "cols": STAMP_COLS, "rows": STAMP_ROWS, "timeBits": STAMP_TIME_BITS,
        },
    }), flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
