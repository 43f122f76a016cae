#!/usr/bin/env python3
"""Evaluates the dashboard and the rules against a live Prometheus that scrapes the exporter on
the demo node (started by run-e2e.sh).

Fails when an expression does not parse, when one returns nothing although the demo node
guarantees data (except the short allow-list below, whose expressions must then return nothing),
when a rule group or rule is not healthy, or when the rules Prometheus loaded differ from what the
static checks read from the file.
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import promlib  # noqa: E402

# Expressions that legitimately return nothing on the demo node: alerts for trouble the test
# driver never has. They must still parse, and they must stay empty: an alert firing on the
# healthy demo node is a bug.
ALLOWED_EMPTY = {
    "alert LibvirtGuestMemoryPressure": "no demo guest has a working set above 90%",
    "alert LibvirtGuestSwapping": "the test driver reports no swap traffic",
    "alert LibvirtMemoryExporterDown": "the exporter is up",
    "alert LibvirtDown": "the test driver is always reachable",
    "alert LibvirtMemoryExporterSlowScrape": "demo scrapes take milliseconds",
}

# Values Grafana would put in; $__rate_interval is at least four scrape intervals in Grafana, and
# one minute covers every sample this short test has.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

passed = 0
failed = []


def ok(message):
    global passed
    passed += 1
    print(f"ok: {message}")


def fail(message):
    failed.append(message)
    print(f"FAIL: {message}")


class Prometheus:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, params=None, post=False):
        data = None
        url = f"{self.url}{path}"
        if params:
            encoded = urllib.parse.urlencode(params, doseq=True)
            if post:
                data = encoded.encode()
            else:
                url = f"{url}?{encoded}"
        request = urllib.request.Request(url, data=data)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            # Prometheus answers a bad query with 400 and a JSON error body.
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}"}

    def query(self, expr):
        return self.get("/api/v1/query", {"query": expr}, post=True)

    def query_range(self, expr, seconds=30, step=1):
        end = time.time()
        return self.get("/api/v1/query_range",
                        {"query": expr, "start": end - seconds, "end": end, "step": step}, post=True)


def grafana_regex_escape(value):
    """What Grafana's Prometheus datasource does to a variable value used in =~ (one value)."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def evaluate(prom, key, expr, kind="instant"):
    """Runs expr; returns the result list, or None after reporting a failure."""
    answer = prom.query_range(expr) if kind == "range" else prom.query(expr)
    if answer.get("status") != "success":
        fail(f"{key}: {answer.get('errorType', '')} {answer.get('error')} in {expr!r}")
        return None
    result = answer["data"]["result"]
    if key in ALLOWED_EMPTY:
        if result:
            fail(f"{key} returns {len(result)} series on the healthy demo node: {expr!r}")
        else:
            ok(f"{key}: valid, empty as expected ({ALLOWED_EMPTY[key]})")
    elif not result:
        fail(f"{key} returns no data on the demo node: {expr!r}")
    else:
        ok(f"{key}: {len(result)} series")
    return result


def wait_for_rules(prom, recorded, deadline):
    """Until every rule has been evaluated and every recording rule has produced a sample."""
    while time.time() < deadline:
        groups = prom.get("/api/v1/rules").get("data", {}).get("groups", [])
        evaluated = all(not r.get("lastEvaluation", "").startswith("0001")
                        for g in groups for r in g.get("rules", []))
        present = all(prom.query(name).get("data", {}).get("result") for name in recorded)
        if groups and evaluated and present:
            return
        time.sleep(0.5)


