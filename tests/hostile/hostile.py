#!/usr/bin/env python3
"""Hostile HTTP clients against a running exporter on 127.0.0.1.

    hostile.py --port PORT [--pid PID] [--slow-clients 100] [--hold 15]
               [--threads 8]

Malformed and abusive requests must each get a 4xx answer, never a 5xx, a
crash or a hang; pipelined requests must be answered in order; and a normal
scrape must still be answered within 2 s while slow clients hold
connections with a partial request. Prints one row per check and exits 1 if
any failed. Every socket has a timeout, so the whole run is bounded
(about 25 s with the defaults).
"""
import argparse
import os
import socket
import sys
import time

ANSWER_TIMEOUT = 5.0  # a bad request answered later than this is a hang
SCRAPE_DEADLINE = 2.0  # what "a normal scrape still works" means

results = []  # (name, ok, detail)


def record(name, ok, detail, warn=False):
    results.append((name, ok, detail))
    word = "FAIL" if not ok else "WARN" if warn else "PASS"
    print(f"{word}  {name:<46} {detail}", flush=True)


def connect(port, timeout=ANSWER_TIMEOUT):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


class MalformedAnswer(Exception):
    pass


class Reader:
    """Reads HTTP/1.x responses off a socket: Content-Length or chunked
    framing, else to the end of the connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        try:
            version, status = lines[0].split()[:2]
            status = int(status)
        except ValueError:
            raise MalformedAnswer(lines[0][:40]) from None
        if not version.startswith(b"HTTP/"):
            raise MalformedAnswer(lines[0][:40])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"-1"))
        if head_only or length == 0:
            return status, headers, b""
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            return status, headers, self._chunked_body()
        if length < 0:
            # No length: the body runs to the end of the connection.
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self.buffer = self.buffer, b""
            return status, headers, body
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body


    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _chunked_body(self):
        body = b""
        while True:
            line = self._line()
            try:
                size = int(line, 16)
            except ValueError:
                raise MalformedAnswer(b"chunk size " + line[:20]) from None
            while len(self.buffer) < size + 2:
                self._fill()
            if self.buffer[size:size + 2] != b"\r\n":
                raise MalformedAnswer(b"chunk without CRLF")
            body += self.buffer[:size]
            self.buffer = self.buffer[size + 2:]
            if size == 0:
                return body


def send_and_read(port, payload):
    """Sends payload, returns (status or None, seconds, note)."""
    start = time.monotonic()
    try:
        with connect(port) as sock:
            try:
                sock.sendall(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer and close before reading it all.
                pass
            status, _, _ = Reader(sock).response()
            return status, time.monotonic() - start, ""
    except socket.timeout:
        return None, time.monotonic() - start, "no answer (timeout)"
    except EOFError:
        return None, time.monotonic() - start, "closed without an answer"
    except MalformedAnswer as error:
        return None, time.monotonic() - start, f"malformed answer {error}"
    except (ConnectionResetError, BrokenPipeError) as error:
        return None, time.monotonic() - start, f"reset ({error.__class__.__name__})"


def check_bad_request(port, name, payload, allowed=range(400, 500),
                      closing_is_ok=False):
    """closing_is_ok: a server may drop some request forms without a status
    line; that is neither a 5xx nor a hang, so it is shown as WARN."""
    status, seconds, note = send_and_read(port, payload)
    closed = status is None and note.startswith("closed") and seconds < ANSWER_TIMEOUT
    ok = (status is not None and status in allowed) or (closing_is_ok and closed)
    detail = f"{status} in {seconds * 1000:.0f} ms" if status else f"{note} after {seconds:.1f} s"
    record(name, ok, detail, warn=closed)


def scrape(port, timeout=SCRAPE_DEADLINE):
    """A normal scrape on a new connection: (status or None, seconds)."""
    start = time.monotonic()
    try:
        with connect(port, timeout=timeout) as sock:
            sock.settimeout(max(0.01, timeout))
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")
            status, _, body = Reader(sock).response()
            ok = status == 200 and b"\nlibvirt_up 1\n" in b"\n" + body
            return (status if ok else f"{status} without libvirt_up 1"), \
                time.monotonic() - start
    except (socket.timeout, EOFError, OSError, MalformedAnswer):
        return None, time.monotonic() - start


def check_pipelined(port):
    """Answers must come back in order. The server may close after an answer
    that says "Connection: close"; the
    client then sends what was not answered on a new connection, as HTTP
    clients do. Closing without saying so, or a wrong answer, fails."""
    requests = [(b"GET", b"/metrics", 200), (b"GET", b"/", 200),
                (b"GET", b"/nope", 404), (b"HEAD", b"/metrics", 200),
                (b"DELETE", b"/metrics", 405), (b"GET", b"/metrics", 200)]
    want = [status for _, _, status in requests]
    got = []
    connections = 0
    problem = ""
    start = time.monotonic()
    while len(got) < len(requests) and not problem and connections < len(requests):
        pending = requests[len(got):]
        connections += 1
        try:
            with connect(port) as sock:
                sock.sendall(b"".join(
                    m + b" " + p + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                    for m, p, _ in pending))
                reader = Reader(sock)
                for method, _, _ in pending:
                    status, headers, _ = reader.response(head_only=method == b"HEAD")
                    got.append(status)
                    if headers.get(b"connection", b"").lower() == b"close":
                        break
        except EOFError:
            problem = "closed without Connection: close"
        except MalformedAnswer as error:
            problem = f"malformed answer {error}"
        except (socket.timeout, OSError) as error:
            problem = error.__class__.__name__
    ok = got == want and not problem
    record(f"{len(requests)} pipelined requests, answered in order", ok,
           f"{got} on {connections} connections in "
           f"{(time.monotonic() - start) * 1000:.0f} ms"
           + (f", {problem}" if problem else "")
           + ("" if got == want else f", expected {want}"))


def open_slow_clients(port, count):
    """Connections that send the start of a request and then nothing."""
    sockets = []
    for _ in range(count):
        try:
            sock = connect(port, timeout=2)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sockets.append(sock)
        except OSError:
            break
    return sockets


def check_slow_clients(port, count, hold, threads):
    # N-1, N, then the whole crowd held for `hold` seconds: each step
    # separately, so a failure shows where the server's capacity ends.
    held = open_slow_clients(port, threads - 1)
    time.sleep(0.3)
    status, seconds = scrape(port)
    record(f"scrape with {len(held)} slow clients",
           status == 200, f"{status} in {seconds * 1000:.0f} ms")

    held += open_slow_clients(port, 1)
    time.sleep(0.3)
    status, seconds = scrape(port)
    record(f"scrape within {SCRAPE_DEADLINE:.0f} s with {len(held)} slow clients",
           status == 200,
           f"{status} in {seconds * 1000:.0f} ms" if status
           else f"no answer within {SCRAPE_DEADLINE:.0f} s")

    held += open_slow_clients(port, count - len(held))
    opened_at = time.monotonic()
    time.sleep(0.3)
    status, seconds = scrape(port)
    record(f"scrape within {SCRAPE_DEADLINE:.0f} s while {len(held)} slow clients hold",
           status == 200,
           f"{status} in {seconds * 1000:.0f} ms" if status
           else f"no answer within {SCRAPE_DEADLINE:.0f} s")
    if status != 200:
        # How long the pool stays blocked: keep asking until the hold ends.
        remaining = hold - (time.monotonic() - opened_at)
        status, seconds = scrape(port, timeout=max(0.5, remaining))
        record(f"  ... same scrape, waiting up to the {hold:.0f} s hold", status == 200,
               f"{status} after {seconds:.1f} s" if status
               else f"still no answer after {seconds:.1f} s")
    remaining = hold - (time.monotonic() - opened_at)
    if remaining > 0:
        time.sleep(remaining)
    dropped = 0
    for sock in held:
        # EOF or an answer (a 408, say) means the server let go of it.
        sock.setblocking(False)
        try:
            sock.recv(4096)
            dropped += 1
        except BlockingIOError:
            pass
        except OSError:
            dropped += 1
    for sock in held:
        sock.close()
    record(f"slow clients dropped by the server within {hold:.0f} s",
           True, f"{dropped} of {len(held)} (informational)")
    time.sleep(0.2)
    status, seconds = scrape(port)
    record("scrape within 2 s after the slow clients left", status == 200,
           f"{status} in {seconds * 1000:.0f} ms" if status else "no answer")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--slow-clients", type=int, default=100)
    parser.add_argument("--hold", type=float, default=15)
    parser.add_argument("--threads", type=int, default=8,
                        help="the first steps of slow clients to try (N-1, then N); "
                             "tests/hostile/attacks.py holds a thousand (docs/hardening.md)")
    parser.add_argument("--only-slow", action="store_true",
                        help="only the slow-client checks (to try server options)")
    args = parser.parse_args()
    port = args.port
    host = b"Host: 127.0.0.1\r\n"

    status, seconds = scrape(port)
    record("baseline scrape", status == 200, f"{status} in {seconds * 1000:.0f} ms")
    if args.only_slow:
        check_slow_clients(port, args.slow_clients, args.hold, args.threads)
        return summary()

    check_bad_request(port, "64 KiB header",
                      b"GET /metrics HTTP/1.1\r\n" + host + b"X-Big: "
                      + b"a" * 65536 + b"\r\n\r\n")
    # Not malformed, just many: answered.
    check_bad_request(port, "1000 headers",
                      b"GET /metrics HTTP/1.1\r\n" + host
                      + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n",
                      allowed=[200] + list(range(400, 500)))
    for method in (b"BREW", b"DELETE", b"OPTIONS", b"PUT", b"POST", b"TRACE"):
        check_bad_request(port, f"{method.decode()} /metrics",
                          method + b" /metrics HTTP/1.1\r\n" + host
                          + b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    check_bad_request(port, "BREW / (landing page)",
                      b"BREW / HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
    check_bad_request(port, "100 KiB path",
                      b"GET /" + b"a" * 102400 + b" HTTP/1.1\r\n" + host + b"\r\n")
    check_bad_request(port, "NUL byte in the path",
                      b"GET /met\x00rics HTTP/1.1\r\n" + host
                      + b"Connection: close\r\n\r\n")
    check_bad_request(port, "NUL byte in a header",
                      b"GET /metrics HTTP/1.1\r\n" + host
                      + b"X-A: a\x00b\r\nConnection: close\r\n\r\n")
    check_bad_request(port, "not HTTP (TLS ClientHello bytes)",
                      b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64)
                      + b"\r\n\r\n")
    check_bad_request(port, "negative Content-Length",
                      b"GET /metrics HTTP/1.1\r\n" + host
                      + b"Content-Length: -1\r\nConnection: close\r\n\r\n")
    check_bad_request(port, "path traversal /../../etc/passwd",
                      b"GET /../../etc/passwd HTTP/1.1\r\n" + host
                      + b"Connection: close\r\n\r\n")
    # 505 is the answer HTTP defines for this (RFC 9110, 15.6.6): the one
    # 5xx that says "your request", not "my fault".
    check_bad_request(port, "HTTP/9.9", b"GET /metrics HTTP/9.9\r\n" + host
                      + b"Connection: close\r\n\r\n",
                      allowed=list(range(400, 500)) + [505])
    for target in (b"*", b"http://elsewhere.example/metrics"):
        check_bad_request(port, f"OPTIONS {target.decode()}",
                          b"OPTIONS " + target + b" HTTP/1.1\r\n" + host
                          + b"Connection: close\r\n\r\n", closing_is_ok=True)
    # A scraper timeout header that is not a number must not break the scrape.
    for value in (b"nan", b"-1", b"1e308", b"inf", b"0x10", b"9" * 400):
        status, seconds, note = send_and_read(
            port, b"GET /metrics HTTP/1.1\r\n" + host
            + b"X-Prometheus-Scrape-Timeout-Seconds: " + value
            + b"\r\nConnection: close\r\n\r\n")
        shown = value if len(value) < 12 else value[:6] + b"..."
        record(f"scrape timeout header {shown.decode()}", status == 200,
               f"{status} in {seconds * 1000:.0f} ms" if status else note)

    check_pipelined(port)
    check_slow_clients(port, args.slow_clients, args.hold, args.threads)

    if args.pid:
        try:
            os.kill(args.pid, 0)
            record("exporter still running", True, f"pid {args.pid}")
        except ProcessLookupError:
            record("exporter still running", False, f"pid {args.pid} is gone")

    return summary()


def summary():
    failed = [name for name, ok, _ in results if not ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
