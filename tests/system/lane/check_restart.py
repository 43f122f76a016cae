"""Check 5, restart: libvirtd stops (libvirt_up 0, no crash) and starts
again (the next scrape is complete, with the same exporter process)."""

import time

from lane.common import (PREFIX, require, wait_until)


class RestartCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- check 5
    def check_restart(self):
        details = []
        before = {tag: s.domain_keys() for tag, s in self.scrape_all().items()}
        pids = {e.tag: e.pid for e in self.exporters}
        a = self.guests["a"]
        require(any(k[0] == PREFIX + "available_bytes" for k in before["rw"]),
                "guest a is not reporting before the restart")

        # Round 1: scrapes while the daemon is down, then one scrape after.
        self.libvirtd("stop")
        for round_ in range(3):
            for tag, scrape in self.scrape_all().items():
                require(scrape.value("libvirt_up") == 0,
                        f"{tag}: libvirt_up {scrape.value('libvirt_up')} with libvirtd stopped")
                require(not scrape.domain_keys(), f"{tag}: domain series with libvirtd stopped")
                require(scrape.value("libvirt_memory_exporter_scrape_collector_success",
                                     collector="domain_memory") == 0, f"{tag}: collector success")
            time.sleep(0.5)
        details.append("down: 3 scrapes per exporter answered 200 with libvirt_up 0")
        started = time.monotonic()
        self.libvirtd("start")
        details.append(f"libvirtd back in {time.monotonic() - started:.1f}s")
        self.wait_libvirt_settled(details)
        self.expect_complete_scrape(before, "after restart 1", details)

        # Round 2: no scrape while it is down, so the exporter still holds the
        # dead connection and must notice and reconnect within one scrape.
        marks = {e.tag: len(e.log_lines()) for e in self.exporters}
        self.libvirtd("stop")
        self.libvirtd("start")
        self.wait_libvirt_settled(details)
        self.expect_complete_scrape(before, "after restart 2 (no scrape while down)", details)
        reconnects = {e.tag: sum("connection lost, reconnecting" in line
                                 for line in e.log_lines()[marks[e.tag]:])
                      for e in self.exporters}
        details.append(f"in-scrape reconnects logged in round 2: {reconnects}")

        for exporter in self.exporters:
            require(exporter.alive() and exporter.pid == pids[exporter.tag],
                    f"{exporter.tag}: exporter process changed or died")
            errors = [line for line in self.unexcused_problems(exporter)
                      if "collector failed" not in line]
            require(not errors, f"{exporter.tag}: unexpected problem lines {errors}")
        failures = self.unexcused_problems(self.exporters[0])
        details.append(f"same exporter processes; the rw log has {len(failures)} error line(s) "
                       f"outside check 6, all 'collector failed' while down: {failures[:1]}")
        return "; ".join(details)

    def wait_libvirt_settled(self, details):
        """Waits until libvirt itself gives guest a's full stats without waiting
        for a job, as the exporter asks (NOWAIT): right after a start, libvirt's
        reconnect to the running QEMU may still hold the domain, and a short
        answer then is libvirt's, not the exporter's."""
        a = self.guests["a"]
        started = time.monotonic()
        wait_until(30, "libvirt to answer guest a's balloon stats again",
                   lambda: "balloon.unused=" in self.virsh("domstats", "--balloon", "--nowait", a.name),
                   interval=0.2)
        details.append(f"libvirt's own --nowait stats complete after {time.monotonic() - started:.1f}s")

    def expect_complete_scrape(self, before, when, details):
        batch = self.scrape_all()
        for tag, scrape in batch.items():
            require(scrape.value("libvirt_up") == 1,
                    f"{tag} {when}: libvirt_up {scrape.value('libvirt_up')} in the first scrape")
            missing = before[tag] - scrape.domain_keys()
            extra = scrape.domain_keys() - before[tag]
            require(not missing and not extra,
                    f"{tag} {when}: first scrape misses {sorted(missing)} / adds {sorted(extra)}")
        details.append(f"{when}: first scrape libvirt_up 1 with all {len(before['rw'])} series")
