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
import signal
import sys

from lane.lane import Lane


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
