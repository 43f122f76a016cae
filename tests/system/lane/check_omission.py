"""Check 2, omission: no balloon device / no guest driver: no guest-side
series, reported 0, host-side series present."""

import time

from lane.common import (FLAGS, HOST_SIDE, MIB, STATS_PERIOD_S, require)


class OmissionCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- check 2
    def check_omission(self):
        details = []
        # Past boot and a few stats periods: this is their steady state.
        time.sleep(max(0.0, 2 * STATS_PERIOD_S - (time.monotonic() - self.ready_at)))
        batch = self.scrape_all()
        for key, expected_libvirt in (("b", {"current", "maximum", "rss"}),
                                      ("c", {"current", "maximum", "last-update", "rss"})):
            guest = self.guests[key]
            libvirt_fields = {item.split("=")[0].removeprefix("balloon.")
                              for item in self.virsh("domstats", "--balloon", guest.name).split()
                              if item.startswith("balloon.")}
            require(libvirt_fields == expected_libvirt,
                    f"libvirt returns {sorted(libvirt_fields)} for {guest.name}, "
                    f"the lane expects {sorted(expected_libvirt)}")
            for tag, scrape in batch.items():
                series = scrape.domain(guest.name)
                require(set(series) == HOST_SIDE | set(FLAGS),
                        f"{tag}: {guest.name} exports {sorted(series)}")
                require(series["reported"] == 0, f"{tag}: {guest.name} reported {series['reported']}")
                require(series["current_balloon_bytes"] == guest.memory_mib * MIB and
                        series["maximum_bytes"] == guest.memory_mib * MIB,
                        f"{tag}: {guest.name} current/maximum {series}")
                require(series["rss_bytes"] > 16 * MIB, f"{tag}: {guest.name} rss {series}")
            details.append(f"{guest.name}: libvirt {sorted(libvirt_fields)} -> exported "
                           f"{sorted(batch['rw'].domain(guest.name))}, reported 0, "
                           f"rss {batch['rw'].domain(guest.name)['rss_bytes'] / MIB:.0f} MiB")
        return "; ".join(details)
