#!/usr/bin/env python3
"""What reading the domain definitions costs (issue 12), through
bench/run.sh --definitions.

The stats status needs each domain's balloon device and stats period, which
are in its definition (virDomainGetXMLDesc), not in the stats. The exporter
reads a definition once per domain start and again after
--libvirt.definition-refresh (spread over the last quarter of it), so a
scrape pays for definitions only (a) the first time it sees the domains and
(b) when some are due. For each node size and transport (in-process test
driver, and the same node through the project's private libvirtd, where every
call is an RPC) this prints:

- the first scrape of a new exporter (every definition read), wall time and
  the domain_memory collector's own duration;
- the steady state with the default refresh (no definition read): median and
  p95 of the scrapes after it;
- the worst case of a refresh: --libvirt.definition-refresh 1ms, every
  definition read in every scrape (a real refresh spreads them over a quarter
  of the interval, e.g. 75 s of 5 minutes, so any one scrape reads a fraction).
"""
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the node files, processes and line programs)

READS = re.compile(rb"^libvirt_memory_exporter_domain_definition_reads_total (\S+)$", re.M)


def reads_of(body):
    match = READS.search(body)
    if not match:
        raise bench.BenchError("no libvirt_memory_exporter_domain_definition_reads_total")
    return float(match.group(1))


def run_exporter(args, uri, refresh, tag, rounds):
    """(first scrape ms, its collector ms, its reads, [later ms], [later
    collector ms], reads per later scrape)."""
    client = bench.ScrapeClient(args.scrape_client)
    try:
        exporter = bench.start_ours(args, client, uri, "definitions-%s.log" % tag,
                                    ["--libvirt.definition-refresh", refresh])
    except BaseException:
        client.close()
        raise
    try:
        first_ms = exporter.measure()
        first_collector = bench.our_collector_seconds(exporter.body) * 1e3
        first_reads = reads_of(exporter.body)
        later, collector = [], []
        for _ in range(rounds):
            bench.settle([exporter.pid])
            later.append(exporter.measure())
            collector.append(bench.our_collector_seconds(exporter.body) * 1e3)
        per_scrape = (reads_of(exporter.body) - first_reads) / rounds
        return first_ms, first_collector, first_reads, later, collector, per_scrape
    finally:
        exporter.close()
        client.close()


def main():
    parser = bench.side_parser(__doc__, 15, "definitions.md")
    parser.add_argument("--transports", default="in-process,daemon")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    transports = [t for t in args.transports.split(",") if t]
    parts = ["# Domain definitions: what the stats status costs per scrape", "",
             "`bench/run.sh --definitions` on %s, %s; %s. N running test-driver domains (every "
             "tenth without a balloon device), in-process and through the private libvirtd; "
             "%d scrapes after the first, each on a new connection, timed inside lme-scrape. "
             "`collector` is the exporter's own `domain_memory` collector duration."
             % (bench.machine_line(), time.strftime("%Y-%m-%d %H:%M %Z"),
                bench.source_state(args.exporter), args.rounds), "",
             "| transport | domains | first scrape ms (collector) | definitions read | "
             "steady ms median / p95 (collector) | reads/scrape | every definition every "
             "scrape ms median / p95 (collector) | reads/scrape |",
             "|---|---|---|---|---|---|---|---|"]
    daemon = None
    try:
        if "daemon" in transports:
            daemon = bench.PrivateDaemon(args.work_dir)
            daemon.start()
        for count in sizes:
            node = os.path.join(args.work_dir, "node-%d.xml" % count)
            bench.write_node(node, count)
            for transport in transports:
                uri = ("test://" + node if transport == "in-process" else
                       "test+unix://%s?socket=%s" % (node, daemon.socket()))
                tag = "%s-%d" % (transport, count)
                first, first_c, first_reads, steady, steady_c, steady_reads = run_exporter(
                    args, uri, "5m", tag + "-5m", args.rounds)
                _, _, _, every, every_c, every_reads = run_exporter(
                    args, uri, "1ms", tag + "-1ms", args.rounds)
                parts.append(
                    "| %s | %d | %.1f (%.1f) | %d | %.1f / %.1f (%.1f) | %.0f | %.1f / %.1f (%.1f) "
                    "| %.0f |" % (transport, count, first, first_c, first_reads,
                                  statistics.median(steady), bench.p95(steady),
                                  statistics.median(steady_c), steady_reads,
                                  statistics.median(every), bench.p95(every),
                                  statistics.median(every_c), every_reads))
                bench.log("definitions %s N=%d done" % (transport, count))
    finally:
        if daemon is not None:
            daemon.stop()
    text = "\n".join(parts) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bench.BenchError as error:
        bench.log("bench: %s" % error)
        sys.exit(1)
