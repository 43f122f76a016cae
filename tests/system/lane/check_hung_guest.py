"""Checks 6 and 6b, the hung guest: guest a's QEMU is SIGSTOPped; every
scrape still answers in time and a is marked timed_out; after SIGCONT a
reports again."""

import os
import signal
import time

from lane.common import (CheckFailed, DOMAIN_MEMORY_SUCCESS, FLAGS, HOST_SIDE, HUNG_FOR_S,
                         MARK_KINDS, MARK_WITHIN, MIB, RSS_GROWTH_LIMIT, SCRAPE_TIMEOUT_S,
                         THREADS_SLACK, WARM_UP_SCRAPES, distribution, problems, require,
                         wait_until)


class HungGuestCheck:
    """Mixed into lane.lane.Lane, whose state it uses."""

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
