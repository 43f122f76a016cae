#!/usr/bin/env python3
"""Series budget measured from the exporter's own output (docs/fleet.md).

Runs the exporter on a libvirt test-driver node of G guests (tests/load/gen-node.py --nova: every
tenth guest without a balloon, every guest with Nova metadata) once per collector configuration,
and counts in one scrape the series per host and per guest, and the bytes of the answer, plain
and when asked for gzip. With a Prometheus server binary it also measures what Prometheus adds:
the series it writes per target (up, scrape_*) and what the recording rules of
deploy/prometheus/libvirt-memory.rules.yml write per host and guest. Then it
projects a central store at H hosts of G guests scraped every I seconds: active series, samples
per second, scrape bytes per second.

Collector configurations: the default; each opt-in collector switched on (every
--collector.NAME flag in --help that adds a collector); each default collector switched off, when
the binary has --no-collector.NAME switches. Without such switches a default collector's share is
read from the family names (collector_of below); the table says which way each was measured.

    bench/series-budget.py --exporter build/src/libvirt-memory-exporter [--guests 100]
        [--hosts 10,1000,10000] [--interval 30] [--prometheus /usr/bin/prometheus | --no-prometheus]
        [--out bench/results/series-budget.md]
    bench/series-budget.py --url http://HOST:9177/metrics   (one running exporter, as it is)

Prints Markdown tables; --out also writes them to a file.
"""

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "prometheus"))
import promlib  # noqa: E402
import servers  # noqa: E402

GEN_NODE = ROOT / "tests" / "load" / "gen-node.py"
RULES = ROOT / "deploy" / "prometheus" / "libvirt-memory.rules.yml"
NOT_COMPRESSED = "not compressed by this build"
EXPORTER_ITSELF = "exporter itself"


# ------------------------------------------------------------------------------ reading a scrape

def collector_of(family, labels):
    """Which collector a series belongs to, from its names: used for the default collectors
    while the binary has no --no-collector switches. A series about a collector (its duration
    and success) belongs to that collector."""
    if "collector" in labels:
        return labels["collector"]
    if family.startswith("libvirt_node_memory_"):
        return "node_memory"
    if "openstack" in family:
        return "openstack_metadata"
    if family.startswith(("libvirt_domain", "libvirt_node_guest_")):
        return "domain_memory"
    return EXPORTER_ITSELF  # libvirt_up, build info, collections, process metrics


class Scrape:
    """One scrape's series, counted per host and per guest (series with a `domain` label)."""

    def __init__(self, text, plain_bytes, gzip_bytes):
        self.series = promlib.parse_exposition(text)
        self.plain_bytes = plain_bytes
        self.gzip_bytes = gzip_bytes  # None: the exporter did not compress
        self.gzip6_bytes = len(gzip.compress(text.encode(), compresslevel=6))
        per_domain = Counter(labels["domain"] for _, _, labels in self.series if "domain" in labels)
        self.guests = len(per_domain)
        self.guest_series = sum(per_domain.values())
        self.host_series = len(self.series) - self.guest_series
        # How many guests have how many series: guests with balloon stats have more.
        self.guest_classes = Counter(per_domain.values())
        self.collectors = {labels["collector"] for family, _, labels in self.series
                           if "collector" in labels}

    def by_collector(self):
        """{collector: [host series, guest series]} from the family names."""
        shares = {}
        for family, _, labels in self.series:
            share = shares.setdefault(collector_of(family, labels), [0, 0])
            share["domain" in labels] += 1
        return shares


def fetch(url):
    _, plain = servers.scrape(url)
    headers, wire = servers.scrape(url, gzip=True)
    compressed = headers.get("Content-Encoding", "").lower() == "gzip"
    text = plain.decode()
    if compressed:
        gzip.decompress(wire)  # the answer must be valid gzip
    return Scrape(text, len(plain), len(wire) if compressed else None)


# ---------------------------------------------------------------------- running the exporter

# Leaves out the exporter's own process_* and promhttp_* series, as node_exporter's flag does.
SELF_METRICS_FLAG = "--web.disable-exporter-metrics"


