#!/usr/bin/env python3
"""Writes a libvirt test-driver node file with N running domains.

Every tenth domain has <memballoon model='none'/> (no balloon stats, like a
guest without the driver); the others have a virtio balloon, so the test
driver reports its 13 memory stats for them. Sizes vary so that the series
are not all equal.

    gen-node.py N OUT.xml
"""
import sys
from xml.sax.saxutils import escape


def domain(i):
    balloon = "<memballoon model='none'/>" if i % 10 == 9 else \
        "<memballoon model='virtio'><stats period='10'/></memballoon>"
    maximum = 512 * (1 + i % 8)
    current = maximum - 64 * (i % 4)
    return f"""  <domain type='test'>
    <name>{escape(f'load-{i:05d}')}</name>
    <uuid>{i:08x}-0000-4000-8000-000000000000</uuid>
    <memory unit='MiB'>{maximum}</memory>
    <currentMemory unit='MiB'>{current}</currentMemory>
    <vcpu>{1 + i % 4}</vcpu>
    <os><type>hvm</type></os>
    <devices>{balloon}</devices>
  </domain>
"""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count = int(sys.argv[1])
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        out.write("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n")
        for i in range(count):
            out.write(domain(i))
        out.write("</node>\n")


if __name__ == "__main__":
    main()
