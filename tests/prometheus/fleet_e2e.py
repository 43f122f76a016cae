#!/usr/bin/env python3
"""End-to-end: a sharded fleet with a central store, run from the example configurations.

Four exporters stand for four hypervisors: test-driver nodes written by tests/load/gen-node.py,
each with guests of its own (Nova metadata included, so the exporters run with
--collector.openstack-metadata and every dashboard row has data). They are discovered through a
file_sd file. Two Prometheus servers in agent mode, configured from
deploy/prometheus/prometheus-agent-shard.yml as shards 0 and 1 of 2, split them with hashmod and
remote_write to a central Prometheus configured from deploy/prometheus/prometheus-central.yml and
started with the remote-write receiver. Three hosts are listed first; the fourth is added to the
file_sd file while everything runs.

Only what a fast test must change is changed in the examples (1 s intervals, loopback addresses,
file paths, the shard number), and each change is checked to have found its place, so the test
fails when an example changes shape instead of silently testing something else.

Checks: each agent scrapes exactly the hosts hashmod gives its shard; on the central server every
host's series are exactly those the exporter serves plus Prometheus' own per-target series, once
each and labelled with the right shard (no duplicates), `instance` labels are distinct, the
fourth host arrives without a restart of any server, every dashboard query (variables
substituted per host) and every recording rule returns data for all four hosts (except the
queries promlib.ALLOWED_EMPTY allows to be empty on the test driver), and the balloon-stats alert
is pending on every host for its guests without a balloon.

All processes listen on 127.0.0.1, on ports chosen at run time, and are stopped by PID; every
wait is bounded polling. Usage:
    fleet_e2e.py --exporter BINARY --source-dir DIR [--prometheus BINARY]
"""

import argparse
import copy
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import promlib  # noqa: E402
import servers  # noqa: E402
from servers import Failure  # noqa: E402

try:
    import yaml
except ImportError:
    sys.exit("FAIL: python3-yaml is missing (scripts/install-deps.sh --test installs it)")

EXAMPLES = Path("deploy/prometheus")
AGENT_EXAMPLE = EXAMPLES / "prometheus-agent-shard.yml"
CENTRAL_EXAMPLE = EXAMPLES / "prometheus-central.yml"
GEN_NODE = Path("tests/load/gen-node.py")
# The examples' self-scrape target: each server scrapes itself on the port it listens on.
SELF_TARGET = "localhost:9090"
SHARDS = 2
# (hypervisor number, guests): different guests on each host, at least ten each so that every
# host has a guest without a balloon (gen-node makes every tenth one so).
HOSTS = [(1, 10), (2, 11), (3, 12), (4, 13)]
FAST = "1s"  # scrape and evaluation interval
WAIT = 60  # seconds any one state of the fleet may take to appear on a loaded machine


class Checks:
    def __init__(self):
        self.passed, self.failed = 0, []

    def __call__(self, condition, message, detail=""):
        if condition:
            self.passed += 1
            print(f"ok: {message}")
        else:
            self.failed.append(message)
            print(f"FAIL: {message}{': ' + str(detail) if detail else ''}")
        return condition


def expected_shard(address, modulus=SHARDS):
    """Prometheus' hashmod: the last 8 bytes of the MD5 of the source value, big-endian, mod N."""
    return int.from_bytes(hashlib.md5(address.encode()).digest()[8:], "big") % modulus


# ------------------------------------------------------------------ configurations from examples

