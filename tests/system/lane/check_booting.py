"""Check 3, booting: a guest whose driver is not loaded yet has no zero-valued
series (and the boot itself, watched scrape by scrape)."""

import time

from lane.common import (MIB, STATS_PERIOD_S, require, wait_until)


class BootingCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    def watch_boot(self):
        """Scrapes continuously until every guest has reached its steady stage."""
        self.phase = "booting"

        def all_ready():
            for scrape in self.scrape_all().values():
                for guest in self.guests.values():
                    if (scrape.domain(guest.name).get("reported") == 0
                            and not guest.has_line("LME stage booted")):
                        guest.seen_booting += 1
            return all(g.has_line("LME stage listening" if g.control else "LME stage ready")
                       for g in self.guests.values())
        started = time.monotonic()
        wait_until(120, "all guests to boot", all_ready, interval=0.3)
        self.timings["boot"] = time.monotonic() - started
        return ", ".join(f"{g.name} seen {g.seen_booting}x before its virtio stack loaded"
                         for g in self.guests.values())

    # -- check 3
    def check_booting(self):
        """Guest a's driver is held back: it looks exactly like a booting guest."""
        a = self.guests["a"]
        require(a.has_line("LME stage gated") and not a.has_line("LME stage balloon-loaded"),
                "guest a is not waiting with its balloon driver unloaded")
        libvirt_view = self.virsh("domstats", "--balloon", a.name)
        require("balloon.last-update=0" in libvirt_view and "balloon.unused" not in libvirt_view,
                f"libvirt does not show a not-yet-reporting guest: {libvirt_view.split()}")
        observed = {}
        deadline = time.monotonic() + 2.5 * STATS_PERIOD_S
        scrapes = 0
        while time.monotonic() < deadline:
            batch = self.scrape_all()
            for tag, scrape in batch.items():
                series = scrape.domain(a.name)
                require(series.get("reported") == 0, f"{tag}: {a.name} reported={series.get('reported')}")
                require(series.get("current_balloon_bytes") == 256 * MIB and
                        series.get("maximum_bytes") == 256 * MIB and
                        series.get("rss_bytes", 0) > 0,
                        f"{tag}: {a.name} host-side series wrong: {series}")
                require("last_update_timestamp_seconds" not in series,
                        f"{tag}: last_update exported while libvirt says 0: {series}")
                observed[tag] = sorted(series)
            scrapes += 1
            time.sleep(0.5)
        return (f"{scrapes} scrapes over {2.5 * STATS_PERIOD_S:.0f}s with the driver held back; "
                f"series {observed['rw']}, none zero-valued besides reported; "
                + self.boot_summary)
