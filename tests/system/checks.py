#!/usr/bin/env python3
"""The system checks: the built exporter against real QEMU guests.

run-system-tests.sh has already started a private libvirtd; this script starts
the guests and two exporters (one per daemon socket), walks the guests through
their states and checks every scrape against what the guests themselves say.
run-system-tests.sh tears everything down afterwards, whatever happens here.

Checks (numbered as in docs/system-tests.md):
  1 truth     exported available/unused/usable/disk_caches equal the guest's
              own /proc/meminfo; used = available - unused; a fill moves them
  2 omission  no balloon device / no guest driver: no guest-side series,
              reported 0, host-side series present
  3 booting   a guest whose driver is not loaded yet has no zero-valued series
  4 destroy   a guest destroyed between two scrapes is gone from the next one,
              quietly (no level=error/warn) and with libvirt_up 1
  5 restart   libvirtd stops: libvirt_up 0, no crash; it starts again: the
              next scrape is complete, with the same exporter process
  6a coalesce ten concurrent scrapes share collections
  6 hung      guest a's QEMU is SIGSTOPped: every scrape still answers within
              the scraper's timeout, a is marked timed_out by the exporter
              whose call is blocked, the others are intact, threads and RSS
              stay bounded; after SIGCONT a reports again
  6b          the same stop seen by the exporter whose call is not the
              blocked one (libvirt still says a's monitor is occupied)
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

KIB = 1024
MIB = 1024 * KIB
STATS_PERIOD_S = 2
FILL_MIB = 64
# An idle guest's MemFree can still move between our meminfo snapshot and the
# balloon driver's sample: per-CPU vmstat deltas are folded into the global
# counters (both readings use) up to once a second. 64 pages covers that; the
# runs so far matched to the KiB.
MEMINFO_TOLERANCE = 256 * KIB
PREFIX = "libvirt_domain_memory_stats_"
GUEST_SIDE = ("available_bytes", "unused_bytes", "used_bytes", "usable_bytes",
              "disk_caches_bytes")
# Counters a reporting guest may legitimately have at 0.
MAY_BE_ZERO = ("swap_in_bytes_total", "swap_out_bytes_total",
               "major_fault_total", "hugetlb_pgalloc_total",
               "hugetlb_pgfail_total")
# 0/1 series every domain has, next to its memory series.
FLAGS = ("reported", "timed_out")
HOST_SIDE = {"current_balloon_bytes", "maximum_bytes", "rss_bytes"}
DOMAIN_MEMORY_SUCCESS = ("libvirt_memory_exporter_scrape_collector_success",
                         {"collector": "domain_memory"})
COLLECTIONS = "libvirt_memory_exporter_collections_total"
# Check 6: the scraper's timeout sent with every scrape, how long guest a's
# QEMU stays stopped, and what the exporter may use meanwhile.
SCRAPE_TIMEOUT_S = 3
HUNG_FOR_S = 20
THREADS_SLACK = 2          # on top of the 4 calls that may stay blocked
WARM_UP_SCRAPES = 160
RSS_GROWTH_LIMIT = 2 * MIB
MARK_WITHIN = 4            # scrapes after SIGSTOP by which a must be marked
MARK_KINDS = re.compile(r"not marked within|unmarked again|never marked|"
                        r"timed_out without collector failure")


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


def log(message):
    print(f"[checks {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until(seconds, what, probe, interval=0.25):
    """Calls probe until it returns something truthy; fails after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise CheckFailed(f"timed out after {seconds}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- exposition

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Scrape:
    samples: dict  # (name, ((label, value), ...)) -> float
    text: str

    def value(self, name, **labels):
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def domain(self, domain):
        """{short metric name: value} of one domain."""
        out = {}
        for (name, labels), value in self.samples.items():
            if name.startswith(PREFIX) and dict(labels).get("domain") == domain:
                out[name[len(PREFIX):]] = value
        return out

    def domain_keys(self):
        return {key for key in self.samples if key[0].startswith(PREFIX)}


def parse_exposition(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            raise CheckFailed(f"unparsable exposition line: {line!r}")
        name, labels, value = match.groups()
        pairs = tuple(sorted(LABEL.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return samples


# ----------------------------------------------------------------- exporter

class Exporter:
    def __init__(self, binary, uri, work, tag):
        self.tag = tag
        self.log_path = os.path.join(work, f"exporter-{tag}.log")
        self.pid_path = os.path.join(work, f"exporter-{tag}.pid")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--libvirt.uri", uri, "--web.listen-address", "127.0.0.1:0",
             "--log.level", "info"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        with open(self.pid_path, "w") as pid_file:
            pid_file.write(f"{self.process.pid}\n")
        self.pid = self.process.pid
        found = wait_until(10, f"exporter {tag} to listen", self._listening)
        self.url = f"http://127.0.0.1:{found}/metrics"
        log(f"exporter {tag}: pid {self.pid}, {self.url}, {uri}")

    def _listening(self):
        if self.process.poll() is not None:
            raise CheckFailed(f"exporter {self.tag} exited with {self.process.returncode}: "
                              f"{self.log_text()}")
        match = re.search(r"msg=listening address=127\.0\.0\.1:(\d+)", self.log_text())
        return match.group(1) if match else None

    def log_text(self):
        with open(self.log_path, errors="replace") as log_file:
            return log_file.read()

    def log_lines(self):
        return self.log_text().splitlines()

    def alive(self):
        return self.process.poll() is None

    def scrape(self):
        require(self.alive(), f"exporter {self.tag} died (exit {self.process.returncode})")
        with urllib.request.urlopen(self.url, timeout=15) as response:
            require(response.status == 200, f"{self.tag}: HTTP {response.status}")
            text = response.read().decode()
        return Scrape(parse_exposition(text), text)

    def curl(self, scrape_timeout=None, max_time=10):
        """One scrape through curl, timed here: (HTTP status, wall seconds,
        curl's own time_total, Scrape or None). Status 0: curl failed."""
        require(self.alive(), f"exporter {self.tag} died (exit {self.process.returncode})")
        command = ["curl", "-sS", "--max-time", str(max_time),
                   "-w", "\nLME-CURL %{http_code} %{time_total}\n"]
        if scrape_timeout is not None:
            command += ["-H", f"X-Prometheus-Scrape-Timeout-Seconds: {scrape_timeout}"]
        started = time.monotonic()
        result = subprocess.run(command + [self.url], capture_output=True, text=True,
                                timeout=max_time + 5)
        wall = time.monotonic() - started
        body, _, trailer = result.stdout.rpartition("\nLME-CURL ")
        fields = trailer.split()
        status = int(fields[0]) if result.returncode == 0 and len(fields) == 2 else 0
        curl_total = float(fields[1]) if len(fields) == 2 else wall
        scrape = Scrape(parse_exposition(body), body) if status == 200 else None
        return status, wall, curl_total, scrape

    def threads_and_rss(self):
        """(Threads, VmRSS in bytes) from /proc/PID/status."""
        values = {}
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("Threads", "VmRSS"):
                    values[key] = int(rest.split()[0])
        return values["Threads"], values["VmRSS"] * KIB

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        return self.process.returncode


def problems(lines):
    """Log lines at level error or warn."""
    return [line for line in lines if re.search(r"\blevel=(error|warn)\b", line)]


def distribution(values):
    """min/median/p90/max of a list of seconds, as text."""
    ordered = sorted(values)
    if not ordered:
        return "none"
    def at(fraction):
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
    return (f"min {ordered[0]:.3f} / median {at(0.5):.3f} / p90 {at(0.9):.3f} / "
            f"max {ordered[-1]:.3f} s")


# -------------------------------------------------------------------- guests

@dataclass
class Guest:
    key: str
    name: str
    memory_mib: int
    balloon: str          # virtio | none
    driver: str           # now | gated | never
    control: bool = False
    directory: str = ""
    control_socket: object = None
    seen_booting: int = field(default=0)

    @property
    def console_path(self):
        return os.path.join(self.directory, "console.log")

    @property
    def control_path(self):
        return os.path.join(self.directory, "control.sock")

    def domain_xml(self, kernel, initrd, work):
        # lme.work is for the host only: it puts the work directory on QEMU's
        # command line, where the teardown's leftover scan looks for it.
        cmdline = f"console=ttyS0 panic=-1 lme.balloon={self.driver} lme.work={work}"
        if self.control:
            cmdline += " lme.control=1"
        if self.balloon == "virtio":
            balloon = (f"<memballoon model='virtio'><stats period='{STATS_PERIOD_S}'/>"
                       "</memballoon>")
        else:
            balloon = "<memballoon model='none'/>"
        control = ""
        if self.control:
            control = (f"<serial type='unix'><source mode='bind' path='{escape(self.control_path)}'/>"
                       "<target port='1'/></serial>")
        # on_reboot=destroy: panic=-1 turns a guest crash into a reboot, and a
        # vanished guest fails the run loudly instead of booting in a loop.
        return f"""<domain type='qemu'>
  <name>{self.name}</name>
  <memory unit='MiB'>{self.memory_mib}</memory>
  <currentMemory unit='MiB'>{self.memory_mib}</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(kernel)}</kernel>
    <initrd>{escape(initrd)}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='{escape(self.console_path)}'/><target port='0'/></serial>
    {control}
    {balloon}
  </devices>
</domain>
"""

    def console(self):
        try:
            with open(self.console_path, errors="replace") as console:
                return [line.rstrip() for line in console.read().splitlines()]
        except FileNotFoundError:
            return []

    def has_line(self, line):
        return line in self.console()

    def meminfo(self, tag):
        """The guest's /proc/meminfo block TAG in KiB, or None before it is complete."""
        lines = self.console()
        if f"LME mi-end {tag}" not in lines:
            return None
        values = {}
        for line in lines:
            match = re.match(rf"^LME mi {re.escape(tag)} (\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?$", line)
            if match:
                values[match.group(1)] = int(match.group(2))
        return values

    def send(self, command, timeout=30):
        """Sends a command on ttyS1 and waits until the guest has done it."""
        if self.control_socket is None:
            # Kept open for the guest's lifetime: QEMU takes at most the UART's
            # FIFO trigger level at a time and drops the rest on hangup.
            self.control_socket = socket.socket(socket.AF_UNIX)
            self.control_socket.settimeout(10)
            self.control_socket.connect(self.control_path)
        self.control_socket.sendall(f"{command}\n".encode())
        wait_until(timeout, f"{self.name} to finish '{command}'",
                   lambda: self.has_line(f"LME done {command}"))

    def close(self):
        if self.control_socket is not None:
            self.control_socket.close()
            self.control_socket = None


# --------------------------------------------------------------------- lane

class Lane:
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

    # -- check 6
    def guest_pid(self, guest):
        """PID of guest's QEMU from libvirt's pid file in the private /run/libvirt,
        after checking that its command line names that guest of this work dir."""
        path = os.path.join(self.work, "root", "run", "qemu", f"{guest.name}.pid")
        with open(path) as pid_file:
            pid = int(pid_file.read().strip())
        require(self.runs_guest(pid, guest), f"pid {pid} from {path} is not {guest.name}'s QEMU")
        return pid

    def runs_guest(self, pid, guest):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                args = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return ("qemu-system" in args and f"guest={guest.name}," in args
                and f"lme.work={self.work} " in args)

    @staticmethod
    def process_state(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rpartition(")")[2].split()[0]
        except OSError:
            return None

    def hung_scrape(self, exporter, seen, stopped_at, phase):
        """One scrape while guest a is stopped (or recovering), held to check
        6's rules. Returns the Scrape (None unless HTTP 200); what it found
        wrong goes to seen["problems"], one example per kind."""
        a, others = self.guests["a"], (self.guests["b"], self.guests["c"])
        status, wall, curl_total, scrape = exporter.curl(SCRAPE_TIMEOUT_S)
        at = time.monotonic() - stopped_at
        number = len(seen["trace"]) + 1
        where = f"{exporter.tag} {phase} scrape {number} ({at:.1f}s after SIGSTOP)"

        def problem(kind, detail):
            seen["problems"].setdefault(kind, []).append(f"{where}: {detail}")

        if phase == "stopped":
            seen["walls"].append(wall)
            seen["curl"].append(curl_total)
        if wall >= SCRAPE_TIMEOUT_S:
            problem("over the scraper's timeout", f"took {wall:.3f}s")
        if status != 200:
            problem("not HTTP 200", f"HTTP {status} after {wall:.3f}s")
            seen["trace"].append(f"{at:6.2f} {phase:9} {exporter.tag} #{number:<3} HTTP {status} "
                                 f"wall {wall:.3f}s")
            return None
        try:
            self.validate({exporter.tag: scrape})
            self.scrapes_validated += 1
        except CheckFailed as failure:
            problem("invariant", str(failure))
        if scrape.value("libvirt_up") != 1:
            problem("libvirt_up not 1", f"libvirt_up {scrape.value('libvirt_up')}")
        for guest in others:
            series = scrape.domain(guest.name)
            missing = (HOST_SIDE | set(FLAGS)) - set(series)
            if missing or series.get("reported") != 0 or series.get("timed_out") != 0:
                problem("other guests not intact", f"{guest.name}: {series}")
        series = scrape.domain(a.name)
        if not {"current_balloon_bytes", "maximum_bytes"} <= set(series):
            problem(f"{a.name} lost host-side series", str(series))
        success = {collector: scrape.value(DOMAIN_MEMORY_SUCCESS[0], collector=collector)
                   for collector in ("domain_memory", "node_memory")}
        took = {collector: scrape.value("libvirt_memory_exporter_scrape_collector_duration_seconds",
                                        collector=collector)
                for collector in ("domain_memory", "node_memory")}
        if success["node_memory"] != 1:
            problem("node_memory failed", "host memory does not depend on the guest, yet "
                                          f"node_memory success {success['node_memory']}")
        timed_out = series.get("timed_out")
        if phase == "stopped":
            if timed_out == 1:
                seen["marked"] += 1
                if seen["first_mark"] is None:
                    seen["first_mark"], seen["first_mark_s"] = number, at
                if success["domain_memory"] != 0:
                    problem("timed_out without collector failure",
                            f"domain_memory success {success['domain_memory']}")
            elif seen["first_mark"] is not None:
                problem(f"{a.name} unmarked again while stopped",
                        f"{series}, domain_memory success {success['domain_memory']}")
            elif number > MARK_WITHIN:
                problem(f"{a.name} not marked within {MARK_WITHIN} scrapes",
                        f"{series}, domain_memory success {success['domain_memory']}")
        seen["trace"].append(
            f"{at:6.2f} {phase:9} {exporter.tag} #{number:<3} HTTP {status} wall {wall:.3f}s "
            f"(curl {curl_total:.3f}s) up {scrape.value('libvirt_up'):.0f} "
            f"a: reported {series.get('reported')} timed_out {timed_out}; success/duration "
            f"domain_memory {success['domain_memory']}/{took['domain_memory']:.3f}s "
            f"node_memory {success['node_memory']}/{took['node_memory']:.3f}s")
        return scrape

    def check_hung_guest(self):
        """Guest a's QEMU stops answering its monitor: scrapes stay bounded."""
        a, b, c = (self.guests[key] for key in "abc")
        for tag, scrape in self.scrape_all().items():
            require(scrape.domain(a.name).get("reported") == 1, f"{tag}: {a.name} is not reporting")
            for guest in (b, c):
                require(scrape.domain(guest.name), f"{tag}: {guest.name} missing")
        pid = self.guest_pid(a)
        # Every scrape may land on any of the server's scrape threads, whose
        # stacks are touched for the first time then: warm them all up so the
        # baseline is the steady state, not a cold start.
        for _ in range(WARM_UP_SCRAPES):
            self.scrape_all()
        time.sleep(0.5)  # let the last scrape's call threads end
        baseline = {e.tag: e.threads_and_rss() for e in self.exporters}
        marks = {e.tag: len(e.log_lines()) for e in self.exporters}
        seen = {e.tag: {"walls": [], "curl": [], "marked": 0, "first_mark": None,
                        "first_mark_s": None, "problems": {}, "trace": [],
                        "threads": [], "rss": []}
                for e in self.exporters}
        recovered = {}
        # The teardown resumes every guest of the work dir anyway (libvirtd.sh).
        marker = os.path.join(self.work, "stopped-qemu.pid")
        with open(marker, "w") as out:
            out.write(f"{pid}\n")
        self.may_time_out.add(a.name)
        stopped_at = time.monotonic()
        try:
            os.kill(pid, signal.SIGSTOP)
            try:
                wait_until(5, f"{a.name}'s QEMU (pid {pid}) to stop",
                           lambda: self.process_state(pid) == "T", interval=0.05)
                # rw first: its own call is the one that reaches the stopped
                # monitor and holds a's job; ro then finds the job taken (as
                # when any other libvirt client's call is stuck on the guest).
                while time.monotonic() - stopped_at < HUNG_FOR_S:
                    for exporter in self.exporters:
                        self.hung_scrape(exporter, seen[exporter.tag], stopped_at, "stopped")
                        threads, rss = exporter.threads_and_rss()
                        seen[exporter.tag]["threads"].append(threads)
                        seen[exporter.tag]["rss"].append(rss)
                    time.sleep(0.2)
            finally:
                if self.runs_guest(pid, a):
                    os.kill(pid, signal.SIGCONT)
                os.remove(marker)
            resumed_at = time.monotonic()
            stopped_for = resumed_at - stopped_at
            require(self.process_state(pid) != "T", f"{a.name}'s QEMU still stopped after SIGCONT")

            # Recovery: a reports again, unmarked, and the collector succeeds.
            def recovery():
                for exporter in self.exporters:
                    if exporter.tag in recovered:
                        continue
                    scrape = self.hung_scrape(exporter, seen[exporter.tag], stopped_at, "resumed")
                    seen[exporter.tag]["recovery_scrapes"] = seen[exporter.tag].get(
                        "recovery_scrapes", 0) + 1
                    if scrape is None:
                        continue
                    series = scrape.domain(a.name)
                    if (series.get("reported") == 1 and "available_bytes" in series
                            and "unused_bytes" in series and series.get("timed_out") == 0
                            and scrape.value(DOMAIN_MEMORY_SUCCESS[0],
                                             **DOMAIN_MEMORY_SUCCESS[1]) == 1
                            and scrape.value("libvirt_up") == 1):
                        recovered[exporter.tag] = (time.monotonic() - resumed_at,
                                                   seen[exporter.tag]["recovery_scrapes"])
                return len(recovered) == len(self.exporters)
            try:
                wait_until(20, f"{a.name} to report again after SIGCONT", recovery, interval=0.3)
            except CheckFailed:
                pass  # reported below, with everything else
        finally:
            self.may_time_out.discard(a.name)
            for exporter in self.exporters:
                self.excused_lines[exporter.tag].append((marks[exporter.tag],
                                                         len(exporter.log_lines())))
            with open(os.path.join(self.work, "hung-guest-scrapes.txt"), "w") as out:
                for tag, mine in seen.items():
                    out.write(f"== {tag}: seconds after SIGSTOP, phase, scrape\n")
                    out.write("\n".join(mine["trace"]) + "\n")

        time.sleep(1.0)  # the blocked call returns once QEMU answers, then its thread ends
        after = {e.tag: e.threads_and_rss() for e in self.exporters}
        details = [f"{a.name}'s QEMU (pid {pid}) SIGSTOPped for {stopped_for:.1f}s, scraped with "
                   f"X-Prometheus-Scrape-Timeout-Seconds: {SCRAPE_TIMEOUT_S} (rw first: its own "
                   f"call holds a's job; ro finds it held)"]
        failures = []
        for exporter in self.exporters:
            tag, mine = exporter.tag, seen[exporter.tag]
            problems_found = mine["problems"]
            base_threads, base_rss = baseline[tag]
            after_threads, after_rss = after[tag]
            max_threads = max(mine["threads"], default=base_threads)
            max_rss = max(mine["rss"], default=base_rss)
            if max_threads > base_threads + 4 + THREADS_SLACK:
                problems_found.setdefault("threads", []).append(
                    f"{base_threads} -> {max_threads} while stopped (limit "
                    f"{base_threads + 4 + THREADS_SLACK})")
            if after_threads > base_threads + THREADS_SLACK:
                problems_found.setdefault("threads", []).append(
                    f"{base_threads} -> {after_threads} after recovery")
            for when, rss in (("while stopped", max_rss), ("after recovery", after_rss)):
                if rss - base_rss >= RSS_GROWTH_LIMIT:
                    problems_found.setdefault("VmRSS", []).append(
                        f"{base_rss / MIB:.2f} -> {rss / MIB:.2f} MiB {when}")
            if mine["first_mark"] is None and len(mine["walls"]) <= MARK_WITHIN:
                problems_found.setdefault(f"{a.name} never marked", []).append(
                    f"only {len(mine['walls'])} scrapes")
            if tag not in recovered:
                problems_found.setdefault("no recovery", []).append(
                    f"{a.name} not reporting again within 20s of SIGCONT")
            window = exporter.log_lines()[marks[tag]:]
            failed_lines = sum("collector failed" in line for line in window)
            recovered_lines = sum("collector recovered" in line for line in window)
            unexpected = [line for line in problems(window) if "collector failed" not in line]
            if unexpected:
                problems_found.setdefault("unexpected log lines", []).extend(unexpected)
            walls = mine["walls"]
            mark = (f"timed_out 1 first in scrape {mine['first_mark']} "
                    f"({mine['first_mark_s']:.1f}s after SIGSTOP), in {mine['marked']}/{len(walls)}"
                    if mine["first_mark"] is not None else
                    f"timed_out never 1 in {len(walls)} scrapes")
            recovery = (f"recovered {recovered[tag][0]:.2f}s after SIGCONT "
                        f"(scrape {recovered[tag][1]} after it)" if tag in recovered
                        else "NOT recovered")
            details.append(
                f"{tag}: {len(walls)} scrapes while stopped, wall {distribution(walls)} "
                f"(first {walls[0] if walls else 0:.3f}s, {sum(w >= 1 for w in walls)} >= 1s; "
                f"curl's own {distribution(mine['curl'])}); {mark}; threads {base_threads} -> "
                f"max {max_threads} -> {after_threads}; VmRSS {base_rss / MIB:.2f} -> max "
                f"{max_rss / MIB:.2f} -> {after_rss / MIB:.2f} MiB; {recovery}; log: "
                f"{failed_lines} 'collector failed', {recovered_lines} 'collector recovered'")
            for kind, examples in problems_found.items():
                failures.append(f"{tag} {kind} (x{len(examples)}; first: {examples[0]})")
        details.append("per-scrape trace: hung-guest-scrapes.txt")
        # ro never holds a's job (rw's blocked call does), as when any other
        # libvirt client's call is the one stuck on the guest. Whether it
        # marks a is reported on its own line, 6b, so that 6 stays about the
        # exporter whose own call is blocked.
        elsewhere = [f for f in failures if f.startswith("ro ") and MARK_KINDS.search(f)]
        failures = [f for f in failures if f not in elsewhere]
        ro = seen["ro"]
        self.job_elsewhere = ("6b job-elsewhere", not elsewhere,
                    f"ro (a's job held by rw's blocked call; libvirt says a's monitor is "
                    f"occupied): timed_out 1 in {ro['marked']}/{len(ro['walls'])} scrapes"
                    + (" || " + " | ".join(elsewhere) if elsewhere else ""))
        if failures:
            raise CheckFailed("; ".join(details) + f" || {len(failures)} FAILURE(S): "
                              + " | ".join(failures))
        return "; ".join(details)

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
        # Needs all three guests and a reporting: before the destroys.
        self.run_check("6a coalesce", self.check_coalescing)
        self.job_elsewhere = None
        self.run_check("6 hung-guest", self.check_hung_guest)
        if self.job_elsewhere:
            self.record(*self.job_elsewhere)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--libvirtd-script", required=True)
    args = parser.parse_args()
    # timeout(1) stops us with SIGTERM: unwind so the exporters get stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    lane = Lane(args)
    try:
        return lane.run()
    finally:
        for exporter in lane.exporters:
            if exporter.alive():
                exporter.stop()


if __name__ == "__main__":
    sys.exit(main())
