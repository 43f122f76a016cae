#!/usr/bin/env python3
"""What gzip costs and saves per scrape (issue 13), through bench/run.sh --gzip.

For each node size (default 1000 and 5000 test-driver domains, in-process)
it starts the exporter and scrapes it in alternating rounds with and without
"Accept-Encoding: gzip" (lme-scrape, bench/scrape_client.cc), and reports per
encoding: bytes of the body on the wire (without HTTP framing), the scrape's
wall time (median, from connecting to the last byte), and the exporter's CPU
per scrape (utime+stime over all rounds of that encoding / rounds). It checks
that the decompressed answer has the same series as the plain one. Then
lme-gzip-cost compresses the saved plain body at levels 1-9 with the
server's own code, to show what another level would cost and save.
"""
import gzip
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the node files, processes and line programs)


def series(text):
    """Sample lines that do not change between two scrapes of the same node."""
    varying = ("libvirt_memory_exporter_scrape_collector_duration_seconds",
               "libvirt_memory_exporter_collections_total", "process_", "promhttp_")
    return sorted(line for line in text.decode().splitlines()
                  if line and not line.startswith("#") and not line.startswith(varying))


def measure(args, count, work):
    node = os.path.join(work, "node-%d.xml" % count)
    bench.write_node(node, count)
    client = bench.ScrapeClient(args.scrape_client)
    try:
        exporter = bench.start_ours(args, client, "test://" + node, "gzip-%d.log" % count)
    except BaseException:
        client.close()
        raise
    try:
        results = {}
        bodies = {}
        for mode in ("plain", "gzip"):
            results[mode] = {"ms": [], "ticks": 0, "bytes": 0}
        for _ in range(3):  # warm up both paths
            for mode in ("plain", "gzip"):
                client.proc.stdin.write("scrape %d - %s\n" % (exporter.port, "gzip" if mode == "gzip" else ""))
                client.proc.stdin.flush()
                client.proc.stdout.readline()
        for round_ in range(args.rounds):
            order = ("plain", "gzip") if round_ % 2 == 0 else ("gzip", "plain")
            for mode in order:
                bench.settle([exporter.pid])
                path = os.path.join(work, "body-%s-%d" % (mode, count))
                before = bench.proc_cpu_ticks(exporter.pid)
                fields = bench.ask_line_program(
                    client.proc, "scrape %d %s%s" % (exporter.port, path,
                                                    " gzip" if mode == "gzip" else ""),
                    "lme-scrape")
                results[mode]["ticks"] += bench.proc_cpu_ticks(exporter.pid) - before
                results[mode]["ms"].append(fields["ns"] / 1e6)
                results[mode]["bytes"] = fields["bytes"]
                with open(path, "rb") as f:
                    bodies[mode] = f.read()
        plain_series = series(bodies["plain"])
        if series(gzip.decompress(bodies["gzip"])) != plain_series:
            raise bench.BenchError("the gzip answer differs from the plain one at %d domains" % count)
        with open(os.path.join(work, "plain-%d.prom" % count), "wb") as f:
            f.write(bodies["plain"])
        levels = subprocess.run([args.gzip_cost, os.path.join(work, "plain-%d.prom" % count)],
                                capture_output=True, text=True, check=True, timeout=600).stdout
        return results, len(plain_series), levels
    finally:
        exporter.close()
        client.close()


def main():
    parser = bench.side_parser(__doc__, 20, "gzip.md")
    parser.add_argument("--gzip-cost", required=True)
    args = parser.parse_args()
    started = time.time()
    parts = ["# gzip: what it costs and saves per scrape", "",
             "`bench/run.sh --gzip` on %s, %s; %s. Each cell: %d alternating scrapes with "
             "and without `Accept-Encoding: gzip` of the exporter on N in-process test-driver "
             "domains, timed inside lme-scrape; CPU is the exporter's utime+stime over those "
             "scrapes (10 ms ticks) divided by their number; bytes are the body on the wire "
             "without HTTP framing."
             % (bench.machine_line(), time.strftime("%Y-%m-%d %H:%M %Z"),
                bench.source_state(args.exporter), args.rounds), "",
             "| domains | series | encoding | body bytes | scrape ms (median) | scrape ms (p95) "
             "| exporter CPU ms/scrape |", "|---|---|---|---|---|---|---|"]
    level_tables = []
    for count in [int(n) for n in args.sizes.split(",")]:
        results, count_series, levels = measure(args, count, args.work_dir)
        for mode in ("plain", "gzip"):
            r = results[mode]
            parts.append("| %d | %d | %s | %d | %.1f | %.1f | %.1f |" % (
                count, count_series, mode, r["bytes"], statistics.median(r["ms"]),
                bench.p95(r["ms"]), r["ticks"] * 1000.0 / bench.TICKS_PER_SECOND / args.rounds))
        level_tables.append("### %d domains: the plain body compressed at each level by "
                            "`lme-gzip-cost` (the server's code, 64 KiB pieces)\n\n%s"
                            % (count, levels))
        bench.log("gzip N=%d done" % count)
    parts += [""] + level_tables
    text = "\n".join(parts) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    bench.log("written: %s (%.0f s)" % (args.out, time.time() - started))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bench.BenchError as e:
        bench.log("bench: %s" % e)
        sys.exit(1)