def collector_switches(help_text):
    """({name: flag} of --collector.NAME flags, {name: flag} of --no-collector.NAME flags) from
    the exporter's --help (CLI11). Options that take a value (--collector.timeout TEXT) are left
    out. Names are normalized to the `collector` label's spelling (underscores)."""
    on, off = {}, {}
    flag = re.compile(r"(?<![\w-])--(no-)?collector\.([a-z0-9][a-z0-9_-]*)(?:\{[^}]*\})?"
                      r"(?![\w-])(?!\s+[A-Z][A-Z0-9_]*\b)")
    for m in flag.finditer(help_text):
        name = m.group(2).replace("-", "_")
        (off if m.group(1) else on)[name] = f"--{m.group(1) or ''}collector.{m.group(2)}"
    return on, off


def measure_exporter(processes, exporter, node, name, flags):
    proc, address = servers.start_exporter(
        processes, exporter, name, [*flags, "--libvirt.uri", f"test://{node}"])
    try:
        url = f"http://{address}/metrics"
        servers.scrape(url)  # the first scrape reads what later ones cache (Nova metadata)
        return fetch(url), address, proc
    except Exception:
        processes.stop(proc)
        raise


def measure_prometheus(processes, prometheus, work, address, guests):
    """Scrapes one exporter with the rules loaded until every recording rule has written;
    returns the series Prometheus adds for that target (per target, recording rules)."""
    config = work / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ['{RULES}']
scrape_configs:
  - job_name: libvirt-memory-exporter
    static_configs:
      - targets: ['{address}']
