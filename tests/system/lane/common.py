"""What the checks share: limits, scrapes, exporters, guests."""

import os
import re
import signal
import socket
import subprocess
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
# Why a domain has stats or not (libvirt_domain_memory_stats_status) and its
# stats period: per domain, but not memory series, so Scrape.domain leaves
# them out and Scrape.status / Scrape.period give them.
STATUS = "status"
PERIOD = "period_seconds"
STATUSES = ("reporting", "no_balloon", "no_stats_period", "not_reporting", "stale")
# The exporters keep domain definitions this long (--libvirt.definition-refresh):
# a live stats period change must show within it (and a scrape).
DEFINITION_REFRESH_S = 4
# core/stats_status.h: a running guest's report is stale once older than three
# stats periods plus 10 s.
STALE_AFTER_S = 3 * STATS_PERIOD_S + 10
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
                short = name[len(PREFIX):]
                if short not in (STATUS, PERIOD):
                    out[short] = value
        return out

    def statuses(self, domain):
        """The status label values of a domain's status series (one, normally)."""
        return sorted(dict(labels)["status"] for (name, labels), value in self.samples.items()
                      if name == PREFIX + STATUS and dict(labels).get("domain") == domain
                      and value == 1)

    def period(self, domain):
        """The domain's stats period in seconds, None when not exported."""
        for (name, labels), value in self.samples.items():
            if name == PREFIX + PERIOD and dict(labels).get("domain") == domain:
                return value
        return None

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
    def __init__(self, binary, uri, work, tag, extra_args=()):
        self.tag = tag
        self.log_path = os.path.join(work, f"exporter-{tag}.log")
        self.pid_path = os.path.join(work, f"exporter-{tag}.pid")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary, "--libvirt.uri", uri, "--web.listen-address", "127.0.0.1:0",
             "--log.level", "info",
             "--libvirt.definition-refresh", f"{DEFINITION_REFRESH_S}s", *extra_args],
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
