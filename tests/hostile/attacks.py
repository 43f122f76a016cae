#!/usr/bin/env python3
"""Resource attacks on an HTTP exporter on 127.0.0.1, with a normal scrape
timed before and during each one (issue 14; docs/hardening.md).

    attacks.py --port PORT [--pid PID] [--path /metrics] ATTACK...

ATTACK is one of
  half-open:N        N connections send "GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n"
                     and nothing more
  slowloris:N        N connections send a request line, then one header byte
                     every 2 s, never finishing
  slow-reader:N      N connections send a whole request for the metrics path
                     with a 4 KiB receive buffer, then read 256 bytes a second
  password-flood:R   R requests a second with a wrong basic-auth password, a
                     new one each time as a guesser sends (--user names the
                     user), each on a new connection
Each attack is held for --hold seconds (default 12) while --scrapes normal
scrapes (default 5) are timed one after the other; then the attack ends and
the server must answer again. Prints one table row per attack: unloaded
median, median and worst scrape under attack, the server's threads and RSS
(peak while attacked, from /proc/PID) and its CPU while attacked. --max-ratio
R (default 2) fails a row whose median scrape under attack is slower than R
times the unloaded median (plus --slack-ms, default 10, for scheduling noise
on a shared machine; the worst scrape is shown, not judged: one slow scrape
in five happens on this shared machine with no attack at all);
--close-within S (the server's bound for incomplete requests, below the
hold) fails a half-open or slowloris row unless the server closed each
connection at least once. Connections the server closes are reopened, as
an attacker would, so the count stays up for the whole hold. Every socket has a timeout; the run is bounded by the attacks' holds.
"""
import argparse
import base64
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time

TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(port, timeout=5.0, rcvbuf=None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def scrape(port, path, headers=b"", timeout=20.0):
    """One scrape on a new connection: (status or None, seconds, bytes)."""
    start = time.monotonic()
    try:
        with connect(port, timeout=timeout) as sock:
            sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         + headers + b"Connection: close\r\n\r\n")
            data = bytearray()
            while True:
                chunk = sock.recv(262144)
                if not chunk:
                    break
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
        return status, time.monotonic() - start, len(data)
    except (OSError, ValueError, IndexError):
        return None, time.monotonic() - start, 0


def proc_sample(pid):
    """(threads, RSS KiB, CPU ticks) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read().rsplit(")", 1)[1].split()
        return (int(fields["Threads"]), int(fields["VmRSS"].split()[0]),
                int(stat[11]) + int(stat[12]))
    except (OSError, KeyError, ValueError):
        return None


class Sampler(threading.Thread):
    """Peak threads and RSS of the server every 100 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak_threads, self.peak_rss = pid, 0, 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            sample = proc_sample(self.pid) if self.pid else None
            if sample:
                self.peak_threads = max(self.peak_threads, sample[0])
                self.peak_rss = max(self.peak_rss, sample[1])
            self.stopped.wait(0.1)


