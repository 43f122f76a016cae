"""Opt-in part of the benchmark (bench/run.sh --real-guests): real QEMU guests
under the private libvirtd, where the bulk call returns the balloon fields
itself. Compares, interleaved on the same guests:
  bulk        virConnectGetAllDomainStats alone (on QEMU it returns every
              field the exporter needs)
  per-domain  virConnectListAllDomains, then virDomainGetInfo +
              virDomainMemoryStats per domain (the exporter's fallback path)
  raw         the exporter's calls (bench/raw_fetch.cc's default mode)
  ours        a full HTTP scrape of the exporter, one call at a time
and for each level of --concurrency above 1 (issue 16): the raw fetch in that
many batches at once on one connection and on a connection per batch, the
bulk call alone in batches, and the exporter with
--libvirt.max-concurrent-calls at that level.
Guests are tiny: a Debian cloud kernel and a busybox initramfs that loads the
virtio balloon driver and sleeps (docs/benchmarks.md)."""

import glob
import os
import re
import shutil
import signal
import subprocess
import time

import bench

GUEST_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev",
                 "virtio_pci_legacy_dev", "virtio_pci", "virtio_balloon"]

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in %s; do
  [ -f /modules/$m.ko ] && insmod /modules/$m.ko
done
echo LME-GUEST-READY
while true; do sleep 3600; done
""" % " ".join(GUEST_MODULES)


def run(cmd, **kwargs):
    kwargs.setdefault("check", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run(cmd, **kwargs)


def prepare_guest_files(cache_dir):
    """Kernel and initramfs, cached across runs (the kernel package is the
    only download: about 27 MB from Debian's archive)."""
    os.makedirs(cache_dir, exist_ok=True)
    kernel = os.path.join(cache_dir, "vmlinuz")
    initrd = os.path.join(cache_dir, "initrd.gz")
    if os.path.exists(kernel) and os.path.exists(initrd):
        return kernel, initrd
    for tool in ("apt-get", "apt-cache", "dpkg-deb", "depmod", "cpio", "gzip"):
        if not shutil.which(tool):
            raise bench.BenchError("guest image needs %s" % tool)
    if not os.path.exists("/bin/busybox"):
        raise bench.BenchError("guest image needs /bin/busybox (apt-get install busybox-static)")
    depends = run(["apt-cache", "depends", "linux-image-cloud-amd64"],
                  capture_output=True, text=True).stdout
    match = re.search(r"Depends: (linux-image-(\S+)-cloud-amd64)", depends)
    if not match:
        raise bench.BenchError("no linux-image-cloud-amd64 in apt's lists (apt-get update?)")
    package, version = match.group(1), match.group(2) + "-cloud-amd64"
    download = os.path.join(cache_dir, "download")
    shutil.rmtree(download, ignore_errors=True)
    os.makedirs(download)
    bench.log("downloading %s" % package)
    # _apt cannot write into root's cache directory: download as root.
    run(["apt-get", "-o", "APT::Sandbox::User=root", "download", package], cwd=download,
        stdout=subprocess.DEVNULL)
    deb = glob.glob(os.path.join(download, "*.deb"))[0]
    tree = os.path.join(download, "tree")
    run(["dpkg-deb", "-x", deb, tree])
    modules = os.path.join(tree, "lib", "modules", version)
    root = os.path.join(download, "initramfs")
    for sub in ("bin", "proc", "sys", "dev", "modules"):
        os.makedirs(os.path.join(root, sub))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for name in GUEST_MODULES:
        found = (glob.glob(os.path.join(modules, "**", name + ".ko"), recursive=True) or
                 glob.glob(os.path.join(modules, "**", name.replace("_", "-") + ".ko"),
                           recursive=True))
        if found:  # absent means built into this kernel
            shutil.copy(found[0], os.path.join(root, "modules", name + ".ko"))
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    listing = run(["find", "."], cwd=root, capture_output=True).stdout
    archive = run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=listing,
                  capture_output=True).stdout
    with open(initrd + ".tmp", "wb") as f:
        f.write(run(["gzip", "-9"], input=archive, capture_output=True).stdout)
    shutil.copy(os.path.join(tree, "boot", "vmlinuz-" + version), kernel + ".tmp")
    os.rename(initrd + ".tmp", initrd)
    os.rename(kernel + ".tmp", kernel)
    shutil.rmtree(download)
    return kernel, initrd


