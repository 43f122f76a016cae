#!/usr/bin/env python3
"""Checks one scrape of the demo exporter against the demo node file.

    check_demo.py METRICS_FILE NODE_XML

What the demo must show is read from the node file itself (the README points
new users at it), so the lane and examples/demo-node.xml cannot drift apart:
  - libvirt_up 1;
  - every guest of the file in libvirt_domain_info;
  - for every active guest (not shut off) a libvirt_domain_memory_stats_reported
    series: 1 for guests with a virtio balloon and a stats period, 0 for the
    guests without balloon stats;
  - libvirt_domains is the number of active guests.
Prints what it checked; exits 1 naming every difference.
"""
import re
import sys
import xml.etree.ElementTree as ET

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
SHUTOFF = "5"  # libvirt's VIR_DOMAIN_SHUTOFF, as test:runstate writes it


def samples(text):
    """Yields (name, labels, value) for each sample line."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ValueError(f"not a sample line: {line!r}")
        labels = dict(LABEL.findall(match.group(3) or ""))
        yield match.group(1), labels, float(match.group(4))


def demo_guests(node_xml):
    """Maps each guest's name to (active, has_balloon_stats)."""
    guests = {}
    for domain in ET.parse(node_xml).getroot().iter("domain"):
        name = domain.findtext("name")
        runstate = domain.findtext(f"{TEST_NS}runstate", default="1").strip()
        balloon = domain.find("devices/memballoon[@model='virtio']/stats[@period]")
        guests[name] = (runstate != SHUTOFF, balloon is not None)
    return guests


def main():
    metrics_file, node_xml = sys.argv[1:3]
    with open(metrics_file, encoding="utf-8") as f:
        scraped = list(samples(f.read()))
    guests = demo_guests(node_xml)
    if not guests:
        sys.exit(f"FAIL: no guests in {node_xml}")

    def values(name):
        return [(labels, value) for n, labels, value in scraped if n == name]

    problems = []
    up = [value for _, value in values("libvirt_up")]
    if up != [1]:
        problems.append(f"libvirt_up is {up}, not [1]")
    info = {labels.get("domain") for labels, _ in values("libvirt_domain_info")}
    reported = {labels.get("domain"): value
                for labels, value in values("libvirt_domain_memory_stats_reported")}
    for name, (active, has_stats) in sorted(guests.items()):
        if name not in info:
            problems.append(f"{name}: no libvirt_domain_info series")
        if not active:
            if name in reported:
                problems.append(f"{name} is shut off but has a reported series")
            continue
        want = 1 if has_stats else 0
        if reported.get(name) != want:
            problems.append(f"{name}: reported {reported.get(name)}, want {want}")
    active = sum(1 for is_active, _ in guests.values() if is_active)
    domains = [value for _, value in values("libvirt_domains")]
    if domains != [active]:
        problems.append(f"libvirt_domains is {domains}, want [{active}]")

    without = sorted(n for n, (a, s) in guests.items() if a and not s)
    print(f"checked: libvirt_up 1, {len(guests)} guests in libvirt_domain_info, "
          f"{active} active, reported 0 for {', '.join(without)}")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
