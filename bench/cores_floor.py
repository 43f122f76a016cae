"""Where two cores set the floor for calls at once (bench/run.sh --cores).

Through a private libvirtd serving a test-driver node, for 1, 2, 4 and 8
calls at once: the raw fetch (a connection per batch) and our scrape, taking
turns, each with the CPU it and libvirtd used and how busy the whole machine
was while it ran (/proc/stat). Then a system-wide perf profile of our scrapes
at 4 calls at once: which processes had the CPUs, and the busiest symbols.
When the machine is close to all its cores busy, more calls at once cannot
help: the floor is the machine's, not the exporter's.
"""

import os
import re
import subprocess
import time

import bench

CONCURRENCY = (1, 2, 4, 8)
PROFILED = 4


def machine_jiffies():
    """(busy, total) jiffies over all CPUs since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def measured(subject, pids):
    """One measurement with what it cost: (ms, cores busy on the machine,
    cores used by `pids`)."""
    bench.settle(pids)
    busy0, total0 = machine_jiffies()
    ticks0 = sum(bench.proc_cpu_ticks(p) for p in pids)
    started = time.monotonic()
    ms = subject.measure()
    wall = time.monotonic() - started
    busy1, total1 = machine_jiffies()
    ticks1 = sum(bench.proc_cpu_ticks(p) for p in pids)
    cpus = os.cpu_count()
    machine = cpus * (busy1 - busy0) / max(1, total1 - total0)
    own = (ticks1 - ticks0) / bench.TICKS_PER_SECOND / wall
    return ms, machine, own


def cell(args, uri, daemon_pid, concurrency, rounds):
    client = bench.ScrapeClient(args.scrape_client)
    raw = bench.RawFetch(args.raw_fetch, uri, concurrency=concurrency,
                         connections="own" if concurrency > 1 else "shared")
    ours = None
    try:
        ours = bench.start_ours(args, client, uri, "cores-ours-c%d.log" % concurrency,
                                ["--libvirt.max-concurrent-calls", str(concurrency)])
        for _ in range(2):  # connections opened, a first hedge settled
            raw.measure()
            ours.measure()
        samples = {"raw": [], "ours": []}
        for r in range(rounds):
            pair = [("raw", raw), ("ours", ours)]
            for name, subject in pair[r % 2:] + pair[:r % 2]:
                samples[name].append(measured(subject, [subject.pid, daemon_pid]))
        return {name: tuple(bench.median([s[i] for s in values]) for i in range(3))
                for name, values in samples.items()}
    finally:
        if ours:
            ours.close()
        raw.close()
        client.close()


def profile(args, uri, scrapes=6):
    """perf over the whole machine while our exporter serves `scrapes`
    scrapes at PROFILED calls at once: share of the CPU samples per process
    (swapper is idle) and the busiest symbols."""
    data = os.path.join(args.work_dir, "cores.perf")
    client = bench.ScrapeClient(args.scrape_client)
    ours = None
    try:
        ours = bench.start_ours(args, client, uri, "cores-profile.log",
                                ["--libvirt.max-concurrent-calls", str(PROFILED)])
        ours.measure()
        ours.measure()
        perf = subprocess.Popen(["perf", "record", "-a", "-F", "499", "-o", data, "--",
                                 "sleep", "600"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # perf attached to every CPU
        started = time.monotonic()
        for _ in range(scrapes):
            ours.measure()
        window = time.monotonic() - started
        perf.send_signal(2)
        perf.wait(timeout=60)
    finally:
        if ours:
            ours.close()
        client.close()

    def report(sort, limit):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", sort,
                              "--percent-limit", str(limit)],
                             capture_output=True, text=True, check=True).stdout
        return [line.strip() for line in out.splitlines()
                if line.strip() and not line.startswith("#")]
    return window, report("comm,dso", 1), report("comm,dso,sym", 0.7)[:20]


def write_report(args, rows, window, by_comm, by_symbol, count):
    cpus = os.cpu_count()
    lines = ["# Calls at once against the machine's cores", "",
             "Run `bench/run.sh --cores` on %s. %d test-driver domains through a private "
             "libvirtd; each row: medians of %d rounds, raw fetch and our scrape taking turns. "
             "*machine cores busy*: the whole machine's busy CPU time (/proc/stat) over the "
             "measurement's wall time, out of %d; *cores used*: the subject's and libvirtd's "
             "CPU over the same wall time." % (bench.machine_line(), count, args.cores_rounds,
                                               cpus), "",
             "| calls at once | raw fetch ms | raw: machine cores busy | raw + libvirtd cores "
             "| ours ms | ours: machine cores busy | ours + libvirtd cores | ours / raw |",
             "|---|---|---|---|---|---|---|---|"]
    for c, row in rows:
        raw, ours = row["raw"], row["ours"]
        lines.append("| %d | %s | %.2f | %.2f | %s | %.2f | %.2f | %.2f× |" % (
            c, bench.fmt(raw[0]), raw[1], raw[2], bench.fmt(ours[0]), ours[1], ours[2],
            ours[0] / raw[0]))
    lines += ["", "perf, the whole machine, %.1f s of our scrapes at %d calls at once "
              "(`perf record -a -F 499`; `swapper` is idle CPU; libvirtd's main thread is "
              "`libvirtd`, its workers `rpc-libvirtd`): share of the samples by process "
              "and object:" % (window, PROFILED), "", "```"]
    lines += by_comm
    lines += ["```", "", "Busiest symbols (process, object, symbol):", "", "```"]
    lines += by_symbol
    lines += ["```", ""]
    text = "\n".join(lines)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "cores.md"), "w") as f:
        f.write(text)
    return text


def run_cores(args, count=5000):
    node = os.path.join(args.work_dir, "cores-node-%d.xml" % count)
    bench.write_node(node, count)
    daemon = bench.PrivateDaemon(args.work_dir)
    daemon.start()
    try:
        uri = "test+unix://%s?socket=%s" % (node, daemon.socket())
        rows = []
        for c in CONCURRENCY:
            rows.append((c, cell(args, uri, daemon.pid, c, args.cores_rounds)))
            raw, ours = rows[-1][1]["raw"], rows[-1][1]["ours"]
            bench.log("c=%d raw %.0f ms (%.2f busy)  ours %.0f ms (%.2f busy)"
                      % (c, raw[0], raw[1], ours[0], ours[1]))
        window, by_comm, by_symbol = profile(args, uri)
    finally:
        daemon.stop()
    print(write_report(args, rows, window, by_comm, by_symbol, count))
    return 0