def check_rules(prom, file_rules):
    groups = prom.get("/api/v1/rules").get("data", {}).get("groups", [])
    loaded = {}
    for group in groups:
        for rule in group.get("rules", []):
            kind = "alert" if rule.get("type") == "alerting" else "record"
            loaded[(group["name"], kind, rule["name"])] = rule
    expected = {(r["group"], r["kind"], r["name"]) for r in file_rules}
    if set(loaded) == expected:
        ok(f"Prometheus loaded the {len(expected)} rules in {len(groups)} groups the file declares")
    else:
        fail(f"rules loaded by Prometheus {sorted(set(loaded) ^ expected)} differ from the file")
    for (group, kind, name), rule in sorted(loaded.items()):
        if rule.get("health") == "ok" and not rule.get("lastError"):
            ok(f"{kind} {name} (group {group}): health ok")
        else:
            fail(f"{kind} {name} (group {group}): health {rule.get('health')}: {rule.get('lastError')}")
    for group in groups:
        if group.get("lastEvaluation", "").startswith("0001"):
            fail(f"group {group['name']} was never evaluated")
    return loaded


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--instance", required=True)
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    prom = Prometheus(args.prometheus)

    file_rules = promlib.load_rules(args.source_dir)
    recorded = [r["name"] for r in file_rules if r["kind"] == "record"]
    wait_for_rules(prom, recorded, time.time() + 20)

    # --- the exporter is a healthy target
    targets = prom.get("/api/v1/targets").get("data", {}).get("activeTargets", [])
    if [t.get("health") for t in targets] == ["up"]:
        ok(f"target {args.instance} is up")
    else:
        fail(f"targets: {[(t.get('scrapeUrl'), t.get('health'), t.get('lastError')) for t in targets]}")

    # The test server must not be reconfigurable from outside: the lifecycle API stays off.
    try:
        urllib.request.urlopen(urllib.request.Request(f"{prom.url}/-/reload", data=b""), timeout=5)
        fail("the lifecycle API is enabled (POST /-/reload succeeded)")
    except urllib.error.HTTPError as e:
        if e.code == 403:
            ok("lifecycle API off (POST /-/reload: 403)")
        else:
            fail(f"POST /-/reload answered {e.code}, expected 403")

    # --- rules: loaded, healthy, every expression valid and (outside the allow-list) non-empty
    loaded = check_rules(prom, file_rules)
    for (_, kind, name), rule in sorted(loaded.items()):
        evaluate(prom, f"{kind} {name}", rule["query"])
    for name in recorded:
        evaluate(prom, f"recorded series {name}", name)
    for key in ALLOWED_EMPTY:
        if not any(f"{kind} {name}" == key for (_, kind, name) in loaded):
            fail(f"allow-list entry '{key}' matches no rule: remove it")

    # The one alert the demo node should trip: guests without balloon stats, pending for its 'for'.
    no_stats = {r["metric"]["domain"] for r in
                prom.query("libvirt_domain_memory_stats_reported == 0")["data"]["result"]}
    alerts = prom.get("/api/v1/alerts").get("data", {}).get("alerts", [])
    active = {(a["labels"]["alertname"], a["labels"].get("domain")) for a in alerts}
    expected = {("LibvirtGuestBalloonStatsMissing", d) for d in no_stats}
    if no_stats and active == expected and all(a["state"] == "pending" for a in alerts):
        ok(f"only LibvirtGuestBalloonStatsMissing is active, pending, for {sorted(no_stats)}")
    else:
        fail(f"active alerts {sorted(active)}, expected pending {sorted(expected)}")

    # --- dashboard: variables resolve, every panel query is valid and has data
    dashboard = promlib.load_dashboard(args.source_dir)
    values = dict(GRAFANA_BUILTINS, job=grafana_regex_escape(args.job),
                  instance=grafana_regex_escape(args.instance), domain=".*")
    for variable in promlib.query_variables(dashboard):
        query = promlib.substitute(promlib.variable_query(variable), values)
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
        if not m:
            fail(f"variable {variable['name']}: cannot resolve {query!r}")
            continue
        answer = prom.get(f"/api/v1/label/{m.group(2)}/values", {"match[]": m.group(1)})
        options = answer.get("data") or []
        if answer.get("status") == "success" and options:
            ok(f"variable {variable['name']}: {len(options)} options")
        else:
            fail(f"variable {variable['name']}: no options from {query!r}: {answer.get('error')}")

    exprs = []
    for panel in promlib.iter_panels(dashboard):
        for target in promlib.panel_targets(panel):
            key = f"panel '{panel['title']}' {target.get('refId')}"
            try:
                expr = promlib.substitute(target["expr"], values)
            except KeyError as e:
                fail(f"{key}: {e}")
                continue
            exprs.append(expr)
            evaluate(prom, key, expr, "instant" if target.get("instant") else "range")

    # --- every metric the expressions name exists, so the name checks against docs/metrics.md
    # in check_dashboard_rules.py looked at real series
    names = set()
    for expr in exprs + [r["expr"] for r in file_rules]:
        names |= promlib.metric_names(expr)
    for name in sorted(names):
        result = prom.query(f'count({{__name__="{name}"}})').get("data", {}).get("result")
        if result:
            ok(f"metric {name}: {result[0]['value'][1]} series")
        else:
            fail(f"metric {name} used by the dashboard or rules has no series")

    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
