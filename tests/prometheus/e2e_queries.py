#!/usr/bin/env python3
"""Evaluates the dashboard and the rules against a live Prometheus that scrapes two exporters
(started by run-e2e.sh): one on the demo node and one with the OpenStack collector on the Nova
fixture tests/fixtures/openstack-node.xml.

Fails when an expression does not parse, when one returns nothing although the demo node
guarantees data (except the short allow-list promlib.ALLOWED_EMPTY, whose expressions must then
return nothing), when a rule group or rule is not healthy, when the rules Prometheus loaded differ
from what the static checks read from the file, when the OpenStack panels show no project on the
Nova fixture (or anything on the demo node), or when the queries of a merged table would not join
into rows.
"""

import argparse
import re
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import promlib  # noqa: E402

# examples/demo-node.xml holds a paused and a shut-off guest, so the Domains panels show more
# than running guests.
DEMO_STATES = {"running", "paused", "shutoff"}

# Dashboard rows about the opt-in OpenStack collector: evaluated against the Nova fixture, where
# every query must return data, and against the demo node, where they must return nothing (its
# exporter runs without the collector), which also shows that they honour $instance.
OPENSTACK_ROWS = {"OpenStack"}
# The projects of the fixture's valid Nova instances (the third instance's metadata is malformed).
OPENSTACK_PROJECTS = {"webshop"}

# Alerts expected to be pending (not firing: the test is shorter than every 'for') per target, on
# top of LibvirtGuestBalloonStatsMissing for each guest with `reported == 0`. The Nova fixture's
# 3 GiB test node hosts guests with 11 GiB of current memory.
PENDING_HOST_ALERTS = {"openstack": {"LibvirtHostGuestMemoryHigh"}, "demo": set()}

passed = 0
failed = []


def ok(message):
    global passed
    passed += 1
    print(f"ok: {message}")


def fail(message):
    failed.append(message)
    print(f"FAIL: {message}")


def evaluate(prom, key, expr, kind="instant", empty_reason=None, where="on the demo node"):
    """Runs expr; returns the result list, or None after reporting a failure. The result must be
    empty when key is allow-listed or an empty_reason is given, else it must have data."""
    answer = prom.query_range(expr) if kind == "range" else prom.query(expr)
    if answer.get("status") != "success":
        fail(f"{key}: {answer.get('errorType', '')} {answer.get('error')} in {expr!r}")
        return None
    result = answer["data"]["result"]
    empty_reason = empty_reason or promlib.ALLOWED_EMPTY.get(key)
    if empty_reason:
        if result:
            fail(f"{key} returns {len(result)} series {where}: {expr!r}")
        else:
            ok(f"{key}: valid, empty {where} as expected ({empty_reason})")
    elif not result:
        fail(f"{key} returns no data {where}: {expr!r}")
    else:
        ok(f"{key}: {len(result)} series {where}")
    return result


