"""Shared helpers for the dashboard and rule checks (Python standard library only).

Reads the dashboard JSON, the rules file (a small reader for the shape of our own rules file:
PyYAML is not in the standard library, and the end-to-end test cross-checks what it reads against
the rules Prometheus itself loaded), docs/metrics.md, and pulls metric names out of PromQL. Talks
to Prometheus' HTTP API, and parses the exporter's text exposition into series.
"""

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DASHBOARD = Path("dashboards/libvirt-memory.json")
RULES = Path("deploy/prometheus/libvirt-memory.rules.yml")
RULE_TESTS = Path("deploy/prometheus/tests/libvirt-memory.rules.test.yml")
METRICS_DOC = Path("docs/metrics.md")

# Series Prometheus writes itself for every target it scrapes, and for alerting rules; the rules
# and dashboard may use them although the exporter does not document them.
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
PROMETHEUS_SERIES = SCRAPE_SERIES | {"ALERTS", "ALERTS_FOR_STATE"}

# Rule and panel expressions that legitimately return nothing on libvirt's test driver: alerts for
# trouble the test nodes never have, and host figures the test driver lacks. They must still
# parse, and they must stay empty: an alert firing on a healthy test node is a bug. The end-to-end
# tests (one server, and the fleet) hold every other expression to returning data.
ALLOWED_EMPTY = {
    "alert LibvirtGuestMemoryPressure": "no test guest has a working set above 90%",
    "alert LibvirtGuestSwapping": "the test driver reports no swap traffic",
    # libvirt's test driver stamps every report with the same time (docs/troubleshooting.md):
    # its guests are never stale. The system lane shows stale guests on real QEMU.
    "alert LibvirtGuestBalloonStatsStale": "test driver: no guest is ever stale",
    "alert LibvirtMemoryExporterDown": "the exporter is up",
    "alert LibvirtDown": "the test driver is always reachable",
    "alert LibvirtMemoryExporterSlowScrape": "test scrapes take milliseconds",
    # libvirt's test driver has no virNodeGetMemoryStats, so of the libvirt_node_memory_* series
    # only the total (from virNodeGetInfo) exists there.
    "panel 'Host free memory, buffers and page cache' A": "test driver: no virNodeGetMemoryStats",
    "panel 'Host free memory, buffers and page cache' B": "test driver: no virNodeGetMemoryStats",
    "panel 'Host free memory, buffers and page cache' C": "test driver: no virNodeGetMemoryStats",
}

# Values Grafana would put in; $__rate_interval is at least four scrape intervals in Grafana, and
# one minute covers every sample these short tests have.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}

AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile",
}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan",
}


class Prometheus:
    """A Prometheus server's HTTP API; answers are the decoded JSON, errors included."""

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
        except (OSError, ValueError) as e:
            return {"status": "error", "error": str(e)}

    def query(self, expr):
        return self.get("/api/v1/query", {"query": expr}, post=True)

    def query_range(self, expr, seconds=30, step=1):
        end = time.time()
        return self.get("/api/v1/query_range",
                        {"query": expr, "start": end - seconds, "end": end, "step": step}, post=True)

    def result(self, expr):
        """The result list of an instant query; empty when the query failed."""
        return self.query(expr).get("data", {}).get("result", [])

    def series(self, match):
        """Label sets of every series the selector matches, over all the server holds."""
        return self.get("/api/v1/series", {"match[]": match}, post=True).get("data", [])


def grafana_regex_escape(value):
    """What Grafana's Prometheus datasource does to a variable value used in =~ (one value)."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def parse_exposition(text):
    """Series of a text exposition (format 0.0.4): [(family, name, {label: value})], in order.

    The family is the name its # TYPE line declares (a series name may add _total, _bucket, _sum,
    _count or _created to it). Label values are unescaped; sample values are not needed here.
    """
    types, series = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[len("# TYPE "):].split(" ", 1)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+\S+(\s+\S+)?$", line)
        if not m:
            raise ValueError(f"not an exposition line: {line!r}")
        name = m.group(1)
        series.append((family_of(name, types), name, parse_labels(m.group(2) or "{}")))
    return series


def family_of(name, types):
    for suffix in ("", "_total", "_bucket", "_sum", "_count", "_created"):
        if suffix and not name.endswith(suffix):
            continue
        family = name[:len(name) - len(suffix)] if suffix else name
        if family in types:
            return family
    return name


def parse_labels(text):
    labels = {}
    pattern = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"\s*(,|\}$)')
    pos = 1
    while pos < len(text) - 1:
        m = pattern.match(text, pos)
        if not m:
            raise ValueError(f"bad label set: {text!r}")
        raw = m.group(2)
        labels[m.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), raw)
        pos = m.end()
    return labels


def load_dashboard(source_dir):
    with open(Path(source_dir) / DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def iter_panels(dashboard):
    """All panels, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        for nested in panel.get("panels", []):
            yield nested


