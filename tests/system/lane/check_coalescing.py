"""Check 6a, coalescing: ten concurrent scrapes share collections."""

import os
import subprocess
import time

from lane.common import (COLLECTIONS, Scrape, parse_exposition, require)


class CoalescingCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- check 6a
    def check_coalescing(self):
        """Ten scrapes at once share collections (collections_total)."""
        details = []
        directory = os.path.join(self.work, "coalesce")
        os.makedirs(directory, exist_ok=True)
        for exporter in self.exporters:
            before = exporter.scrape().value(COLLECTIONS)
            require(before is not None, f"{exporter.tag}: no {COLLECTIONS}")
            # One curl, ten transfers started at once (8 HTTP workers serve).
            command = ["curl", "-sS", "--max-time", "10", "--parallel", "--parallel-immediate",
                       "--parallel-max", "10", "-w", "%{http_code} %{time_total}\n"]
            paths = [os.path.join(directory, f"{exporter.tag}-{i}.prom") for i in range(10)]
            for path in paths:
                command += [exporter.url, "-o", path]
            started = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True, timeout=20)
            wall = time.monotonic() - started
            require(result.returncode == 0, f"{exporter.tag}: curl exit {result.returncode}: "
                                            f"{result.stderr.strip()}")
            codes = sorted(line.split()[0] for line in result.stdout.splitlines())
            require(codes == ["200"] * 10, f"{exporter.tag}: HTTP {codes}")
            counters = []
            for path in paths:
                with open(path) as body:
                    text = body.read()
                scrape = Scrape(parse_exposition(text), text)
                self.validate({exporter.tag: scrape})
                self.scrapes_validated += 1
                require(scrape.value("libvirt_up") == 1, f"{exporter.tag}: libvirt_up "
                                                         f"{scrape.value('libvirt_up')}")
                counters.append(scrape.value(COLLECTIONS))
            after = exporter.scrape().value(COLLECTIONS)
            # The counter includes the collection of the scrape it is read from.
            grew = after - before - 1
            shared = len(set(counters))
            require(grew < 10 and shared < 10,
                    f"{exporter.tag}: 10 concurrent scrapes ran {grew:.0f} collections "
                    f"(counter {before:.0f} -> {after:.0f}, values seen {sorted(counters)})")
            details.append(f"{exporter.tag}: 10 concurrent scrapes (all 200, {wall:.2f}s) ran "
                           f"{grew:.0f} collection(s), counter {before:.0f} -> {after:.0f} "
                           f"(values in the 10 answers: {sorted(set(counters))})")
        return "; ".join(details)
