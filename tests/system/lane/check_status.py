"""Check 7, status: every guest's libvirt_domain_memory_stats_status names why
it has stats or not; a guest whose driver stops after it reported turns
`stale` within the documented threshold and comes back; stats period changes
made live show within the definition refresh interval."""

import time

from lane.common import (DEFINITION_REFRESH_S, GUEST_SIDE, HOST_SIDE, STALE_AFTER_S,
                         STATS_PERIOD_S, CheckFailed, require, wait_until)

LAST_UPDATE = "last_update_timestamp_seconds"
# How far a scrape loop (a scrape of both exporters every 0.25 s) may trail
# the moment a change is due, and whole seconds in last_update.
SCRAPE_SLACK_S = 2


class StatusCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

    # -- helpers
    def statuses_now(self, guest):
        """{exporter tag: (status, period, series)} for one scrape of each."""
        batch = self.scrape_all()
        return {tag: (scrape.statuses(guest.name)[0], scrape.period(guest.name),
                      scrape.domain(guest.name))
                for tag, scrape in batch.items()}

    def wait_for(self, guest, seconds, what, wanted, each=None):
        """Scrapes until every exporter's (status, period, series) of guest
        satisfies wanted; each() sees every scrape before that. Returns the
        seconds it took and the last view."""
        started = time.monotonic()
        while True:
            now = self.statuses_now(guest)
            if all(wanted(*view) for view in now.values()):
                return time.monotonic() - started, now
            if each:
                for tag, view in now.items():
                    each(tag, *view)
            if time.monotonic() - started > seconds:
                raise CheckFailed(f"{guest.name}: not {what} within {seconds}s: {now}")
            time.sleep(0.25)

    def console_count(self, guest, line):
        return guest.console().count(line)

    def command(self, guest, command, stage):
        """Sends command on the control port and waits for one more `stage`
        line (send() alone would find the `done` line of an earlier one)."""
        before = self.console_count(guest, f"LME stage {stage}")
        guest.send(command)
        wait_until(30, f"{guest.name} to reach stage {stage} after '{command}'",
                   lambda: self.console_count(guest, f"LME stage {stage}") > before)

    def libvirt_balloon(self, guest):
        fields = {}
        for item in self.virsh("domstats", "--balloon", guest.name).split():
            if item.startswith("balloon.") and "=" in item:
                key, value = item.removeprefix("balloon.").split("=", 1)
                fields[key] = value
        return fields

    # -- check 7
    def check_status(self):
        a, b, c = (self.guests[key] for key in "abc")
        details = [self.status_steady(a, b, c)]
        details.append(self.status_stale(a))
        details.append(self.status_no_period(a))
        details.append(self.status_period_change(c))
        return "; ".join(details)

    def status_steady(self, a, b, c):
        """One guest per status they have from boot, and their periods."""
        _, view = self.wait_for(a, 10, "reporting", lambda s, p, _: s == "reporting")
        expected = {a.name: ("reporting", STATS_PERIOD_S), b.name: ("no_balloon", None),
                    c.name: ("not_reporting", STATS_PERIOD_S)}
        for guest in (a, b, c):
            for tag, (status, period, _) in self.statuses_now(guest).items():
                require((status, period) == expected[guest.name],
                        f"{tag}: {guest.name} is ({status}, {period}), expected "
                        f"{expected[guest.name]}")
        return ", ".join(f"{name} {status} period {period}"
                         for name, (status, period) in expected.items())

    def status_stale(self, a):
        """The driver is unloaded after it reported: QEMU keeps the last
        report, whose last_update stops; the exporters must call it stale
        once it is STALE_AFTER_S old, not before, withhold its guest-side
        series meanwhile, and call it reporting again when the driver is back."""
        self.command(a, "unload", "balloon-unloaded")
        unloaded_at = time.time()
        frozen = self.libvirt_balloon(a)
        last_update = int(frozen.get("last-update", 0))
        require(last_update > 0 and "available" in frozen,
                f"libvirt after unload: {frozen} (expected the last report kept)")
        stale_due = last_update + STALE_AFTER_S
        early = []

        def not_early(tag, status, _period, series):
            if status == "stale" and time.time() < stale_due - 1:
                early.append((tag, time.time() - last_update))
            if status == "reporting":
                require(series.get(LAST_UPDATE) == last_update or time.time() < unloaded_at + 1,
                        f"{tag}: {a.name} reports anew after unload: {series}")

        waited, view = self.wait_for(a, STALE_AFTER_S + 10, "stale",
                                     lambda s, p, _: s == "stale", not_early)
        stale_seen = time.time()
        require(not early, f"flagged stale before {STALE_AFTER_S}s: {early}")
        require(stale_seen <= stale_due + SCRAPE_SLACK_S,
                f"stale only {stale_seen - last_update:.1f}s after the last report "
                f"(due at {STALE_AFTER_S}s)")
        require(self.libvirt_balloon(a).get("last-update") == str(last_update),
                "libvirt's last-update moved while the driver was unloaded")
        for tag, (_, _, series) in view.items():
            leaked = sorted(set(series) & set(GUEST_SIDE))
            require(not leaked and series.get("reported") == 0,
                    f"{tag}: stale {a.name} still exports {leaked}: {series}")
            require(HOST_SIDE <= set(series) and series.get(LAST_UPDATE) == last_update,
                    f"{tag}: stale {a.name} lost host-side series or its last update: {series}")
        age = stale_seen - last_update
        self.command(a, "balloon", "balloon-loaded")
        back, view = self.wait_for(
            a, 3 * STATS_PERIOD_S + 10, "reporting again",
            lambda s, p, series: s == "reporting" and series.get(LAST_UPDATE, 0) > last_update)
        for tag, (_, _, series) in view.items():
            require(set(GUEST_SIDE) <= set(series) and series["reported"] == 1,
                    f"{tag}: {a.name} reporting again without its guest-side series: {series}")
        return (f"{a.name} unloaded: stale {age:.1f}s after its last report (threshold "
                f"{STALE_AFTER_S}s, waited {waited:.1f}s), guest-side out, last_update kept; "
                f"reporting {back:.1f}s after the driver came back")

    def status_no_period(self, a):
        """Polling switched off live, with the last report left in QEMU."""
        self.virsh("dommemstat", a.name, "--period", "0", "--live")
        took, view = self.wait_for(a, DEFINITION_REFRESH_S + SCRAPE_SLACK_S, "no_stats_period",
                                   lambda s, p, _: s == "no_stats_period" and p == 0)
        leftover = sorted(self.libvirt_balloon(a))
        for tag, (_, _, series) in view.items():
            require(not set(series) & set(GUEST_SIDE) and series.get("reported") == 0
                    and HOST_SIDE <= set(series),
                    f"{tag}: {a.name} with period 0 exports {sorted(series)}")
        self.virsh("dommemstat", a.name, "--period", str(STATS_PERIOD_S), "--live")
        back, _ = self.wait_for(
            a, DEFINITION_REFRESH_S + 2 * STATS_PERIOD_S + SCRAPE_SLACK_S, "reporting again",
            lambda s, p, _: s == "reporting" and p == STATS_PERIOD_S)
        return (f"{a.name} period 0 live: no_stats_period, period_seconds 0 after {took:.1f}s "
                f"(libvirt still returned {', '.join(leftover)}); period {STATS_PERIOD_S} "
                f"again: reporting after {back:.1f}s")

    def status_period_change(self, c):
        """A live period change on a guest whose status does not change (no
        driver): only the definition refresh can show it."""
        self.virsh("dommemstat", c.name, "--period", "5", "--live")
        took, _ = self.wait_for(c, DEFINITION_REFRESH_S + SCRAPE_SLACK_S, "period 5",
                                lambda s, p, _: s == "not_reporting" and p == 5)
        self.virsh("dommemstat", c.name, "--period", str(STATS_PERIOD_S), "--live")
        back, _ = self.wait_for(c, DEFINITION_REFRESH_S + SCRAPE_SLACK_S,
                                f"period {STATS_PERIOD_S}",
                                lambda s, p, _: s == "not_reporting" and p == STATS_PERIOD_S)
        return (f"{c.name} period {STATS_PERIOD_S}->5->{STATS_PERIOD_S} live: shown after "
                f"{took:.1f}s and {back:.1f}s (refresh {DEFINITION_REFRESH_S}s), "
                f"still not_reporting")