class Attack(threading.Thread):
    """Runs one attack until stop() ; counts the connections the server
    closed (closed_by_server) and when the last one was closed."""

    def __init__(self, kind, amount, args):
        super().__init__(daemon=True)
        self.kind, self.amount, self.args = kind, amount, args
        self.stopped = threading.Event()
        self.opened = 0
        self.connect_failures = 0
        self.closed_by_server = 0
        self.requests = 0
        self.answers = {}
        self.error = None

    def stop(self):
        self.stopped.set()
        self.join(30)

    def run(self):
        try:
            getattr(self, "_" + self.kind.replace("-", "_"))()
        except Exception as e:  # reported, not raised: the run goes on
            self.error = "%s: %s" % (e.__class__.__name__, e)

    def _open_one(self, first_bytes, rcvbuf=None):
        try:
            sock = connect(self.args.port, timeout=1, rcvbuf=rcvbuf)
            sock.sendall(first_bytes)
            sock.setblocking(False)
            self.opened += 1
            return sock
        except OSError:
            self.connect_failures += 1
            return None

    def _open_many(self, first_bytes, rcvbuf=None):
        socks = []
        for _ in range(self.amount):
            if self.stopped.is_set():
                break
            sock = self._open_one(first_bytes, rcvbuf)
            if sock:
                socks.append(sock)
        return socks

    def _watch_closed(self, socks, every, first_bytes, send=None):
        """Until stopped: every `every` s, send `send` on each open socket
        and see whether the server closed it (counted, then replaced by a
        new one, as an attacker would, so that `amount` stay open)."""
        live = set(socks)
        while not self.stopped.wait(every):
            while len(live) < self.amount and not self.stopped.is_set():
                sock = self._open_one(first_bytes)
                if not sock:
                    break
                live.add(sock)
            for sock in list(live):
                try:
                    if send:
                        sock.send(send)
                    sock.recv(4096)
                    # EOF, or an answer (a 408, say): it let go of us.
                    raise ConnectionResetError
                except BlockingIOError:
                    continue
                except OSError:
                    self.closed_by_server += 1
                    live.discard(sock)
                    sock.close()
        for sock in live:
            sock.close()

    def _half_open(self):
        first = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
        self._watch_closed(self._open_many(first), 0.5, first)

    def _slowloris(self):
        first = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
        self._watch_closed(self._open_many(first), 2.0, first, send=b"a")

    def _slow_reader(self):
        request = ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % self.args.path).encode()
        socks = self._open_many(request, rcvbuf=4096)
        live = set(socks)
        while not self.stopped.wait(1.0):
            for sock in list(live):
                try:
                    if not sock.recv(256):
                        raise ConnectionResetError
                except BlockingIOError:
                    continue
                except OSError:
                    live.discard(sock)
                    sock.close()
        for sock in live:
            sock.close()

    def _password_flood(self):
        def request(guess):
            header = b"Authorization: Basic " + base64.b64encode(
                self.args.user.encode() + b":guess-%d" % guess) + b"\r\n"
            return (b"GET " + self.args.path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + header
                    + b"Connection: close\r\n\r\n")
        selector = selectors.DefaultSelector()
        interval = 1.0 / self.amount
        next_at = time.monotonic()
        pending = {}
        while not self.stopped.is_set():
            now = time.monotonic()
            while next_at <= now and len(pending) < 2000:
                next_at += interval
                try:
                    sock = socket.socket()
                    sock.setblocking(False)
                    sock.connect_ex(("127.0.0.1", self.args.port))
                    selector.register(sock, selectors.EVENT_WRITE)
                    self.requests += 1
                    pending[sock] = [b"", now, request(self.requests)]
                except OSError:
                    break
            for key, events in selector.select(timeout=min(0.05, max(0, next_at - now))):
                sock = key.fileobj
                try:
                    if events & selectors.EVENT_WRITE:
                        sock.send(pending[sock][2])
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    data = sock.recv(4096)
                    if data:
                        pending[sock][0] += data
                        continue
                except OSError:
                    pass
                answer = pending.pop(sock)[0]
                status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "none"
                self.answers[status] = self.answers.get(status, 0) + 1
                selector.unregister(sock)
                sock.close()
            # Requests unanswered after 10 s count as such and are dropped.
            for sock, (_, started, _) in list(pending.items()):
                if time.monotonic() - started > 10:
                    self.answers["timeout"] = self.answers.get("timeout", 0) + 1
                    selector.unregister(sock)
                    sock.close()
                    del pending[sock]
        for sock in pending:
            selector.unregister(sock)
            sock.close()


def timed_scrapes(args, count):
    times, statuses = [], []
    headers = args.scrape_header.encode() + b"\r\n" if args.scrape_header else b""
    for _ in range(count):
        status, seconds, _ = scrape(args.port, args.path, headers)
        statuses.append(status)
        times.append(seconds)
    return times, statuses


