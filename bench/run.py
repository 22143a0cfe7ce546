"""Runs `reverb bench` against reverb and the reference servers and writes BENCHMARKS.md.

Called by `bash bench/run.sh`, which builds everything first. Each server runs pinned to
CPU 0 and the load generator to CPU 1. For every server and scenario it records what the
load generator saw (round trips per second, latency percentiles, every byte verified) and
what the server spent, measured on the server itself: CPU per round trip (`perf stat`'s
task-clock of the server's process) and syscalls per round trip (`perf stat -e
raw_syscalls:sys_enter`, exact where timings are noisy). Then idle memory per connection,
an open-loop rate sweep drawn as an SVG of latency against offered load, and reverb over
tls://, ws://, wss://, http:// and https:// beside raw TCP.

Loopback only: every server listens on 127.0.0.1, and every process started is stopped.
"""

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# Where run.sh's `cargo build --release` put it: CARGO_TARGET_DIR, if set, as cargo does.
REVERB = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "reverb"
SECONDS = float(os.environ.get("BENCH_SECS", "5"))
WARMUP = 1.0
# Closed-loop runs per figure, interleaved across servers: the one with the median CPU
# per round trip is reported. One run on a 2-core VM swings by a third; three, taken in
# turn, keep a neighbour's burst from landing on one server only.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BASE_PORT = 7300

# (label, connections, message size)
SCENARIOS = [
    ("1 × 64 B", 1, 64),
    ("50 × 64 B", 50, 64),
    ("50 × 1 KiB", 50, 1024),
    ("500 × 1 KiB", 500, 1024),
    ("50 × 16 KiB", 50, 16384),
]

# reverb's own protocols beside raw TCP: (label, connections, message size).
TRANSPORT_SCENARIOS = [
    ("50 × 64 B", 50, 64),
    ("50 × 1 KiB", 50, 1024),
]
# The URL schemes `reverb bench` speaks; each listener echoes raw, as the tcp one does
# (`http://`: each message one POST, answered with the request as it came).
SCHEMES = ["tcp", "tls", "ws", "wss", "http", "https"]

# Offered loads for the sweep, messages per second over 50 connections.
RATES = [5_000, 10_000, 20_000, 40_000, 60_000, 80_000, 100_000, 120_000]


def ms(seconds):
    """A duration for `reverb bench`, which takes whole units (`1500ms`, not `1.5s`)."""
    return f"{round(seconds * 1000)}ms"


def servers():
    """Each server: a name, how to start it on a port, and a colour for the SVG."""
    bench = ROOT / "bench"
    return [
        ("reverb raw", lambda p: [str(REVERB), "serve", "-l", f"127.0.0.1:{p}",
                                  "--mode", "raw", "--threads", "1", "-q"], "#d9480f"),
        ("reverb line", lambda p: [str(REVERB), "serve", "-l", f"127.0.0.1:{p}",
                                   "--mode", "line", "--no-quit-word", "--threads", "1",
                                   "-q"], "#f08c00"),
        ("C epoll", lambda p: [str(OUT / "epoll_echo"), "127.0.0.1", str(p)], "#1971c2"),
        ("tokio", lambda p: [str(OUT / "tokio-echo"), f"127.0.0.1:{p}"], "#2f9e44"),
        ("Python asyncio", lambda p: [sys.executable, str(bench / "servers" / "asyncio_echo.py"),
                                      "127.0.0.1", str(p)], "#7048e8"),
    ]


def transport(scheme):
    """`reverb serve` with one listener of `scheme` (raw echo), and the bench's extra
    flags for it (a test server's self-signed certificate is accepted)."""
    command = lambda p: [str(REVERB), "serve", "-l", f"{scheme}://127.0.0.1:{p}",
                         "--mode", "raw", "--threads", "1", "-q"]
    extra = ["--insecure"] if scheme in ("tls", "wss", "https") else []
    return command, extra


