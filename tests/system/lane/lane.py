"""The lane: its guests and exporters, the invariants every scrape is held
to, and the order the checks run in. Each check is a mixin in its own module."""

import os
import subprocess
import time

from lane.common import (CheckFailed, Exporter, FLAGS, GUEST_SIDE, Guest, MAY_BE_ZERO,
                         STATUSES, log, problems, require)
from lane.check_booting import BootingCheck
from lane.check_omission import OmissionCheck
from lane.check_truth import TruthCheck
from lane.check_coalescing import CoalescingCheck
from lane.check_hung_guest import HungGuestCheck
from lane.check_destroy import DestroyCheck
from lane.check_restart import RestartCheck
from lane.check_serial import SerialCheck
from lane.check_status import StatusCheck


class Lane(BootingCheck, OmissionCheck, TruthCheck, CoalescingCheck, HungGuestCheck,
           StatusCheck, DestroyCheck, RestartCheck, SerialCheck):
    """Three guests, two exporters, and the checks run on them in order."""

    def __init__(self, args):
        self.args = args
        self.work = args.work
        sock = os.path.join(self.work, "sock")
        self.rw_uri = f"qemu:///system?socket={sock}/libvirt-sock"
        self.ro_uri = f"qemu:///system?socket={sock}/libvirt-sock-ro"
        self.guests = {
            "a": Guest("a", "lme-sys-balloon", 256, "virtio", "gated", control=True),
            "b": Guest("b", "lme-sys-nodevice", 128, "none", "now"),
            "c": Guest("c", "lme-sys-nodriver", 128, "virtio", "never"),
        }
        for guest in self.guests.values():
            guest.directory = os.path.join(self.work, "guests", guest.key)
            os.makedirs(guest.directory, exist_ok=True)
        self.exporters = []
        self.results = []  # (check, passed, detail)
        self.timings = {}
        self.phase = "setup"
        self.scrapes_validated = 0
        # Domains being destroyed right now, and how often each showed rss 0.
        self.dying = {}
        # Domains that may be marked timed_out right now (check 6); any other
        # domain must have timed_out 0 in every scrape.
        self.may_time_out = set()
        # Per exporter: log line ranges in which check 6 expects its
        # 'collector failed' lines; checks 4 and 5 look at the rest.
        self.excused_lines = {"rw": [], "ro": []}

    # -- helpers
    def virsh(self, *args, timeout=30):
        result = subprocess.run(["virsh", "-q", "-c", self.rw_uri, *args],
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise CheckFailed(f"virsh {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def libvirtd(self, action):
        subprocess.run([self.args.libvirtd_script, self.work, action], check=True,
                       timeout=150)

    def scrape_all(self):
        """One scrape of each exporter, held to the invariants of every scrape."""
        batch = {exporter.tag: exporter.scrape() for exporter in self.exporters}
        self.validate(batch)
        self.scrapes_validated += len(batch)
        return batch

    def unexcused_problems(self, exporter, since=0):
        """error/warn lines from line `since` on, except in check 6's windows."""
        lines = exporter.log_lines()
        keep = []
        for number, line in enumerate(lines):
            if number < since or any(start <= number < end
                                     for start, end in self.excused_lines[exporter.tag]):
                continue
            keep.append(line)
        return problems(keep)

    def record(self, check, passed, detail):
        self.results.append((check, passed, detail))
        log(f"{'PASS' if passed else 'FAIL'} {check}: {detail}")

    def run_check(self, check, function):
        started = time.monotonic()
        self.phase = check
        try:
            detail = function()
            self.record(check, True, detail)
        except CheckFailed as failure:
            self.record(check, False, str(failure))
            self.dump_context(check)
        except (subprocess.SubprocessError, OSError) as failure:
            self.record(check, False, f"{type(failure).__name__}: {failure}")
            self.dump_context(check)
        self.timings[check] = time.monotonic() - started

    def dump_context(self, check):
        """What libvirt and the exporters said at the moment a check failed."""
        path = os.path.join(self.work, f"failure-{check.split()[0]}.txt")
        with open(path, "w") as out:
            for exporter in self.exporters:
                try:
                    out.write(f"== scrape {exporter.tag}\n{exporter.scrape().text}\n")
                except Exception as error:  # the context is best effort
                    out.write(f"== scrape {exporter.tag} failed: {error}\n")
            try:
                out.write("== virsh domstats --balloon\n" + self.virsh("domstats", "--balloon"))
            except Exception as error:
                out.write(f"== virsh domstats failed: {error}\n")
        log(f"context of the failure: {path}")

    # -- setup
    def start_exporters(self):
        self.exporters = [Exporter(self.args.exporter, self.rw_uri, self.work, "rw"),
                          Exporter(self.args.exporter, self.ro_uri, self.work, "ro")]
        for tag, scrape in self.scrape_all().items():
            require(scrape.value("libvirt_up") == 1, f"{tag}: libvirt_up is not 1 before any guest")
            require(scrape.value("libvirt_domains") == 0, f"{tag}: domains before any guest")

    def start_guests(self):
        for guest in self.guests.values():
            xml_path = os.path.join(guest.directory, "domain.xml")
            with open(xml_path, "w") as xml:
                xml.write(guest.domain_xml(self.args.kernel, self.args.initrd, self.work))
            self.virsh("create", xml_path)
        log("guests created: " + ", ".join(g.name for g in self.guests.values()))

    # -- invariants every scrape must hold
    def validate(self, batch):
        for tag, scrape in batch.items():
            where = f"{tag} ({self.phase})"
            if scrape.value("libvirt_up") != 1:
                require(scrape.value("libvirt_domains") is None,
                        f"{where}: libvirt_domains exported while libvirt_up is 0")
            for guest in self.guests.values():
                series = scrape.domain(guest.name)
                if not series:
                    continue
                reported = series.get("reported")
                require(reported in (0, 1), f"{where}: {guest.name} reported={reported}")
                self.validate_status(where, guest, scrape, reported)
                timed_out = series.get("timed_out")
                require(timed_out in (0, 1), f"{where}: {guest.name} timed_out={timed_out}")
                require(timed_out == 0 or guest.name in self.may_time_out,
                        f"{where}: {guest.name} marked timed_out: {series}")
                require(not (timed_out and reported),
                        f"{where}: {guest.name} both reported and timed_out: {series}")
                both = "available_bytes" in series and "unused_bytes" in series
                require(bool(reported) == both,
                        f"{where}: {guest.name} reported={reported} but {sorted(series)}")
                if reported == 0:
                    leaked = sorted(set(series) & set(GUEST_SIDE))
                    require(not leaked, f"{where}: {guest.name} not reporting but has "
                                        f"{leaked}: {series}")
                elif series["unused_bytes"] <= series["available_bytes"]:
                    require(series.get("used_bytes") ==
                            series["available_bytes"] - series["unused_bytes"],
                            f"{where}: {guest.name} used != available - unused: {series}")
                zeros = sorted(name for name, value in series.items()
                               if value == 0 and name not in FLAGS
                               and not (reported == 1 and name in MAY_BE_ZERO))
                if guest.name in self.dying and zeros == ["rss_bytes"]:
                    # libvirt itself answers rss=0 for a domain in the middle
                    # of its destroy (virsh domstats shows it too).
                    self.dying[guest.name] += 1
                    continue
                require(not zeros, f"{where}: {guest.name} has zero-valued {zeros}: {series}")

    def validate_status(self, where, guest, scrape, reported):
        """One status series that names a known status; a guest whose status
        is not `reporting` exports nothing guest-side (reported 0); the stats
        period is exported exactly for a guest with a balloon device."""
        statuses = scrape.statuses(guest.name)
        require(len(statuses) == 1 and statuses[0] in STATUSES,
                f"{where}: {guest.name} has status series {statuses}")
        require(statuses[0] == "reporting" or reported == 0,
                f"{where}: {guest.name} is {statuses[0]} but reported={reported}")
        has_period = scrape.period(guest.name) is not None
        require(has_period == (guest.balloon == "virtio"),
                f"{where}: {guest.name} ({guest.balloon}) period_seconds "
                f"{scrape.period(guest.name)}")
        require(guest.balloon == "virtio" or statuses[0] == "no_balloon",
                f"{where}: {guest.name} without a device is {statuses[0]}")

    # -- run
    def run(self):
        started = time.monotonic()
        try:
            self.start_exporters()
            self.start_guests()
            self.boot_summary = self.watch_boot()
            self.ready_at = time.monotonic()
            log(f"all guests booted in {self.timings['boot']:.1f}s ({self.boot_summary})")
        except (CheckFailed, subprocess.SubprocessError, OSError) as failure:
            self.record("setup", False, str(failure))
            return self.finish(started)
        self.run_check("3 booting", self.check_booting)
        self.run_check("2 omission", self.check_omission)
        self.run_check("1 truth", self.check_truth)
        self.run_check("7 serial-equal", self.check_serial_equal)
        # Needs all three guests and a reporting: before the destroys.
        self.run_check("6a coalesce", self.check_coalescing)
        self.job_elsewhere = None
        self.run_check("6 hung-guest", self.check_hung_guest)
        if self.job_elsewhere:
            self.record(*self.job_elsewhere)
        # Needs all three guests, and a reporting again after check 6.
        self.run_check("7 status", self.check_status)
        self.run_check("4 destroy", self.check_destroy)
        self.run_check("5 restart", self.check_restart)
        self.run_check("4b destroy-race", self.check_destroy_while_scraping)
        return self.finish(started)

    def finish(self, started):
        for guest in self.guests.values():
            guest.close()
        for exporter in self.exporters:
            code = exporter.stop()
            if code != 0:
                self.record(f"exporter {exporter.tag} exit", False, f"exit status {code} on SIGTERM")
        report = [f"{'PASS' if ok else 'FAIL'}  {check:16} {self.timings.get(check, 0):5.1f}s  {detail}"
                  for check, ok, detail in self.results]
        report.append(f"checks took {time.monotonic() - started:.1f}s "
                      f"(guests booted in {self.timings.get('boot', 0):.1f}s); "
                      f"{self.scrapes_validated} scrapes held to the invariants of every scrape "
                      f"(no zero-valued series, no guest-side series without a report, "
                      f"used = available - unused)")
        text = "\n".join(report)
        with open(os.path.join(self.work, "report.txt"), "w") as out:
            out.write(text + "\n")
        print("\n===== system checks =====\n" + text, flush=True)
        return 0 if self.results and all(ok for _, ok, _ in self.results) else 1