def run_attack(args, spec):
    kind, _, amount = spec.partition(":")
    amount = int(amount)
    base_times, base_statuses = timed_scrapes(args, args.scrapes)
    unloaded = statistics.median(base_times)
    before = proc_sample(args.pid) if args.pid else None
    sampler = Sampler(args.pid)
    sampler.start()
    attack = Attack(kind, amount, args)
    attack.start()
    # Let the attack build up before measuring.
    ramp_deadline = time.monotonic() + 10
    while (attack.opened < amount and kind != "password-flood"
           and time.monotonic() < ramp_deadline and attack.is_alive()):
        time.sleep(0.1)
    time.sleep(1.0)
    started = time.monotonic()
    cpu_start = proc_sample(args.pid)[2] if args.pid else 0
    times, statuses = timed_scrapes(args, args.scrapes)
    remaining = args.hold - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    cpu_end = proc_sample(args.pid)[2] if args.pid else 0
    attacked_seconds = time.monotonic() - started
    attack.stop()
    sampler.stopped.set()
    sampler.join()
    after_status, after_seconds, _ = scrape(args.port, args.path,
                                            args.scrape_header.encode() + b"\r\n"
                                            if args.scrape_header else b"")
    after = proc_sample(args.pid) if args.pid else None
    median = statistics.median(times)
    cores = (cpu_end - cpu_start) / TICKS / attacked_seconds
    cpu_ok = args.max_cpu is None or not args.pid or cores <= args.max_cpu
    ok_status = all(s == 200 for s in statuses + base_statuses) and after_status == 200
    ratio_ok = median <= args.max_ratio * unloaded + args.slack_ms / 1000.0
    closed_ok = True
    if kind in ("half-open", "slowloris") and args.close_within is not None:
        # Each of the first `amount` connections closed at least once.
        closed_ok = attack.closed_by_server >= min(amount, attack.opened)
    row = {
        "attack": "%s %d" % (kind, amount) + (" /s" if kind == "password-flood" else ""),
        "opened": attack.opened if kind != "password-flood" else attack.requests,
        "unloaded_ms": unloaded * 1000,
        "median_ms": median * 1000,
        "worst_ms": max(times) * 1000,
        "statuses": sorted(set(str(s) for s in statuses)),
        "threads": "%s → peak %s → %s" % (before[0] if before else "?", sampler.peak_threads or "?",
                                         after[0] if after else "?"),
        "rss_kib": "%s → peak %s → %s" % (before[1] if before else "?", sampler.peak_rss or "?",
                                         after[1] if after else "?"),
        "cpu": "%.2f cores" % cores if args.pid else "?",
        "closed_by_server": attack.closed_by_server,
        "connect_failures": attack.connect_failures,
        "answers": attack.answers,
        "after_ms": after_seconds * 1000,
        "error": attack.error,
        "ok": ok_status and ratio_ok and closed_ok and cpu_ok and attack.error is None,
    }
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--path", default="/metrics")
    parser.add_argument("--user", default="prometheus")
    parser.add_argument("--scrape-header", default="",
                        help="a header line for the timed scrapes (e.g. Authorization: ...)")
    parser.add_argument("--hold", type=float, default=12)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--max-ratio", type=float, default=2.0)
    parser.add_argument("--slack-ms", type=float, default=10.0)
    parser.add_argument("--max-cpu", type=float,
                        help="fail a row whose server used more cores than this while attacked")
    parser.add_argument("--close-within", type=float,
                        help="the server's bound for incomplete requests; the hold must exceed it")
    parser.add_argument("attacks", nargs="+")
    args = parser.parse_args()
    raise_fd_limit()
    failed = 0
    print("| attack | opened | unloaded | median / worst under attack | statuses | threads "
          "| RSS KiB | CPU | closed by server | after |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for spec in args.attacks:
        row = run_attack(args, spec)
        failed += 0 if row["ok"] else 1
        extra = (" answers %s" % row["answers"]) if row["answers"] else ""
        extra += (" ERROR %s" % row["error"]) if row["error"] else ""
        if row["connect_failures"]:
            extra += " connect failures %d" % row["connect_failures"]
        print("| %s | %d | %.1f ms | %.1f / %.1f ms | %s | %s | %s | %s | %d | %.1f ms |%s %s"
              % (row["attack"], row["opened"], row["unloaded_ms"], row["median_ms"],
                 row["worst_ms"], ",".join(row["statuses"]), row["threads"], row["rss_kib"],
                 row["cpu"], row["closed_by_server"], row["after_ms"], extra,
                 "PASS" if row["ok"] else "FAIL"), flush=True)
    print("%d passed, %d failed" % (len(args.attacks) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
