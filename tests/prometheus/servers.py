"""Starting and stopping the processes of the Prometheus tests and the series budget (Python
standard library only): exporters and Prometheus servers on loopback, on ports the kernel picks at
run time, stopped by PID.

Every child gets PR_SET_PDEATHSIG, so it is ended even when the test itself is killed with
SIGKILL, which runs no cleanup; otherwise Processes.stop_all() ends them: SIGTERM, then SIGKILL
after a grace period. Every wait is bounded.
"""

import ctypes
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PR_SET_PDEATHSIG = 1


class Failure(Exception):
    pass


def wait_until(predicate, timeout, what, interval=0.2):
    """Polls predicate until it returns something true, which is returned; raises Failure naming
    `what` once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def free_port():
    """A port the kernel just handed out on 127.0.0.1, for servers that cannot report the port
    they picked themselves (Prometheus). Someone may take it before we do: callers retry."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_on_signals():
    """Turns SIGTERM and SIGINT into SystemExit, so that `finally` blocks stop the children."""
    def leave(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGINT, leave)


class Processes:
    """The processes one test started, each with its stderr in log_dir/NAME.log."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.started = []

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop_all()

    def log_path(self, name):
        return self.log_dir / f"{name}.log"

    def start(self, name, argv):
        with open(self.log_path(name), "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log, preexec_fn=_die_with_parent)
        proc.name = name
        self.started.append(proc)
        return proc

    def log_text(self, name):
        try:
            return self.log_path(name).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def print_logs(self, lines=30, out=sys.stderr):
        for proc in self.started:
            tail = self.log_text(proc.name).splitlines()[-lines:]
            print(f"--- {proc.name} (pid {proc.pid}, last {len(tail)} lines of its log)", file=out)
            for line in tail:
                print(line, file=out)

    @staticmethod
    def stop(proc, grace=10.0):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)

    def stop_all(self, grace=10.0):
        """Sends SIGTERM to every process still running, the last started first, then waits for
        each (SIGKILL after the grace period). Processes that must stop in order (a Prometheus
        agent flushes to its central server when it stops) are stopped with stop() first."""
        running = [p for p in reversed(self.started) if p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            self.stop(proc, grace)


def start_exporter(processes, binary, name, args):
    """Starts the exporter on 127.0.0.1 and a port the kernel picks; returns (process, address)
    once it logs the address it listens on."""
    proc = processes.start(name, [binary, "--web.listen-address", "127.0.0.1:0", *args])

    def listening():
        m = re.search(r"msg=listening address=(\S+)", processes.log_text(name))
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise Failure(f"exporter {name} exited with {proc.returncode} at start")
        return None
    return proc, wait_until(listening, 15, f"exporter {name} listening", interval=0.05)


class PrometheusBinary:
    """A Prometheus server binary and the flags its version wants for agent mode and the
    remote-write receiver: Debian 12's 2.42 and Debian 13's 2.53 take --enable-feature=agent and
    --web.enable-remote-write-receiver; Prometheus 3 takes --agent."""

    def __init__(self, path):
        self.path = path
        run = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
        text = run.stdout + run.stderr
        self.agent_flags = (["--agent"] if re.search(r"^\s*--agent\b", text, re.MULTILINE)
                            else ["--enable-feature=agent"])
        self.receiver_flags = (["--web.enable-remote-write-receiver"]
                               if "--web.enable-remote-write-receiver" in text
                               else ["--enable-feature=remote-write-receiver"])
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        m = re.search(r"version (\S+)", version.stdout + version.stderr)
        self.version = m.group(1) if m else "unknown"

    def start(self, processes, name, work_dir, write_config, agent=False, receiver=False,
              attempts=3):
        """Starts a server on a free loopback port; write_config(port) returns the path of its
        configuration (the port is known before the start, for a self-scrape). Returns
        (process, url) once /-/ready answers. The lifecycle and admin APIs stay off (their
        default): nothing here reloads or deletes."""
        for attempt in range(1, attempts + 1):
            port = free_port()
            data = Path(work_dir) / f"{name}-data-{attempt}"
            storage = "--storage.agent.path" if agent else "--storage.tsdb.path"
            argv = [self.path, f"--config.file={write_config(port)}", f"{storage}={data}",
                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
            argv += self.agent_flags if agent else []
            argv += self.receiver_flags if receiver else []
            proc = processes.start(f"{name}-{attempt}" if attempt > 1 else name, argv)
            url = f"http://127.0.0.1:{port}"

            def ready():
                if proc.poll() is not None:
                    return "exited"
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
                        return "ready" if answer.status == 200 else None
                except OSError:
                    return None
            if wait_until(ready, 30, f"Prometheus {name} ready on port {port}") == "ready":
                return proc, url
            print(f"Prometheus {name} exited (attempt {attempt}): port {port} taken?",
                  file=sys.stderr)
        raise Failure(f"Prometheus {name} did not start in {attempts} attempts")


def scrape(url, gzip=False, timeout=10):
    """GETs url; returns (headers, body bytes as sent on the wire)."""
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.headers, answer.read()