def domain_xml(name, index, kernel, initrd, serial_log, memory_mib, work):
    # lme.work marks the QEMU process as this daemon's, for the teardown of
    # tests/system/lib/libvirtd.sh to find it should the daemon die first.
    return """<domain type='qemu'>
  <name>%s</name>
  <uuid>7e1b2c3d-0000-4000-8000-%012d</uuid>
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel><initrd>%s</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet lme.work=%s</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='%s'/><target port='0'/></serial>
    <memballoon model='virtio'><stats period='2'/></memballoon>
  </devices>
</domain>
""" % (name, index, memory_mib, kernel, initrd, work, serial_log)


def virsh(daemon, *args, read_only=False, check=True):
    uri = "qemu:///system?socket=" + daemon.socket(read_only)
    return run(["virsh", "-c", uri] + list(args), capture_output=True, text=True,
               check=check, timeout=60)


def start_guests(daemon, count, kernel, initrd, work_dir):
    names = ["lme-bench-guest-%d" % i for i in range(count)]
    for i, name in enumerate(names):
        xml = os.path.join(work_dir, name + ".xml")
        with open(xml, "w") as f:
            f.write(domain_xml(name, i, kernel, initrd,
                               os.path.join(work_dir, name + ".serial"), 128,
                               os.path.realpath(daemon.dir)))
        virsh(daemon, "create", xml)
        # Staggered: booting guests in software emulation share two cores.
        time.sleep(1.0)
    deadline = time.monotonic() + 180
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            out = virsh(daemon, "dommemstat", name, read_only=True, check=False).stdout
            if re.search(r"^usable ", out, re.M):
                pending.discard(name)
        time.sleep(1.0)
    if pending:
        raise bench.BenchError("guests without balloon stats after 180 s: %s"
                               % ", ".join(sorted(pending)))
    return names


def leftover_cgroups():
    return glob.glob("/sys/fs/cgroup/*/machine") + glob.glob("/sys/fs/cgroup/machine.slice")