def load_example(src, path):
    with open(src / path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def write_yaml(path, data):
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def scrape_self_on(config, port):
    """Points the example's self-scrape target at the port the server really listens on."""
    found = 0
    for job in config.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            targets = static.get("targets", [])
            found += targets.count(SELF_TARGET)
            static["targets"] = [f"127.0.0.1:{port}" if t == SELF_TARGET else t for t in targets]
    if found != 1:
        raise Failure(f"expected one self-scrape target {SELF_TARGET} in the example, found {found}")


def hypervisor_job(config, where):
    jobs = [j for j in config.get("scrape_configs", []) if "file_sd_configs" in j]
    if len(jobs) != 1:
        raise Failure(f"{where}: expected one job with file_sd_configs, found {len(jobs)}")
    return jobs[0]


def central_config(src, example, port, work):
    config = copy.deepcopy(example)
    config["global"].update(scrape_interval=FAST, evaluation_interval=FAST)
    # The rules path is relative to the example's directory; the copy lives elsewhere.
    config["rule_files"] = [str(src / EXAMPLES / f) for f in config["rule_files"]]
    scrape_self_on(config, port)
    return write_yaml(work / "central.yml", config)


def agent_config(example, shard, port, targets_glob, central_url, work):
    config = copy.deepcopy(example)
    config["global"].update(scrape_interval=FAST, scrape_timeout=FAST)
    if "shard" not in config["global"].get("external_labels", {}):
        raise Failure(f"{AGENT_EXAMPLE}: no external label 'shard'")
    config["global"]["external_labels"]["shard"] = str(shard)
    job = hypervisor_job(config, AGENT_EXAMPLE)
    job["file_sd_configs"] = [{"files": [str(targets_glob)]}]
    relabel = job.get("relabel_configs", [])
    hashmods = [r for r in relabel if r.get("action") == "hashmod"]
    if len(hashmods) != 1 or hashmods[0].get("source_labels") != ["__address__"]:
        raise Failure(f"{AGENT_EXAMPLE}: expected one hashmod over __address__ (the test "
                      f"predicts the split from the address), found {hashmods}")
    hashmods[0]["modulus"] = SHARDS
    keeps = [r for r in relabel if r.get("action") == "keep"
             and r.get("source_labels") == [hashmods[0]["target_label"]]]
    if len(keeps) != 1:
        raise Failure(f"{AGENT_EXAMPLE}: expected one keep rule on the hashmod label, found {keeps}")
    keeps[0]["regex"] = str(shard)
    scrape_self_on(config, port)
    writes = config.get("remote_write", [])
    if len(writes) != 1:
        raise Failure(f"{AGENT_EXAMPLE}: expected one remote_write, found {len(writes)}")
    writes[0]["url"] = f"{central_url}/api/v1/write"
    # Send within a second, not the default 5 s, to keep the test short.
    writes[0].setdefault("queue_config", {})["batch_send_deadline"] = FAST
    return write_yaml(work / f"agent-{shard}.yml", config)


def write_targets(path, addresses):
    """Replaces the file_sd file atomically, as docs/fleet.md tells operators to."""
    temporary = path.with_name(f".{path.name}.tmp")
    write_yaml(temporary, [{"targets": sorted(addresses)}])
    os.replace(temporary, path)


# ------------------------------------------------------------------------------------- the fleet

class Host:
    def __init__(self, number, guests, node, domains):
        self.number, self.guests, self.node, self.domains = number, guests, node, domains
        self.process = self.address = None

    @property
    def shard(self):
        return expected_shard(self.address)


def make_hosts(src, work):
    hosts = []
    for number, guests in HOSTS:
        node = work / f"node-{number}.xml"
        subprocess.run([sys.executable, str(src / GEN_NODE), "--host", str(number), "--nova",
                        str(guests), str(node)], check=True, timeout=60)
        domains = {d.findtext("name") for d in ElementTree.parse(node).getroot().iter("domain")}
        hosts.append(Host(number, guests, node, domains))
    return hosts


def start_exporter(processes, exporter, host, attempt=0):
    name = f"exporter-{host.number}" + (f"-{attempt}" if attempt else "")
    host.process, host.address = servers.start_exporter(
        processes, exporter, name,
        ["--collector.openstack-metadata", "--libvirt.uri", f"test://{host.node}"])


def start_exporters(processes, exporter, hosts):
    """Starts one exporter per host. The kernel picks the ports, so hashmod may put every host in
    one shard; the last exporter is then restarted on another port (bounded), so that the test
    always splits the fleet."""
    for host in hosts:
        start_exporter(processes, exporter, host)
    for attempt in range(1, 11):
        if len({h.shard for h in hosts}) == SHARDS:
            return
        processes.stop(hosts[-1].process)
        start_exporter(processes, exporter, hosts[-1], attempt)
    raise Failure("ten ports in a row hashed into one shard")


def exporter_series(host):
    """The series one scrape of the exporter serves, as (name, sorted labels)."""
    _, body = servers.scrape(f"http://{host.address}/metrics")
    return {(name, tuple(sorted(labels.items())))
            for _, name, labels in promlib.parse_exposition(body.decode())}


def central_series(prom, job, host, rule_outputs):
    """Series the agents sent the central server for a host's target, as (name, labels without
    the target and shard labels) -> [shard of each copy]. Series the central server's own rules
    write (recorded series, ALERTS) keep the host's labels too, and are left out."""
    found = {}
    for labels in prom.series(f'{{job="{job}", instance="{host.address}"}}'):
        name = labels.pop("__name__")
        if name in rule_outputs:
            continue
        shard = labels.pop("shard", None)
        labels.pop("job", None)
        labels.pop("instance", None)
        found.setdefault((name, tuple(sorted(labels.items()))), []).append(shard)
    return found


def scraped_hosts(prom, job, hosts, at_least=1):
    """Hosts with at least `at_least` samples of `up == 1` on the central server."""
    up = {r["metric"]["instance"]: float(r["value"][1]) for r in prom.result(
        f'count_over_time(up{{job="{job}"}}[1m]) and up{{job="{job}"}} == 1')}
    return {h.address for h in hosts if up.get(h.address, 0) >= at_least}


def agent_targets(agent_url, job):
    answer = promlib.Prometheus(agent_url).get("/api/v1/targets")
    return {t["labels"].get("instance") for t in answer.get("data", {}).get("activeTargets", [])
            if t["labels"].get("job") == job}


# ----------------------------------------------------------------------------------- the checks

def check_shards(check, agents, job, hosts):
    for shard, (_, url) in enumerate(agents):
        expected = {h.address for h in hosts if h.shard == shard}
        actual = agent_targets(url, job)
        check(actual == expected, f"agent {shard} scrapes exactly its hashmod share "
              f"{sorted(expected)}", f"it scrapes {sorted(actual)}")


def check_series(check, prom, src, job, hosts):
    rule_outputs = {r["name"] for r in promlib.load_rules(src) if r["kind"] == "record"}
    rule_outputs |= promlib.PROMETHEUS_SERIES - promlib.SCRAPE_SERIES
    instances = {r["metric"].get("instance") for r in prom.result(f'up{{job="{job}"}}')}
    check(instances == {h.address for h in hosts} and len(instances) == len(hosts),
          f"{len(hosts)} distinct instance labels on the central server", sorted(instances))
    for host in hosts:
        served = exporter_series(host)
        expected = served | {(name, ()) for name in promlib.SCRAPE_SERIES}
        held = central_series(prom, job, host, rule_outputs)
        copies = {key: shards for key, shards in held.items() if len(shards) != 1}
        wrong = {key: shards for key, shards in held.items() if shards != [str(host.shard)]}
        check(not copies, f"host {host.number}: no series twice on the central server",
              list(copies.items())[:3])
        check(not wrong, f"host {host.number}: every series from shard {host.shard}",
              list(wrong.items())[:3])
        check(set(held) == expected,
              f"host {host.number}: the central server holds exactly the {len(served)} series "
              f"the exporter serves plus {len(promlib.SCRAPE_SERIES)} per-target series",
              f"missing {sorted(expected - set(held))[:3]}, extra {sorted(set(held) - expected)[:3]}")
        guests = {}
        for r in prom.result(f'count by (domain) (libvirt_domain_info{{instance="{host.address}"}})'):
            guests[r["metric"]["domain"]] = r["value"][1]
        check(set(guests) == host.domains and set(guests.values()) == {"1"},
              f"host {host.number}: its {len(host.domains)} guests, each once", guests)


def check_rules(check, prom, src, hosts):
    every = {h.address for h in hosts}
    for rule in promlib.load_rules(src):
        if rule["kind"] != "record":
            continue
        got = {r["metric"].get("instance") for r in prom.result(f'count by (instance) ({rule["name"]})')}
        check(got == every, f"recording rule {rule['name']}: data for all {len(hosts)} hosts",
              f"hosts {sorted(got, key=str)}")
    missing = {(r["metric"]["instance"], r["metric"]["domain"])
               for r in prom.result("libvirt_domain_memory_stats_reported == 0")}
    alerts = prom.get("/api/v1/alerts").get("data", {}).get("alerts", [])
    pending = {(a["labels"].get("instance"), a["labels"].get("domain")) for a in alerts
               if a["labels"].get("alertname") == "LibvirtGuestBalloonStatsMissing"}
    check({i for i, _ in missing} == every and pending == missing,
          f"LibvirtGuestBalloonStatsMissing pending for the {len(missing)} guests without a "
          f"balloon, on all {len(hosts)} hosts", f"pending {sorted(pending)}")


def check_dashboard(check, prom, src, job, hosts):
    dashboard = promlib.load_dashboard(src)
    variable = {v["name"]: v for v in promlib.query_variables(dashboard)}["instance"]
    query = promlib.substitute(promlib.variable_query(variable),
                               {"job": promlib.grafana_regex_escape(job)})
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
    options = prom.get(f"/api/v1/label/{m.group(2)}/values", {"match[]": m.group(1)}).get("data")
    check(set(options or []) == {h.address for h in hosts},
          f"the dashboard's Host variable offers the {len(hosts)} hosts", options)
    for host in hosts:
        values = dict(promlib.GRAFANA_BUILTINS, job=promlib.grafana_regex_escape(job),
                      instance=promlib.grafana_regex_escape(host.address), domain=".*")
        queries = empty = 0
        for _, panel in promlib.iter_panels_with_row(dashboard):
            for target in promlib.panel_targets(panel):
                key = f"panel '{panel['title']}' {target.get('refId')}"
                expr = promlib.substitute(target["expr"], values)
                answer = (prom.query(expr) if target.get("instant") else prom.query_range(expr))
                result = answer.get("data", {}).get("result", [])
                others = {r["metric"].get("instance") for r in result} - {None, host.address}
                if answer.get("status") != "success":
                    check(False, f"host {host.number}: {key}", answer.get("error"))
                elif key in promlib.ALLOWED_EMPTY:
                    empty += 1
                    check(not result, f"host {host.number}: {key} empty as allowed "
                          f"({promlib.ALLOWED_EMPTY[key]})", f"{len(result)} series")
                else:
                    queries += 1
                    check(result and not others, f"host {host.number}: {key} has data, "
                          f"of this host only", f"{len(result)} series, other hosts {others}")
        print(f"host {host.number}: {queries} dashboard queries with data, {empty} allowed empty")


# ------------------------------------------------------------------------------------------ main

def run(args, work, processes, check):
    src = Path(args.source_dir).resolve()
    prometheus = servers.PrometheusBinary(args.prometheus)
    started = time.monotonic()

    def stamp(what):
        print(f"[{time.monotonic() - started:5.1f} s] {what}", flush=True)

    print(f"Prometheus {prometheus.version}: agent {prometheus.agent_flags}, "
          f"receiver {prometheus.receiver_flags}")
    hosts = make_hosts(src, work)
    start_exporters(processes, args.exporter, hosts)
    for host in hosts:
        print(f"host {host.number}: {host.guests} guests, exporter {host.address}, shard {host.shard}")
    stamp("exporters started")

    central_example = load_example(src, CENTRAL_EXAMPLE)
    central = prometheus.start(processes, "central", work, receiver=True,
                               write_config=lambda port: central_config(src, central_example,
                                                                        port, work))
    prom = promlib.Prometheus(central[1])
    stamp(f"central server {central[1]}")

    targets_dir = work / "targets"
    targets_dir.mkdir()
    targets_file = targets_dir / "hypervisors.yml"
    first, added = hosts[:-1], hosts[-1]
    write_targets(targets_file, [h.address for h in first])
    agent_example = load_example(src, AGENT_EXAMPLE)
    job = hypervisor_job(agent_example, AGENT_EXAMPLE)["job_name"]
    agents = [prometheus.start(processes, f"agent-{shard}", work, agent=True,
                               write_config=lambda port, shard=shard: agent_config(
                                   agent_example, shard, port, targets_dir / "*.yml",
                                   central[1], work))
              for shard in range(SHARDS)]
    stamp(f"agents {[url for _, url in agents]}")

    first_addresses = {h.address for h in first}
    servers.wait_until(lambda: scraped_hosts(prom, job, first) == first_addresses, WAIT,
                       "the first three hosts on the central server")
    stamp("first three hosts on the central server")
    check_shards(check, agents, job, first)

    pids = [p.pid for p, _ in [central, *agents]]
    write_targets(targets_file, [h.address for h in hosts])
    servers.wait_until(lambda: added.address in scraped_hosts(prom, job, hosts), WAIT,
                       "the added host on the central server")
    stamp(f"host {added.number} added to the file_sd file is on the central server")
    check(all(p.poll() is None for p, _ in [central, *agents]) and
          pids == [p.pid for p, _ in [central, *agents]],
          "the added host arrived without a restart of any server (same PIDs, all running)")
    check_shards(check, agents, job, hosts)

    # rate() and the swap rules need a few samples of every host; the rules one evaluation.
    every = {h.address for h in hosts}
    records = [r["name"] for r in promlib.load_rules(src) if r["kind"] == "record"]
    servers.wait_until(
        lambda: scraped_hosts(prom, job, hosts, at_least=5) == every and all(
            {r["metric"].get("instance") for r in prom.result(f"count by (instance) ({name})")}
            == every for name in records),
        WAIT, "five samples of every host and every recording rule for every host")
    stamp("five samples of every host, recording rules evaluated")

    check_series(check, prom, src, job, hosts)
    check_rules(check, prom, src, hosts)
    check_dashboard(check, prom, src, job, hosts)
    stamp("checks done")
    # The agents first, while the server they flush to on the way out still runs.
    for proc, _ in [*agents, central]:
        processes.stop(proc)
    processes.stop_all()
    stamp("every process stopped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--prometheus", default=os.environ.get("PROMETHEUS", "/usr/bin/prometheus"))
    args = parser.parse_args()
    servers.stop_on_signals()
    check = Checks()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lme-fleet.") as work:
        with servers.Processes(Path(work)) as processes:
            try:
                run(args, Path(work), processes, check)
            except Failure as e:
                check(False, str(e))
            if check.failed:
                processes.print_logs()
    print(f"{check.passed} passed, {len(check.failed)} failed, "
          f"{time.monotonic() - started:.1f} s in all")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