def start(command, port):
    proc = subprocess.Popen(["taskset", "-c", "0", *command(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise RuntimeError(f"{command(port)} did not start: {line!r}")
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench(port, extra, scheme="tcp"):
    command = ["taskset", "-c", "1", str(REVERB), "bench", f"{scheme}://127.0.0.1:{port}",
               "--json", "--line", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)


def perf_attach(pid):
    """`perf stat` on the server's process: task-clock (ms) and syscalls."""
    return subprocess.Popen(
        ["perf", "stat", "-x", ",", "-e", "task-clock,raw_syscalls:sys_enter",
         "-p", str(pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def perf_read(perf):
    perf.send_signal(signal.SIGINT)
    _, err = perf.communicate(timeout=10)
    values = {}
    for line in err.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0] and fields[0][0].isdigit():
            values[fields[2]] = float(fields[0])
    return values.get("task-clock", 0.0), values.get("raw_syscalls:sys_enter", 0.0)


def load(command, port, connections, size, scheme="tcp", extra=()):
    """One closed-loop run: the bench's report and the server's CPU and syscalls over
    the measured window (after the warmup)."""
    server = start(command, port)
    try:
        run = bench(port, ["-c", str(connections), "-s", str(size),
                           "-d", ms(SECONDS), "--warmup", ms(WARMUP), *extra], scheme)
        time.sleep(WARMUP)
        perf = perf_attach(server.pid)
        out, _ = run.communicate(timeout=SECONDS + 60)
        task_ms, syscalls = perf_read(perf)
    finally:
        stop(server)
    report = json.loads(out)
    messages = max(report["messages"], 1)
    return {
        "ok": report["ok"],
        "messages_per_sec": report["messages_per_sec"],
        "p50_us": report["latency_us"]["p50"],
        "p99_us": report["latency_us"]["p99"],
        "cpu_us_per_rt": task_ms * 1000 / messages,
        "syscalls_per_rt": syscalls / messages,
    }


def median_run(measured):
    """The run with the median server CPU per round trip, whole (its latency and
    syscalls with it), and the spread of CPU per round trip over all the runs."""
    ordered = sorted(measured, key=lambda m: m["cpu_us_per_rt"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["cpu_min"] = ordered[0]["cpu_us_per_rt"]
    chosen["cpu_max"] = ordered[-1]["cpu_us_per_rt"]
    chosen["ok"] = all(m["ok"] for m in measured)
    return chosen


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def idle_memory(command, port, connections=1000):
    """Resident memory per idle connection (each echoed once), from /proc."""
    server = start(command, port)
    try:
        before = rss_kib(server.pid)
        run = bench(port, ["--idle", str(connections), "--hold", "3s"])
        time.sleep(2.0)
        during = rss_kib(server.pid)
        run.communicate(timeout=30)
    finally:
        stop(server)
    return (during - before) * 1024 / connections


def sweep(command, port):
    """Open loop at each offered rate: p50 and p99, and whether the rate was kept."""
    points = []
    for rate in RATES:
        server = start(command, port)
        try:
            run = bench(port, ["-c", "50", "-s", "64", "--rate", str(rate), "-d", "3s",
                               "--warmup", "1s", "--timeout", "2s"])
            out, _ = run.communicate(timeout=60)
        finally:
            stop(server)
        report = json.loads(out)
        kept = report["ok"] and not report.get("unsent")
        points.append({"rate": rate, "p50_us": report["latency_us"]["p50"],
                       "p99_us": report["latency_us"]["p99"], "kept": kept})
        if not kept:
            break
    return points


def svg(sweeps):
    """p99 latency against offered load, one line per server, log-scale latency."""
    import math
    width, height, left, bottom, top, right = 760, 420, 70, 50, 30, 190
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = math.log10(10), math.log10(2_000_000)
    x = lambda rate: left + plot_w * rate / RATES[-1]
    y = lambda us: top + plot_h * (1 - (math.log10(max(us, 10)) - lo) / (hi - lo))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">p99 latency against offered load '
             f'(50 connections, 64-byte messages, open loop)</text>']
    for us, label in [(10, "10 µs"), (100, "100 µs"), (1000, "1 ms"), (10_000, "10 ms"),
                      (100_000, "100 ms"), (1_000_000, "1 s")]:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(us):.1f}" '
                     f'y2="{y(us):.1f}" stroke="#e9ecef"/>')
        parts.append(f'<text x="{left - 8}" y="{y(us) + 4:.1f}" text-anchor="end">{label}</text>')
    for rate in RATES:
        parts.append(f'<text x="{x(rate):.1f}" y="{top + plot_h + 18}" '
                     f'text-anchor="middle">{rate // 1000}k</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">'
                 'offered load, messages per second</text>')
    for i, (name, colour, points) in enumerate(sweeps):
        path = " ".join(f'{"M" if j == 0 else "L"}{x(p["rate"]):.1f},{y(p["p99_us"]):.1f}'
                        for j, p in enumerate(points))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in points:
            mark = "" if p["kept"] else ' stroke="black"'
            parts.append(f'<circle cx="{x(p["rate"]):.1f}" cy="{y(p["p99_us"]):.1f}" r="3" '
                         f'fill="{colour}"{mark}/>')
        ly = top + 20 + 20 * i
        parts.append(f'<line x1="{width - right + 15}" x2="{width - right + 35}" y1="{ly}" '
                     f'y2="{ly}" stroke="{colour}" stroke-width="3"/>')
        parts.append(f'<text x="{width - right + 42}" y="{ly + 4}">{name}</text>')
    parts.append(f'<text x="{width - right + 15}" y="{top + 20 + 20 * len(sweeps) + 10}" '
                 'font-size="11">outlined dot: rate not kept</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def machine():
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} × {cpu}, Linux {platform.release()}"


def main():
    OUT.mkdir(exist_ok=True)
    results = {"machine": machine(), "seconds": SECONDS, "scenarios": {}, "idle": {},
               "sweeps": [], "transports": {}}
    port = BASE_PORT
    runs = {}
    for round_no in range(ROUNDS):
        for name, command, _ in servers():
            for label, connections, size in SCENARIOS:
                port += 1
                print(f"{name}: {label} (run {round_no + 1} of {ROUNDS})", flush=True)
                runs.setdefault(("scenarios", label, name), []).append(
                    load(command, port, connections, size))
        for scheme in SCHEMES:
            command, extra = transport(scheme)
            for label, connections, size in TRANSPORT_SCENARIOS:
                port += 1
                print(f"reverb {scheme}://: {label} (run {round_no + 1} of {ROUNDS})",
                      flush=True)
                runs.setdefault(("transports", label, scheme), []).append(
                    load(command, port, connections, size, scheme, extra))
    for (table, label, name), measured in runs.items():
        results[table].setdefault(label, {})[name] = median_run(measured)
    for name, command, colour in servers():
        port += 1
        results["idle"][name] = idle_memory(command, port)
        if name != "reverb line":
            port += 1
            print(f"{name}: rate sweep", flush=True)
            results["sweeps"].append((name, colour, sweep(command, port)))
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    (ROOT / "bench" / "latency.svg").write_text(svg(results["sweeps"]))
    write_markdown(results)


def cpu_cell(m):
    """CPU per round trip of the median run, and the range over the runs."""
    if "cpu_min" not in m or m["cpu_min"] == m["cpu_max"]:
        return f"{m['cpu_us_per_rt']:.2f}"
    return f"{m['cpu_us_per_rt']:.2f} ({m['cpu_min']:.2f}–{m['cpu_max']:.2f})"


def write_markdown(r):
    names = [n for n, _, _ in servers()]
    lines = [
        "# Benchmarks",
        "",
        "Written by `bash bench/run.sh` (the numbers below are its output on the machine",
        "named; rerun it to get yours). Each server runs pinned to CPU 0 and `reverb bench`",
        "to CPU 1; every echoed byte is verified. CPU and syscalls per round trip are the",
        "server's own (`perf stat` on its process over the measured window), not the load",
        "generator's. Messages end in a newline, so `reverb line` echoes the same bytes as",
        "the raw servers.",
        "",
        f"- Machine: {r['machine']}",
        f"- Each closed-loop run: {r['seconds']:.0f} s after a {WARMUP:.0f} s warmup, one",
        "  server thread (`reverb serve --threads 1`, tokio's current-thread runtime).",
        f"- Each figure: {ROUNDS} runs taken in turn across the servers; the table shows",
        "  the run with the median CPU per round trip, and its range over the runs.",
        "- Reference servers, in `bench/servers/`: a minimal C epoll echo server, tokio's",
        "  echo example, and the tutorials' Python asyncio echo server.",
        "",
    ]
    for label, by_server in r["scenarios"].items():
        c = by_server.get("C epoll", {})
        lines += [f"## {label}", "",
                  "| server | round trips/s | p50 | p99 | CPU µs/rt | ×C | syscalls/rt |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name in names:
            m = by_server.get(name)
            if not m:
                continue
            ratio = m["cpu_us_per_rt"] / c["cpu_us_per_rt"] if c.get("cpu_us_per_rt") else 0
            ok = "" if m["ok"] else " (failed)"
            lines.append(f"| {name}{ok} | {m['messages_per_sec']:,.0f} | "
                         f"{m['p50_us']:.0f} µs | {m['p99_us']:.0f} µs | "
                         f"{cpu_cell(m)} | {ratio:.2f} | "
                         f"{m['syscalls_per_rt']:.2f} |")
        lines.append("")
    lines += ["## reverb over TLS, WebSocket and HTTP", "",
              "The same closed loop against one `reverb serve --mode raw` listener of each",
              "scheme, `reverb bench` speaking it (`--insecure` for the self-signed",
              "certificate; each message one WebSocket message, or the body of one HTTP",
              "`POST` on a kept-alive connection, answered with the whole request). The",
              "handshakes happen in the warmup, so this is each protocol's cost per round",
              "trip; ×tcp is the server's CPU per round trip against raw TCP's.", ""]
    for label, by_scheme in r["transports"].items():
        tcp = by_scheme.get("tcp", {})
        lines += [f"### {label}", "",
                  "| listener | round trips/s | p50 | p99 | CPU µs/rt | ×tcp | syscalls/rt |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for scheme in SCHEMES:
            m = by_scheme.get(scheme)
            if not m:
                continue
            ratio = (m["cpu_us_per_rt"] / tcp["cpu_us_per_rt"]
                     if tcp.get("cpu_us_per_rt") else 0)
            ok = "" if m["ok"] else " (failed)"
            lines.append(f"| `{scheme}://`{ok} | {m['messages_per_sec']:,.0f} | "
                         f"{m['p50_us']:.0f} µs | {m['p99_us']:.0f} µs | "
                         f"{cpu_cell(m)} | {ratio:.2f} | "
                         f"{m['syscalls_per_rt']:.2f} |")
        lines.append("")
    lines += ["## Idle memory", "",
              "Resident memory per connection, 1,000 connections each echoed once and then",
              "held (`reverb bench --idle 1000 --hold 3s`), from the server's /proc.", "",
              "| server | bytes per idle connection |", "|---|---:|"]
    for name in names:
        if name in r["idle"]:
            lines.append(f"| {name} | {r['idle'][name]:,.0f} |")
    lines += ["", "## Latency against offered load", "",
              "Open loop (`reverb bench --rate R`, latency from each message's intended send",
              "time), 50 connections, 64-byte messages, 3 s per rate; a server's line stops",
              "at the first rate it could not keep.", "", "![p99 latency against offered "
              "load](bench/latency.svg)", ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
