#!/usr/bin/env python3
"""Sequential scrapes on one keep-alive connection, watching the exporter's
memory: after a warm-up, resident memory must stop growing.

    soak.py --port PORT --pid PID [--scrapes 10000] [--warmup 200]
            [--every 1000] [--path /metrics] [--max-growth-kib 1024]

RSS is sampled every 100 scrapes. A single sample moves by hundreds of KiB
with where the allocator happens to be in its cycle of multi-MiB answer
buffers, so growth is measured between floors: the lowest sample of the
1000 scrapes after the warm-up against the lowest of the last 1000. A leak
raises the floor (1 MiB over 10,000 scrapes is about 100 bytes a scrape).
Prints a row every --every scrapes and a summary; exits 1 when a scrape
fails or the floor grew by --max-growth-kib or more.
"""
import argparse
import http.client
import sys
import time


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
    return int(fields["VmRSS"]), int(fields["VmHWM"]), int(fields["Threads"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--scrapes", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--path", default="/metrics")
    parser.add_argument("--max-growth-kib", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--sample-every", type=int, default=100)
    parser.add_argument("--window", type=int, default=1000)
    args = parser.parse_args()

    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    failures = 0
    reconnects = 0
    body_bytes = 0
    slowest = 0.0
    start = time.monotonic()
    rows = []
    samples = []  # (scrape number, VmRSS)
    print(f"{'scrape':>8} {'VmRSS KiB':>10} {'VmHWM KiB':>10} {'threads':>8} {'elapsed s':>10}")
    for n in range(1, args.scrapes + 1):
        began = time.monotonic()
        try:
            conn.request("GET", args.path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                failures += 1
            body_bytes = len(body)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                reconnects += 1
        except (OSError, http.client.HTTPException) as error:
            # A dropped keep-alive connection is not a failed scrape by
            # itself; the retry on a new connection must work.
            failures += 1
            print(f"scrape {n}: {error!r}", file=sys.stderr)
            conn.close()
            reconnects += 1
        slowest = max(slowest, time.monotonic() - began)
        if n % args.sample_every == 0 or n in (args.warmup, args.scrapes):
            rss, hwm, threads = proc_status(args.pid)
            samples.append((n, rss))
            if n == args.warmup or n % args.every == 0 or n == args.scrapes:
                rows.append((n, rss, hwm, threads))
                print(f"{n:>8} {rss:>10} {hwm:>10} {threads:>8} "
                      f"{time.monotonic() - start:>10.1f}", flush=True)
    conn.close()

    elapsed = time.monotonic() - start
    first = [rss for n, rss in samples
             if args.warmup <= n <= args.warmup + args.window]
    last = [rss for n, rss in samples if n >= args.scrapes - args.window]
    growth = None
    if args.scrapes >= args.warmup + 2 * args.window and first and last:
        warm, end = min(first), min(last)
        growth = end - warm
    print()
    print(f"scrapes             {args.scrapes} in {elapsed:.1f} s "
          f"({args.scrapes / elapsed:.0f}/s, slowest {slowest * 1000:.0f} ms, "
          f"{body_bytes} bytes each)")
    print(f"failed scrapes      {failures}")
    print(f"reconnects          {reconnects}")
    print(f"VmHWM at the end    {rows[-1][2]} KiB")
    print(f"threads             {rows[0][3]} after warm-up, {rows[-1][3]} at the end")
    if growth is None:
        print("RSS growth          n/a (needs warm-up + 2 windows of scrapes)")
        return 1 if failures else 0
    print(f"RSS floor warm      {warm} KiB (scrapes {args.warmup}-{args.warmup + args.window})")
    print(f"RSS floor end       {end} KiB (scrapes {args.scrapes - args.window}-{args.scrapes})")
    print(f"RSS growth          {growth} KiB (limit < {args.max_growth_kib} KiB)")
    ok = failures == 0 and growth < args.max_growth_kib
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
