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
                               if value == 0 and name != "reported"
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
                require(set(series) == {"current_balloon_bytes", "maximum_bytes", "rss_bytes",
                                        "reported"},
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
            bad = problems(exporter.log_lines())
            require(not bad, f"{exporter.tag} logged: {bad}")
        return (f"{b.name} in scrape before, gone from the next one; libvirt_domains "
                f"{before['rw'].value('libvirt_domains'):.0f} -> {after['rw'].value('libvirt_domains'):.0f}, "
                f"libvirt_up 1, no level=error/warn lines in either log since start")

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
            lines = exporter.log_lines()
            errors = [line for line in problems(lines) if "collector failed" not in line]
            require(not errors, f"{exporter.tag}: unexpected problem lines {errors}")
        failures = [line for line in problems(self.exporters[0].log_lines())]
        details.append(f"same exporter processes; the rw log has {len(failures)} error line(s), "
                       f"all 'collector failed' while down: {failures[:1]}")
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
