"""Checks 4 and 4b, destroy: a guest destroyed between two scrapes (and while
scraping) is gone from the next one, quietly and with libvirt_up 1."""

import threading
import time

from lane.common import (problems, require)


class DestroyCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- check 4
    def check_destroy(self):
        b = self.guests["b"]
        before = self.scrape_all()
        for tag, scrape in before.items():
            require(scrape.domain(b.name), f"{tag}: {b.name} missing before the destroy")
        self.virsh("destroy", b.name)
        after = self.scrape_all()
        for tag, scrape in after.items():
            require(not scrape.domain(b.name), f"{tag}: {b.name} still exported after destroy: "
                                               f"{scrape.domain(b.name)}")
            require(scrape.value("libvirt_up") == 1, f"{tag}: libvirt_up {scrape.value('libvirt_up')}")
            require(scrape.value("libvirt_domains") == before[tag].value("libvirt_domains") - 1,
                    f"{tag}: libvirt_domains {before[tag].value('libvirt_domains')} -> "
                    f"{scrape.value('libvirt_domains')}")
        for exporter in self.exporters:
            bad = self.unexcused_problems(exporter)
            require(not bad, f"{exporter.tag} logged: {bad}")
        return (f"{b.name} in scrape before, gone from the next one; libvirt_domains "
                f"{before['rw'].value('libvirt_domains'):.0f} -> {after['rw'].value('libvirt_domains'):.0f}, "
                f"libvirt_up 1, no level=error/warn lines in either log since start "
                f"(but for check 6's hung guest)")

    def check_destroy_while_scraping(self):
        """Extra: the destroy races scrapes in flight (the bulk call's window)."""
        c = self.guests["c"]
        log_marks = {e.tag: len(e.log_lines()) for e in self.exporters}
        stop = threading.Event()
        seen = {"scrapes": 0, "errors": []}

        def hammer():
            while not stop.is_set():
                try:
                    for tag, scrape in self.scrape_all().items():
                        seen["scrapes"] += 1
                        if scrape.value("libvirt_up") != 1:
                            seen["errors"].append(f"{tag}: libvirt_up {scrape.value('libvirt_up')}")
                except Exception as error:  # collected and reported below
                    seen["errors"].append(repr(error))
        thread = threading.Thread(target=hammer)
        self.dying[c.name] = 0
        thread.start()
        try:
            time.sleep(0.5)
            self.virsh("destroy", c.name)
            time.sleep(1.0)
        finally:
            stop.set()
            thread.join(timeout=30)
        rss_zero = self.dying.pop(c.name)
        require(not seen["errors"], f"during the destroy: {seen['errors'][:5]}")
        for tag, scrape in self.scrape_all().items():
            require(not scrape.domain(c.name), f"{tag}: {c.name} still exported")
        for exporter in self.exporters:
            bad = problems(exporter.log_lines()[log_marks[exporter.tag]:])
            require(not bad, f"{exporter.tag} logged: {bad}")
        return (f"{seen['scrapes']} scrapes raced the destroy of {c.name}: all libvirt_up 1, "
                f"no error/warn lines; {rss_zero} scrape(s) caught it with rss_bytes 0, "
                f"the value libvirt itself returns mid-destroy")