def run_real_guests(args):
    if not shutil.which("qemu-system-x86_64"):
        bench.log("bench: qemu-system-x86_64 missing (apt-get install qemu-system-x86); skipping")
        return bench.SKIP
    cache = os.path.expanduser(os.environ.get("LME_BENCH_CACHE", "~/.cache/lme-bench"))
    kernel, initrd = prepare_guest_files(cache)
    cgroups_before = set(leftover_cgroups())
    daemon = bench.PrivateDaemon(args.work_dir)
    subjects = []
    client = bench.ScrapeClient(args.scrape_client)
    started = time.time()
    rounds = args.rounds or 30
    try:
        daemon.start()
        boot = time.monotonic()
        names = start_guests(daemon, args.guests, kernel, initrd, args.work_dir)
        bench.log("%d guests up with balloon stats in %.0f s" % (len(names), time.monotonic() - boot))
        uri = "qemu:///system?socket=" + daemon.socket()
        # The exporter's groups (STATE and BALLOON) are raw_fetch's default.
        bulk = bench.RawFetch(args.raw_fetch, uri, "bulk")
        bulk.name = "bulk"
        per_domain = bench.RawFetch(args.raw_fetch, uri, "per-domain")
        per_domain.name = "per-domain"
        ours = bench.HttpExporter("ours", [args.exporter, "--web.listen-address", "127.0.0.1:0",
                                           "--libvirt.uri", uri,
                                           "--libvirt.max-concurrent-calls", "1"],
                                  os.path.join(args.work_dir, "ours-guests.log"), client)
        raw = bench.RawFetch(args.raw_fetch, uri, "exporter")
        raw.name = "raw"
        # What each stats group costs: QEMU answers some through its monitor.
        bulk_balloon = bench.RawFetch(args.raw_fetch, uri, "bulk", "balloon")
        bulk_balloon.name = "bulk-balloon"
        bulk_with_vcpu = bench.RawFetch(args.raw_fetch, uri, "bulk", "state,vcpu,balloon")
        bulk_with_vcpu.name = "bulk-with-vcpu"
        subjects = [bulk, bulk_with_vcpu, bulk_balloon, per_domain, raw, ours]
        levels = [int(c) for c in args.concurrency.split(",") if c and int(c) > 1]
        for level in levels:
            for connections in ("shared", "own"):
                subjects.append(bench.RawFetch(args.raw_fetch, uri, "exporter",
                                               concurrency=level, connections=connections,
                                               name="raw-c%d-%s" % (level, connections)))
            subjects.append(bench.RawFetch(args.raw_fetch, uri, "bulk", concurrency=level,
                                           connections="own", name="bulk-c%d-own" % level))
            subjects.append(bench.HttpExporter(
                "ours-c%d" % level,
                [args.exporter, "--web.listen-address", "127.0.0.1:0", "--libvirt.uri", uri,
                 "--libvirt.max-concurrent-calls", str(level)],
                os.path.join(args.work_dir, "ours-guests-c%d.log" % level), client))
        for subject in subjects:
            if isinstance(subject, bench.HttpExporter):
                subject.wait_ready()
        samples = {s.name: [] for s in subjects}
        daemon_ticks = {s.name: 0 for s in subjects}
        for subject in subjects:
            subject.measure()
        for r in range(rounds):
            k = r % len(subjects)
            for subject in subjects[k:] + subjects[:k]:
                bench.settle([s.pid for s in subjects] + [daemon.pid])
                before = bench.proc_cpu_ticks(daemon.pid)
                samples[subject.name].append(subject.measure())
                daemon_ticks[subject.name] += bench.proc_cpu_ticks(daemon.pid) - before
        checks = {s.name: dict(s.last) for s in subjects if isinstance(s, bench.RawFetch)}
        reported = {s.name: len(re.findall(r"^libvirt_domain_memory_stats_reported\{[^}]*\} 1$",
                                           s.body.decode(), re.M))
                    for s in subjects if isinstance(s, bench.HttpExporter)}
    except bench.BenchError as e:
        bench.log("bench: %s" % e)
        return 1
    finally:
        for subject in reversed(subjects):
            subject.close()
        client.close()
        daemon.stop()
        new_cgroups = set(leftover_cgroups()) - cgroups_before
        for path in new_cgroups:  # an empty cgroup directory is removed with rmdir
            for sub in sorted(glob.glob(os.path.join(path, "**/"), recursive=True), reverse=True):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass

    lines = ["# Real QEMU guests: bulk call vs per-domain calls", "",
             "Run `bench/run.sh --real-guests --guests %d` on %s, started %s. %d guests "
             "(`type='qemu'`, software emulation, 128 MiB, virtio balloon with a 2 s stats "
             "period) under a private libvirtd; %d interleaved rounds; shared, noisy machine. "
             "Measured: %s."
             % (args.guests, bench.machine_line(),
                time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(started)),
                len(names), rounds, bench.source_state(args.exporter)), "",
             "| fetch | libvirt RPCs | median ms | p95 ms | per guest ms | libvirtd CPU ms/fetch | "
             "guests with balloon stats |",
             "|---|---|---|---|---|---|---|"]
    labels = {"bulk": "bulk call alone (STATE, BALLOON: the exporter's groups)",
              "bulk-with-vcpu": "bulk call with the VCPU group too (STATE, VCPU, BALLOON)",
              "bulk-balloon": "bulk call, BALLOON only",
              "per-domain": "per-domain calls (virDomainGetInfo + virDomainMemoryStats)",
              "raw": "the exporter's calls (raw fetch)",
              "ours": "exporter HTTP scrape, one call at a time"}
    for level in levels:
        labels["raw-c%d-shared" % level] = ("the exporter's calls, %d batches at once, "
                                            "one connection" % level)
        labels["raw-c%d-own" % level] = ("the exporter's calls, %d batches at once, "
                                         "a connection each" % level)
        labels["bulk-c%d-own" % level] = "bulk call alone, %d batches at once" % level
        labels["ours-c%d" % level] = "exporter HTTP scrape, %d calls at once" % level
    for subject in subjects:
        ms = samples[subject.name]
        check = checks.get(subject.name, checks["raw"])
        with_stats = (checks[subject.name]["with_stats"] if subject.name in checks
                      else reported[subject.name])
        lines.append("| %s | %d | %s | %s | %s | %s | %d of %d |" % (
            labels[subject.name], check["calls"],
            bench.fmt(bench.median(ms), 2), bench.fmt(bench.p95(ms), 2),
            bench.fmt(bench.median(ms) / len(names), 2),
            bench.fmt(daemon_ticks[subject.name] * 1000.0 / bench.TICKS_PER_SECOND / len(ms), 2),
            with_stats, len(names)))
    med = {name: bench.median(values) for name, values in samples.items()}
    lines += ["", "Per-domain calls take %.2f× the exporter's bulk call; adding the VCPU group "
              "would make the bulk call %.2f× what it is (the exporter reads vCPUs once per "
              "domain start instead); the exporter's scrape takes %.2f× its raw libvirt calls."
              % (med["per-domain"] / med["bulk"], med["bulk-with-vcpu"] / med["bulk"],
                 med["ours"] / med["raw"]), ""]
    for level in levels:
        fastest = min(med["raw-c%d-shared" % level], med["raw-c%d-own" % level])
        ratio = med["ours-c%d" % level] / fastest
        lines += ["At %d calls at once the exporter's scrape takes %s ms, %.2f× the fastest raw "
                  "fetch at that concurrency (%s ms) — target ≤ 1.2×: %s — and %.2f× its serial "
                  "scrape; the serial bulk call alone takes %s ms, in %d batches %s ms."
                  % (level, bench.fmt(med["ours-c%d" % level], 2), ratio, bench.fmt(fastest, 2),
                     "met" if ratio <= 1.2 else "MISSED", med["ours-c%d" % level] / med["ours"],
                     bench.fmt(med["bulk"], 2), level, bench.fmt(med["bulk-c%d-own" % level], 2)),
                  ""]
    text = "\n".join(lines)
    out_dir = args.out_dir if not args.smoke else args.work_dir
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "real-guests.md"), "w") as f:
        f.write(text)
    print(text)
    bench.log("written: %s" % os.path.join(out_dir, "real-guests.md"))
    return 0