def iter_panels_with_row(dashboard):
    """(row title or None, panel) for every panel that is not a row, including those nested in
    collapsed rows. A panel belongs to the row above it in the list (Grafana's layout rule)."""
    row = None
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            row = panel.get("title")
            for nested in panel.get("panels", []):
                yield row, nested
        else:
            yield row, panel


def panel_targets(panel):
    return [t for t in panel.get("targets", []) if not t.get("hide")]


def query_variables(dashboard):
    return [v for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]


def variable_query(variable):
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return query or variable.get("definition", "")


def substitute(expr, values):
    """Replaces Grafana variables ($name, ${name}, ${name:format}, [[name]]) with values."""
    def lookup(name):
        if name not in values:
            raise KeyError(f"no test value for Grafana variable ${name} in: {expr}")
        return values[name]

    expr = re.sub(r"\$\{(\w+)(?::[^}]*)?\}", lambda m: lookup(m.group(1)), expr)
    expr = re.sub(r"\[\[(\w+)(?::[^\]]*)?\]\]", lambda m: lookup(m.group(1)), expr)
    return re.sub(r"\$(\w+)", lambda m: lookup(m.group(1)), expr)


def load_rules(source_dir):
    """Rules of our rules file: [{group, kind, name, expr, for, labels, annotations}].

    Understands block sequences and mappings, plain and quoted scalars, and `|` / `>` / `>-`
    blocks: the subset libvirt-memory.rules.yml is written in.
    """
    lines = (Path(source_dir) / RULES).read_text(encoding="utf-8").splitlines()
    rules, group, rule, section = [], None, None, None
    i = 0

    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def scalar(text):
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]
        return text

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"^(\s*)(- )?([\w]+):\s*(.*)$", line)
        if not m:
            continue
        key, value = m.group(3), m.group(4)
        if m.group(2) and key == "name" and indent(line) <= 2:
            group, rule = scalar(value), None
            continue
        if m.group(2) and key in ("record", "alert"):
            rule = {"group": group, "kind": key, "name": scalar(value), "expr": None,
                    "for": None, "labels": {}, "annotations": {}}
            rules.append(rule)
            section = None
            continue
        if rule is None:
            continue
        if value in ("|", "|-", ">", ">-"):
            block, base = [], indent(line)
            while i < len(lines) and (not lines[i].strip() or indent(lines[i]) > base):
                block.append(lines[i].strip())
                i += 1
            joiner = "\n" if value.startswith("|") else " "
            value = joiner.join(part for part in block if part).strip()
        else:
            value = scalar(value)
        if key in ("labels", "annotations") and value == "":
            section = key
        elif key in ("expr", "for"):
            rule[key] = value
            section = None
        elif section:
            rule[section][key] = value
    return rules


def expressions(dashboard, rules):
    """[(where, PromQL)] of every rule, panel query and variable (label_values(...) unwrapped)."""
    uses = [(f"rule {r['name']}", r["expr"]) for r in rules]
    for panel in iter_panels(dashboard):
        for target in panel_targets(panel):
            uses.append((f"panel '{panel.get('title')}' {target.get('refId')}", target.get("expr", "")))
    for variable in query_variables(dashboard):
        query = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", variable_query(variable).strip())
        uses.append((f"variable {variable.get('name')}", query))
    return uses


def used_metric_names(source_dir):
    """Metric names the shipped dashboard and rules read."""
    names = set()
    for _, expr in expressions(load_dashboard(source_dir), load_rules(source_dir)):
        names |= metric_names(expr)
    return names


def documented_metrics(source_dir):
    text = (Path(source_dir) / METRICS_DOC).read_text(encoding="utf-8")
    # The first column of the metric tables; other backticked words are labels or libvirt fields.
    return set(re.findall(r"^\|\s*`(libvirt_[a-z0-9_]+)`", text, re.MULTILINE))


def metric_names(expr):
    """Metric names a PromQL expression selects (not functions, keywords or labels)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)         # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r" \1 ", text)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][\w:]*)", text):
        name = m.group(1)
        rest = text[m.end():].lstrip()
        if rest.startswith("(") or name.lower() in KEYWORDS or name in AGGREGATIONS:
            continue
        names.add(name)
    # A selector with only label matchers ({__name__="x"}) names its metric there.
    names.update(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    return names
