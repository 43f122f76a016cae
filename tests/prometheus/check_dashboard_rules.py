#!/usr/bin/env python3
"""Static checks of the Grafana dashboard and the Prometheus rules (no server needed).

Usage: check_dashboard_rules.py SOURCE_DIR

Dashboard: valid JSON importable into Grafana 10/11 (datasource variable, no fixed id), every
panel with a description, a unit and thresholds, ratio panels bounded 0-1, every query on the
datasource variable and filtered by the instance (and, for guest series, domain) variables, no
overlapping panels. Rules: recording rule names in level:metric:operations form, alerts with a
severity, summary, description and for, every rule exercised by the promtool unit tests. Both:
every metric name is documented in docs/metrics.md, written by Prometheus itself, or recorded by
our rules.
"""

import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import promlib  # noqa: E402

failures = []
checks = 0


def check(condition, message):
    global checks
    checks += 1
    if not condition:
        failures.append(message)
    return condition


def check_dashboard(dashboard):
    check(dashboard.get("schemaVersion", 0) >= 38,
          f"schemaVersion {dashboard.get('schemaVersion')} is older than Grafana 10 (38)")
    check(dashboard.get("id") is None, "dashboard id must be null so the import creates a new one")
    check(dashboard.get("uid") and dashboard.get("title"), "dashboard needs a uid and a title")

    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    check(ds.get("type") == "datasource" and ds.get("query") == "prometheus",
          "needs a Prometheus datasource variable named 'datasource'")
    for name in ("instance", "domain"):
        check(variables.get(name, {}).get("type") == "query", f"needs a query variable '{name}'")
    for variable in promlib.query_variables(dashboard):
        check(variable.get("datasource", {}).get("uid") == "${datasource}",
              f"variable {variable.get('name')} must query the datasource variable")
        check(re.match(r"^label_values\(", promlib.variable_query(variable)),
              f"variable {variable.get('name')}: use label_values(...) (the e2e test resolves it)")

    ids, occupied = set(), {}
    for panel in promlib.iter_panels(dashboard):
        title = panel.get("title", "")
        where = f"panel {panel.get('id')} '{title}'"
        check(title, f"{where} has no title")
        check(panel.get("id") not in ids, f"{where}: duplicate id")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        check(len(panel.get("description", "")) >= 40, f"{where} needs a real description")
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        unit = defaults.get("unit", "")
        check(unit, f"{where} has no unit")
        steps = defaults.get("thresholds", {}).get("steps", [])
        check(steps and steps[0].get("value") is None, f"{where} needs thresholds with a base step")
        if unit == "percentunit":
            check(defaults.get("min") == 0 and defaults.get("max") == 1,
                  f"{where}: a 0-1 ratio needs min 0 and max 1")
        if unit == "bytes":
            check(defaults.get("min", 0) == 0, f"{where}: a bytes panel should start at 0")
        check(panel.get("datasource", {}).get("uid") == "${datasource}",
              f"{where} must use the datasource variable")

        pos = panel.get("gridPos", {})
        x, y, w, h = (pos.get(k, -1) for k in "xywh")
        if check(x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= 24, f"{where}: bad gridPos {pos}"):
            for cx in range(x, x + w):
                for cy in range(y, y + h):
                    other = occupied.setdefault((cx, cy), title)
                    if other != title:
                        check(False, f"{where} overlaps '{other}'")
                        break
                else:
                    continue
                break

        targets = promlib.panel_targets(panel)
        check(targets, f"{where} has no queries")
        for target in targets:
            expr = target.get("expr", "")
            tw = f"{where} query {target.get('refId')}"
            check(expr, f"{tw} has no expr")
            check(target.get("datasource", {}).get("uid") == "${datasource}",
                  f"{tw} must use the datasource variable")
            check("$instance" in expr and "$job" in expr, f"{tw} ignores the job/instance variables")
            if "libvirt_domain_memory_stats_" in expr:
                check("$domain" in expr, f"{tw} ignores the domain variable")


def check_rules(rules, rule_tests):
    recorded = {r["name"] for r in rules if r["kind"] == "record"}
    check(recorded, "no recording rules found")
    check(any(r["kind"] == "alert" for r in rules), "no alerting rules found")
    for rule in rules:
        name = rule["name"]
        check(rule["expr"], f"rule {name} has no expr")
        if rule["kind"] == "record":
            parts = name.split(":")
            if check(len(parts) == 3 and all(re.fullmatch(r"[a-z0-9_]+", p) for p in parts),
                     f"recording rule {name} is not level:metric:operations"):
                level, metric, operations = parts
                if "rate(" in rule["expr"] or "irate(" in rule["expr"]:
                    check(not metric.endswith("_total"),
                          f"{name}: strip _total from a counter's name once it is a rate")
                    check(re.search(r"rate\d+[smhd]", operations), f"{name}: name the rate window")
                if "_per_" in metric:
                    check(operations.startswith("ratio"), f"{name}: a _per_ metric is a ratio")
            check(re.search(rf"(?m)^\s*- expr: {re.escape(name)}\s*$", rule_tests),
                  f"recording rule {name} has no promql_expr_test")
        else:
            check(rule["labels"].get("severity") in ("info", "warning", "critical"),
                  f"alert {name} needs severity info, warning or critical")
            for annotation in ("summary", "description"):
                check(rule["annotations"].get(annotation), f"alert {name} has no {annotation}")
            check(rule["for"], f"alert {name} has no 'for' (it would page on one bad scrape)")
            check(re.search(rf"(?m)^\s*- alertname: {re.escape(name)}\s*$", rule_tests),
                  f"alert {name} has no alert_rule_test")


def check_names(dashboard, rules, documented):
    known = documented | promlib.PROMETHEUS_SERIES | {r["name"] for r in rules if r["kind"] == "record"}
    seen = set()
    for where, expr in promlib.expressions(dashboard, rules):
        names = promlib.metric_names(expr)
        check(names, f"{where}: found no metric name in {expr!r}")
        for name in sorted(names):
            seen.add(name)
            check(name in known, f"{where}: metric {name} is not in docs/metrics.md")
    check(seen & documented, "the dashboard and rules use no documented metric at all")


def main():
    source_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    try:
        dashboard = promlib.load_dashboard(source_dir)
    except ValueError as e:
        print(f"FAIL: {promlib.DASHBOARD} is not valid JSON: {e}")
        return 1
    rules = promlib.load_rules(source_dir)
    rule_tests = (source_dir / promlib.RULE_TESTS).read_text(encoding="utf-8")
    documented = promlib.documented_metrics(source_dir)
    check(len(documented) >= 20, f"read only {len(documented)} metric names from docs/metrics.md")

    check_dashboard(dashboard)
    check_rules(rules, rule_tests)
    check_names(dashboard, rules, documented)

    panels = [p for p in promlib.iter_panels(dashboard) if p.get("type") != "row"]
    print(f"{len(panels)} panels, {len(rules)} rules, {len(documented)} documented metrics")
    for failure in failures:
        print(f"FAIL: {failure}")
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