def qemu_pid(daemon, name):
    """The guest's QEMU, from libvirt's pid file in the private /run (as the
    system lane finds it), checked against its command line."""
    with open(os.path.join(daemon.dir, "root", "run", "qemu", name + ".pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        if ("guest=" + name).encode() not in f.read():
            raise bench.BenchError("pid %d is not %s's QEMU" % (pid, name))
    return pid


STUCK_FOR_S = 8


def stuck_batch_round(args, uri, pid, level, connections):
    """One bulk fetch in `level` batches while the first guest's QEMU is
    stopped: when did each batch's call return?"""
    fetch = subprocess.Popen([args.raw_fetch, "--uri", uri, "--mode", "bulk", "--concurrency",
                              str(level), "--connections", connections],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        if not fetch.stdout.readline().startswith("ready"):
            raise bench.BenchError("lme-raw-fetch did not start")
        # The connections open (and list) on the first fetch: not during the stop.
        fetch.stdin.write("fetch\n")
        fetch.stdin.flush()
        fetch.stdout.readline()
        os.kill(pid, signal.SIGSTOP)
        try:
            fetch.stdin.write("fetch\n")
            fetch.stdin.flush()
            time.sleep(STUCK_FOR_S)
        finally:
            os.kill(pid, signal.SIGCONT)
        line = fetch.stdout.readline()
        fetch.stdin.write("quit\n")
        fetch.stdin.flush()
        fetch.wait(timeout=30)
    finally:
        if fetch.poll() is None:
            fetch.kill()
            fetch.wait()
    match = re.search(r"batch_ends_ms:(\S+)", line)
    if not match:
        raise bench.BenchError("lme-raw-fetch: %s" % line.strip())
    return [float(x) for x in match.group(1).split("/")]


def run_stuck_batch(args):
    """Do batches on one connection stall together behind a stopped guest
    (issue 16)? The first guest (by UUID: the first batch's) is SIGSTOPped
    for STUCK_FOR_S while the bulk call runs in batches, on one connection
    and on a connection each; three rounds each."""
    cache = os.path.expanduser(os.environ.get("LME_BENCH_CACHE", "~/.cache/lme-bench"))
    kernel, initrd = prepare_guest_files(cache)
    daemon = bench.PrivateDaemon(args.work_dir)
    level = max(int(c) for c in args.concurrency.split(",") if c)
    results = []
    try:
        daemon.start()
        names = start_guests(daemon, args.guests, kernel, initrd, args.work_dir)
        uri = "qemu:///system?socket=" + daemon.socket()
        pid = qemu_pid(daemon, names[0])  # UUID ...000000: the first batch
        for round_number in range(3):
            for connections in ("shared", "own"):
                ends = stuck_batch_round(args, uri, pid, level, connections)
                bench.log("round %d, %s: batch ends %s ms" % (round_number + 1, connections, ends))
                results.append((connections, ends))
                time.sleep(2)  # the guest catches up on its stats
    except bench.BenchError as e:
        bench.log("bench: %s" % e)
        return 1
    finally:
        daemon.stop()
    lines = ["# A stopped guest and batches at once", "",
             "%d guests, the bulk call (`virDomainListGetStats`, NOWAIT) in %d batches; the first "
             "batch's guest SIGSTOPped for %d s. Each batch's return, ms from the fetch's start:"
             % (len(names), level, STUCK_FOR_S), "",
             "| connections | first batch (stopped guest) | other batches |", "|---|---|---|"]
    for connections, ends in results:
        lines.append("| %s | %.0f | %s |" % (connections, ends[0],
                                             ", ".join("%.0f" % e for e in ends[1:])))
    text = "\n".join(lines) + "\n"
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "stuck-batch.md"), "w") as f:
        f.write(text)
    print(text)
    return 0
