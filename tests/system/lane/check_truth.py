"""Check 1, truth: exported available/unused/usable/disk_caches equal the
guest's own /proc/meminfo; used = available - unused; a fill moves them."""

import time

from lane.common import (FILL_MIB, KIB, MEMINFO_TOLERANCE, MIB, STATS_PERIOD_S, require,
                         wait_until)


class TruthCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- check 1
    def compare_with_meminfo(self, tag):
        """Asks guest a for meminfo block TAG and compares it with both exporters."""
        a = self.guests["a"]
        a.send(f"meminfo {tag}")
        meminfo = a.meminfo(tag)
        require(meminfo, f"no complete meminfo block {tag} on the console")
        printed_by = time.time()
        # Stats sampled after the guest printed its block and went idle again:
        # last_update is whole seconds, so strictly greater means later.
        def fresh():
            batch = self.scrape_all()
            stamps = [s.domain(a.name).get("last_update_timestamp_seconds", 0) for s in batch.values()]
            return batch if all(stamp > printed_by for stamp in stamps) else None
        batch = wait_until(6 * STATS_PERIOD_S + 5, f"a balloon sample newer than meminfo {tag}",
                           fresh, interval=0.5)
        guest_view = {
            "available_bytes": meminfo["MemTotal"] * KIB,
            "unused_bytes": meminfo["MemFree"] * KIB,
            "usable_bytes": meminfo["MemAvailable"] * KIB,
            "disk_caches_bytes": (meminfo["Buffers"] + meminfo["Cached"]
                                  + meminfo["SwapCached"]) * KIB,
        }
        worst = 0
        for exporter_tag, scrape in batch.items():
            series = scrape.domain(a.name)
            require(series.get("reported") == 1, f"{exporter_tag}: reported {series.get('reported')}")
            require(series["available_bytes"] == guest_view["available_bytes"],
                    f"{exporter_tag} {tag}: available {series['available_bytes']:.0f} != "
                    f"MemTotal {guest_view['available_bytes']}")
            for name, truth in guest_view.items():
                require(name in series, f"{exporter_tag} {tag}: {name} missing: {series}")
                difference = abs(series[name] - truth)
                worst = max(worst, difference)
                require(difference <= MEMINFO_TOLERANCE,
                        f"{exporter_tag} {tag}: {name} {series[name]:.0f} vs guest {truth} "
                        f"(off by {difference / KIB:.0f} KiB)")
            require(series["used_bytes"] == series["available_bytes"] - series["unused_bytes"],
                    f"{exporter_tag} {tag}: used {series['used_bytes']} != available - unused")
            require(series["current_balloon_bytes"] == 256 * MIB and series["maximum_bytes"] == 256 * MIB,
                    f"{exporter_tag}: current/maximum {series}")
            require(abs(series["last_update_timestamp_seconds"] - time.time()) < 60,
                    f"{exporter_tag}: last_update {series['last_update_timestamp_seconds']}")
        return guest_view, batch["rw"].domain(a.name), worst

    def check_truth(self):
        a = self.guests["a"]
        a.send("balloon")
        wait_until(30, f"{a.name} to report balloon stats to both exporters",
                   lambda: all(s.domain(a.name).get("reported") == 1
                               for s in self.scrape_all().values()), interval=0.5)
        idle, idle_exported, worst_idle = self.compare_with_meminfo("idle")
        a.send(f"fill {FILL_MIB}", timeout=60)
        require(a.has_line(f"LME filled {FILL_MIB}"), f"{a.name} could not fill {FILL_MIB} MiB")
        filled, filled_exported, worst_filled = self.compare_with_meminfo("filled")
        drop = idle_exported["unused_bytes"] - filled_exported["unused_bytes"]
        growth = filled_exported["disk_caches_bytes"] - idle_exported["disk_caches_bytes"]
        # tmpfs pages are page cache, so caches grow by exactly the fill. Free
        # memory also pays for tmpfs metadata and gains whatever the kernel
        # released in between: -0.4 to +0.2 MiB seen, hence 4 MiB either way.
        require(abs(drop - FILL_MIB * MIB) <= 4 * MIB,
                f"unused dropped by {drop / MIB:.2f} MiB after writing {FILL_MIB} MiB")
        require(abs(growth - FILL_MIB * MIB) <= MIB,
                f"disk_caches grew by {growth / MIB:.2f} MiB after writing {FILL_MIB} MiB")
        def mib(value):
            return f"{value / MIB:.2f}"
        return (f"idle: MemTotal/MemFree/MemAvailable/caches "
                f"{mib(idle['available_bytes'])}/{mib(idle['unused_bytes'])}/"
                f"{mib(idle['usable_bytes'])}/{mib(idle['disk_caches_bytes'])} MiB, exporters equal "
                f"(max diff {worst_idle / KIB:.0f} KiB, tolerance {MEMINFO_TOLERANCE // KIB} KiB); "
                f"after fill {FILL_MIB} MiB: unused -{mib(drop)} MiB, disk_caches +{mib(growth)} MiB, "
                f"exporters equal meminfo (max diff {worst_filled / KIB:.0f} KiB); "
                f"used = available - unused in every scrape")