""", encoding="utf-8")
    proc, url = prometheus.start(processes, "prometheus", work, lambda port: config)
    prom = promlib.Prometheus(url)
    records = [r["name"] for r in promlib.load_rules(ROOT) if r["kind"] == "record"]
    servers.wait_until(lambda: all(prom.result(name) for name in records), 60,
                       "every recording rule evaluated")
    held = prom.series(f'{{instance="{address}"}}')
    processes.stop(proc)
    rule_names = set(records)
    counts = Counter()
    for labels in held:
        name = labels["__name__"]
        kind = ("per target" if name in promlib.SCRAPE_SERIES else
                "recording rules" if name in rule_names else None)
        if kind:
            counts[(kind, "domain" in labels)] += 1
    return {"version": prometheus.version, "counts": counts, "guests": guests}


def run_configurations(args, work, processes):
    node = work / "node.xml"
    subprocess.run([sys.executable, str(GEN_NODE), "--nova", str(args.guests), str(node)],
                   check=True, timeout=120)
    help_text = subprocess.run([args.exporter, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    on, off = collector_switches(help_text)
    results, prometheus_added = [], None
    default, address, proc = measure_exporter(processes, args.exporter, node, "default", [])
    if default.guests != args.guests:
        raise servers.Failure(f"the exporter served {default.guests} of the node's {args.guests} guests")
    results.append(("default", [], default))
    if args.prometheus:
        prometheus_added = measure_prometheus(processes, servers.PrometheusBinary(args.prometheus),
                                              work, address, default.guests)
    processes.stop(proc)
    for name, flag in sorted(on.items()):
        if name in default.collectors:
            continue
        scrape, _, proc = measure_exporter(processes, args.exporter, node, f"on-{name}", [flag])
        processes.stop(proc)
        if name in scrape.collectors:
            results.append((f"+ {name}", [flag], scrape))
        else:
            print(f"note: {flag} added no collector '{name}'; left out", file=sys.stderr)
    for name, flag in sorted(off.items()):
        if name not in default.collectors:
            continue
        scrape, _, proc = measure_exporter(processes, args.exporter, node, f"off-{name}", [flag])
        processes.stop(proc)
        results.append((f"- {name}", [flag], scrape))
    if SELF_METRICS_FLAG in help_text:
        scrape, _, proc = measure_exporter(processes, args.exporter, node, "off-self",
                                           [SELF_METRICS_FLAG])
        processes.stop(proc)
        results.append(("- process_* and promhttp_*", [SELF_METRICS_FLAG], scrape))
    return results, prometheus_added, bool(off)


# ------------------------------------------------------------------------------------ reporting

def number(value, digits=0):
    if value is None:
        return "—"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{round(value):,}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def guest_classes(scrape):
    return ", ".join(f"{series} × {count}" for series, count in
                     sorted(scrape.guest_classes.items(), reverse=True)) or "no guests"


def scrape_table(results):
    rows = []
    for name, flags, s in results:
        gz = (f"{number(s.gzip_bytes)} ({s.gzip_bytes / s.plain_bytes:.0%})"
              if s.gzip_bytes is not None else NOT_COMPRESSED)
        rows.append([f"{name} `{' '.join(flags)}`" if flags else name, number(len(s.series)),
                     number(s.host_series), number(s.guest_series / max(s.guests, 1), 2),
                     guest_classes(s), number(s.plain_bytes), gz, number(s.gzip6_bytes)])
    return table(["configuration", "series", "per host", "per guest (mean)",
                  "series per guest × guests", "bytes plain", "bytes gzip (exporter)",
                  "gzip -6 of the text (this script, for comparison)"], rows)


def collector_table(results, switches):
    """Series each collector adds, per host and per guest."""
    default = results[0][2]
    guests = max(default.guests, 1)
    rows = []
    measured = {}
    for name, flags, s in results[1:]:
        if flags == [SELF_METRICS_FLAG]:
            continue  # not a collector: the scrape table shows what it saves
        sign = 1 if name.startswith("+") else -1
        collector = name[2:]
        measured[collector] = (sign * (s.host_series - default.host_series),
                               sign * (s.guest_series - default.guest_series), name[0])
    by_family = default.by_collector()
    for collector in sorted(set(by_family) | set(measured)):
        if collector in measured:
            host, guest, sign = measured[collector]
            how = ("switched on" if sign == "+" else "switched off") + ": difference to default"
            enabled = "opt-in" if sign == "+" else "default"
        else:
            host, guest = by_family[collector]
            how = "family names" if switches or collector == EXPORTER_ITSELF else \
                "family names (this binary has no --no-collector switches)"
            enabled = "always" if collector == EXPORTER_ITSELF else "default"
        rows.append([collector, enabled, number(host), number(guest / guests, 2), how])
    return table(["collector", "enabled", "series per host", "series per guest (mean)",
                  "measured by"], rows)


def unused_table(scrape, used):
    """Families the shipped dashboard and rules do not read: what metric_relabel_configs could
    drop where nobody else uses them."""
    guests = max(scrape.guests, 1)
    counts = {}
    for family, name, labels in scrape.series:
        if name not in used:
            share = counts.setdefault(family, [0, 0])
            share["domain" in labels] += 1
    rows = [[f"`{family}`", number(host), number(guest / guests, 2)]
            for family, (host, guest) in sorted(counts.items())]
    host = sum(h for h, _ in counts.values())
    guest = sum(g for _, g in counts.values())
    kept = len(scrape.series) - host - guest
    summary = (f"Keeping only what the dashboard and rules read: {number(kept)} of "
               f"{number(len(scrape.series))} series ({kept / len(scrape.series):.0%}), "
               f"{number(scrape.host_series - host)} per host and "
               f"{number((scrape.guest_series - guest) / guests, 2)} per guest.")
    return table(["family", "series per host", "series per guest (mean)"], rows), summary


def prometheus_rows(added):
    """(per host, per guest) series Prometheus adds for a target, by kind."""
    rows = []
    for kind in ("per target", "recording rules"):
        host = added["counts"][(kind, False)]
        guest = added["counts"][(kind, True)] / max(added["guests"], 1)
        rows.append((kind, host, guest))
    return rows


def prometheus_table(added):
    rows = [[kind, number(host), number(guest, 2)] for kind, host, guest in prometheus_rows(added)]
    return table(["written by Prometheus", "series per host", "series per guest (mean)"], rows)


def projection_table(results, added, hosts_list, interval):
    rules_host = rules_guest = target = 0
    if added:
        rows = {kind: (host, guest) for kind, host, guest in prometheus_rows(added)}
        target = rows["per target"][0]
        rules_host, rules_guest = rows["recording rules"]
    out = []
    for name, _, s in results:
        scraped = len(s.series) + target
        rules = rules_host + rules_guest * s.guests
        wire = s.gzip_bytes if s.gzip_bytes is not None else s.plain_bytes
        for hosts in hosts_list:
            out.append([name, number(hosts), number(hosts * s.guests),
                        number(hosts * (scraped + rules)), number(hosts * scraped / interval),
                        number(hosts * rules / interval),
                        f"{hosts * wire / interval / 1e6:,.2f} MB/s"
                        + ("" if s.gzip_bytes is not None else " (plain)")])
    return table(["configuration", "hosts", "guests", "active series",
                  f"scraped samples/s ({interval:g} s)", f"rule samples/s ({interval:g} s)",
                  "scrape traffic"], out)


def report(args, results, added, switches, source):
    s = results[0][2]
    parts = ["# Series budget", "", f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} with {source}.", ""]
    if args.url:
        parts.append(f"{s.guests} guests.")
    else:
        parts.append(f"Node: {s.guests} guests (`tests/load/gen-node.py --nova {args.guests}`: "
                     "every tenth without a balloon, all with Nova metadata); libvirt's test "
                     "driver reports all 13 balloon stats of a guest and lacks "
                     "`virNodeGetMemoryStats` (a QEMU host adds the 3 series "
                     "`libvirt_node_memory_{free,buffers,cached}_bytes`).")
    parts += ["", "## One scrape", "", scrape_table(results), ""]
    parts += ["## Per collector", "", collector_table(results, switches), ""]
    unused, summary = unused_table(s, promlib.used_metric_names(ROOT))
    parts += ["## Not read by the shipped dashboard and rules", "", unused, "", summary, ""]
    if added:
        parts += [f"## Added by Prometheus {added['version']} (measured)", "",
                  prometheus_table(added), "",
                  "Not counted: alerts, which add two series (`ALERTS`, `ALERTS_FOR_STATE`) per "
                  "pending or firing alert while it lasts.", ""]
    else:
        parts += ["Prometheus' own series were not measured (--no-prometheus): the projection "
                  "counts the exporter's series only.", ""]
    parts += [f"## Central store, every host scraped every {args.interval:g} s", "",
              projection_table(results, added, args.hosts, args.interval), "",
              "Active series: the exporter's series, Prometheus' per-target series and what the "
              "recording rules write, per host times the hosts. Samples per second: every series gets one "
              "sample per scrape or rule evaluation (evaluation interval = scrape interval "
              "assumed). Scrape traffic: exporter to scraper, compressed when the exporter "
              "compresses, else plain.", ""]
    return "\n".join(parts)


def describe(exporter):
    """The binary's version line and the source commit, for the report's title."""
    version = subprocess.run([exporter, "--version"], capture_output=True, text=True, timeout=30)
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True, timeout=30)
    line = (version.stdout or version.stderr).strip().splitlines()
    return f"`{line[0] if line else exporter}`, source {commit.stdout.strip() or 'unknown'}"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--exporter", help="the exporter binary, run on a generated node")
    what.add_argument("--url", help="measure one running exporter's metrics URL as it is")
    parser.add_argument("--guests", type=int, default=100)
    parser.add_argument("--hosts", default="10,1000,10000",
                        help="host counts of the projection, comma-separated")
    parser.add_argument("--interval", type=float, default=30.0, help="scrape interval, seconds")
    parser.add_argument("--prometheus", default=os.environ.get("PROMETHEUS", "/usr/bin/prometheus"))
    parser.add_argument("--no-prometheus", dest="prometheus", action="store_const", const=None)
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args(argv)
    args.hosts = [int(h) for h in args.hosts.split(",")]
    if args.guests < 10 or args.interval <= 0:
        parser.error("--guests must be at least 10 (one guest in ten has no balloon), "
                     "--interval positive")
    if args.prometheus and not os.access(args.prometheus, os.X_OK):
        parser.error(f"{args.prometheus} is not executable (or pass --no-prometheus)")
    return args


def main(argv):
    args = parse_args(argv)
    servers.stop_on_signals()
    if args.url:
        scrape = fetch(args.url)
        args.guests = scrape.guests
        text = report(args, [("as running", [], scrape)], None, False, f"one scrape of {args.url}")
    else:
        with tempfile.TemporaryDirectory(prefix="lme-budget.") as work, \
                servers.Processes(Path(work)) as processes:
            try:
                results, added, switches = run_configurations(args, Path(work), processes)
            except servers.Failure as e:
                processes.print_logs()
                print(f"FAIL: {e}", file=sys.stderr)
                return 1
        text = report(args, results, added, switches, describe(args.exporter))
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
