"""Check 7, serial equal: the rw exporter fetches in batches at once
(--libvirt.max-concurrent-calls, default 4: the three guests are three
batches, each on a connection of its own); an exporter with 1 makes today's
one bulk call. Both see the same guests, domain by domain: the same series,
and the same values for all but those that move between two scrapes."""

from lane.common import CheckFailed, Exporter, require, wait_until

# Read from the guest's balloon driver or the host at each sample: equal
# only when both scrapes fall between the same two samples.
MOVING = {"rss_bytes", "unused_bytes", "usable_bytes", "used_bytes", "disk_caches_bytes",
          "last_update_timestamp_seconds", "major_fault_total", "minor_fault_total",
          "swap_in_bytes_total", "swap_out_bytes_total"}
ROUNDS = 5


class SerialCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    def compare_serial(self, serial):
        batched = self.exporters[0].scrape()  # rw: the default, batches at once
        one_call = serial.scrape()
        for guest in self.guests.values():
            ours, theirs = batched.domain(guest.name), one_call.domain(guest.name)
            if set(ours) != set(theirs):
                return f"{guest.name}: series {sorted(ours)} batched vs {sorted(theirs)} serial"
            for name in sorted(set(ours) - MOVING):
                if ours[name] != theirs[name]:
                    return f"{guest.name}: {name} {ours[name]} batched vs {theirs[name]} serial"
        for name in ("libvirt_domains", "libvirt_up"):
            if batched.value(name) != one_call.value(name):
                return f"{name} {batched.value(name)} batched vs {one_call.value(name)} serial"
        return None

    # -- check 7
    def check_serial_equal(self):
        require(self.exporters[0].tag == "rw", "the first exporter is not rw")
        serial = Exporter(self.args.exporter, self.rw_uri, self.work, "serial",
                          ["--libvirt.max-concurrent-calls", "1"])
        try:
            last = [None]

            def agree():
                last[0] = self.compare_serial(serial)
                return last[0] is None
            for _ in range(ROUNDS):
                # A guest's sample may land between the two scrapes: try again.
                try:
                    wait_until(10, "batched and serial scrapes to agree", agree, interval=0.2)
                except CheckFailed as failure:
                    raise CheckFailed(f"{failure}: {last[0]}") from None
            problems = [line for line in serial.log_lines() if "level=warn" in line
                        or "level=error" in line]
            require(not problems, f"serial exporter logged: {problems}")
            require("batches share one" not in self.exporters[0].log_text(),
                    "rw could not open a connection per batch")
            moving = sorted(MOVING & set(self.exporters[0].scrape().domain(self.guests["a"].name)))
            return (f"{ROUNDS} pairs of scrapes, rw in batches (default "
                    f"--libvirt.max-concurrent-calls 4) vs one bulk call: same series and "
                    f"same values but {moving} for {', '.join(g.name for g in self.guests.values())}")
        finally:
            serial.stop()