def check_merged_table(prom, key, exprs):
    """A table panel whose queries Grafana's merge transformation joins: merge matches rows on the
    fields every query has, so no query may keep __name__ (it differs per metric) and every row of
    a later query must find its row in the first one."""
    results = []
    for expr in exprs:
        answer = prom.query(expr)
        results.append([r["metric"] for r in answer.get("data", {}).get("result", [])])
    named = [expr for expr, rows in zip(exprs, results) if any("__name__" in m for m in rows)]
    if named:
        fail(f"{key}: queries keep __name__, so merge cannot join their rows: {named}")
        return
    with_rows = [rows for rows in results if rows]
    common = set.intersection(*(set(m) for rows in with_rows for m in rows)) if with_rows else set()
    first = {tuple(m.get(k) for k in sorted(common)) for m in results[0]}
    orphans = [m for rows in results[1:] for m in rows
               if tuple(m.get(k) for k in sorted(common)) not in first]
    if not results[0] or orphans:
        fail(f"{key}: rows that join no row of the first query on {sorted(common)}: {orphans[:3]}")
    else:
        ok(f"{key}: {len(exprs)} queries join on {sorted(common)} into {len(first)} rows")


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
    parser.add_argument("--instance", required=True, help="the exporter on the demo node")
    parser.add_argument("--openstack-instance", required=True,
                        help="the exporter with --collector.openstack-metadata on the Nova fixture")
    parser.add_argument("--source-dir", required=True)
    args = parser.parse_args()
    prom = promlib.Prometheus(args.prometheus)

    file_rules = promlib.load_rules(args.source_dir)
    recorded = [r["name"] for r in file_rules if r["kind"] == "record"]
    wait_for_rules(prom, recorded, time.time() + 20)

    # --- both exporters are healthy targets
    nodes = {args.instance: "demo", args.openstack_instance: "openstack"}
    targets = prom.get("/api/v1/targets").get("data", {}).get("activeTargets", [])
    health = {t.get("labels", {}).get("instance"): t.get("health") for t in targets}
    if health == {instance: "up" for instance in nodes}:
        ok(f"targets {sorted(health)} are up")
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
    both = "on the two test nodes"
    for (_, kind, name), rule in sorted(loaded.items()):
        evaluate(prom, f"{kind} {name}", rule["query"], where=both)
    for name in recorded:
        evaluate(prom, f"recorded series {name}", name, where=both)

    # The alerts the test nodes should trip, pending for their 'for': guests without balloon
    # stats, and on the Nova fixture the host whose guests have more memory than it has.
    no_stats = {(r["metric"]["instance"], r["metric"]["domain"]) for r in
                prom.query("libvirt_domain_memory_stats_reported == 0")["data"]["result"]}
    alerts = prom.get("/api/v1/alerts").get("data", {}).get("alerts", [])
    active = {(a["labels"]["alertname"], a["labels"].get("instance"), a["labels"].get("domain"))
              for a in alerts}
    expected = {("LibvirtGuestBalloonStatsMissing", i, d) for i, d in no_stats}
    expected |= {(name, instance, None) for instance, node in nodes.items()
                 for name in PENDING_HOST_ALERTS[node]}
    if {i for i, _ in no_stats} == set(nodes) and active == expected and \
            all(a["state"] == "pending" for a in alerts):
        ok(f"exactly the expected alerts are pending: {sorted(expected, key=str)}")
    else:
        fail(f"active alerts {sorted(active, key=str)}, expected pending {sorted(expected, key=str)}")

    # --- the demo node's guests come in every state the Domains panels are for
    states = {r["metric"]["state"] for r in prom.query(
        f'count by (state) (libvirt_domain_info{{instance="{args.instance}"}})')["data"]["result"]}
    if states == DEMO_STATES:
        ok(f"demo node domain states: {sorted(states)}")
    else:
        fail(f"demo node domain states {sorted(states)}, expected {sorted(DEMO_STATES)}")

    # --- dashboard: variables resolve, every panel query is valid and has data
    dashboard = promlib.load_dashboard(args.source_dir)
    values = dict(promlib.GRAFANA_BUILTINS, job=promlib.grafana_regex_escape(args.job),
                  instance=promlib.grafana_regex_escape(args.instance), domain=".*")
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

    # Each panel against the node that must give it data: the demo node, or for the OpenStack
    # rows the Nova fixture (and the demo node, where they must stay empty).
    openstack_values = dict(values, instance=promlib.grafana_regex_escape(args.openstack_instance))
    exprs, empty_exprs, panel_keys = [], [], set()
    for row, panel in promlib.iter_panels_with_row(dashboard):
        runs = [(values, "on the demo node", None)]
        if row in OPENSTACK_ROWS:
            runs = [(openstack_values, "on the Nova fixture", None),
                    (values, "on the demo node", "no OpenStack collector there")]
        merged = any(t.get("id") == "merge" for t in panel.get("transformations", []))
        for run_values, where, empty_reason in runs:
            table_exprs = []
            for target in promlib.panel_targets(panel):
                key = f"panel '{panel['title']}' {target.get('refId')}"
                panel_keys.add(key)
                try:
                    expr = promlib.substitute(target["expr"], run_values)
                except KeyError as e:
                    fail(f"{key}: {e}")
                    continue
                table_exprs.append(expr)
                kind = "instant" if target.get("instant") else "range"
                result = evaluate(prom, key, expr, kind, empty_reason, where)
                if empty_reason or key in promlib.ALLOWED_EMPTY:
                    empty_exprs.append(expr)
                    continue
                exprs.append(expr)
                if result and re.search(r"\bby\s*\(\s*project_name\s*\)", expr):
                    projects = {r["metric"].get("project_name") for r in result}
                    if projects == OPENSTACK_PROJECTS:
                        ok(f"{key}: projects {sorted(projects)} {where}")
                    else:
                        fail(f"{key}: projects {sorted(projects, key=str)} {where}, "
                             f"expected {sorted(OPENSTACK_PROJECTS)}")
            if merged and not empty_reason:
                check_merged_table(prom, f"panel '{panel['title']}' (merged table)", table_exprs)

    rule_keys = {f"{kind} {name}" for (_, kind, name) in loaded}
    for key in promlib.ALLOWED_EMPTY:
        if key not in rule_keys | panel_keys:
            fail(f"allow-list entry '{key}' matches no rule or panel query: remove it")

    # --- every metric the expressions name exists, so the name checks against docs/metrics.md
    # in check_dashboard_rules.py looked at real series. Metrics that only allow-listed (empty)
    # queries use are reported, not required.
    names = set()
    for expr in exprs + [r["expr"] for r in file_rules]:
        names |= promlib.metric_names(expr)
    for name in sorted(names):
        result = prom.query(f'count({{__name__="{name}"}})').get("data", {}).get("result")
        if result:
            ok(f"metric {name}: {result[0]['value'][1]} series")
        else:
            fail(f"metric {name} used by the dashboard or rules has no series")
    for name in sorted(set().union(*map(promlib.metric_names, empty_exprs)) - names):
        ok(f"metric {name}: used only by queries allowed to be empty (no series on the test driver)")

    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
