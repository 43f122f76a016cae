#!/usr/bin/env python3
"""Writes a libvirt test-driver node file with N running domains.

Every tenth domain has <memballoon model='none'/> (no balloon stats, like a
guest without the driver); the others have a virtio balloon, so the test
driver reports its 13 memory stats for them. Sizes vary so that the series
are not all equal.

    gen-node.py [--host K] [--nova] N OUT.xml

--host K gives the domains names and UUIDs of their own (hv<K>-...), so that
several nodes can stand for different hypervisors of one fleet. --nova names
the domains as Nova does (instance-<hex>) and gives them Nova's instance
metadata (server name, flavor, project, user), for --collector.openstack-metadata.
"""
import argparse
from xml.sax.saxutils import escape, quoteattr

NOVA_NAMESPACE = "http://openstack.org/xmlns/libvirt/nova/1.1"
# (project name, project id, user name, user id): a few tenants, as a real host has.
NOVA_OWNERS = [
    ("webshop", "3e2d1c0b9a8f47e6d5c4b3a2f1e0d9c8", "alice", "9f1c2d3e4f5a46b7a8b9c0d1e2f3a4b5"),
    ("analytics", "7c6b5a4f3e2d41c0b9a8f7e6d5c4b3a2", "bob", "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"),
    ("ci-platform", "0f1e2d3c4b5a49687766554433221100", "ci-bot", "aabbccddeeff40112233445566778899"),
]
NOVA_FLAVORS = ["m1.small", "m1.medium", "m1.large", "m1.xlarge", "c2.standard-4"]


def name_of(i, host, nova):
    if nova:
        return f"instance-{host << 20 | i:08x}"
    return f"load-{i:05d}" if host == 0 else f"hv{host}-guest-{i:05d}"


def nova_metadata(i, host, maximum):
    project, project_id, user, user_id = NOVA_OWNERS[i % len(NOVA_OWNERS)]
    return f"""
    <metadata>
      <nova:instance xmlns:nova={quoteattr(NOVA_NAMESPACE)}>
        <nova:name>{escape(f'{project}-server-{host}-{i}')}</nova:name>
        <nova:flavor name={quoteattr(NOVA_FLAVORS[i % len(NOVA_FLAVORS)])}>
          <nova:memory>{maximum}</nova:memory>
        </nova:flavor>
        <nova:owner>
          <nova:user uuid={quoteattr(user_id)}>{escape(user)}</nova:user>
          <nova:project uuid={quoteattr(project_id)}>{escape(project)}</nova:project>
        </nova:owner>
      </nova:instance>
    </metadata>"""


def domain(i, host=0, nova=False):
    balloon = "<memballoon model='none'/>" if i % 10 == 9 else \
        "<memballoon model='virtio'><stats period='10'/></memballoon>"
    maximum = 512 * (1 + i % 8)
    current = maximum - 64 * (i % 4)
    metadata = nova_metadata(i, host, maximum) if nova else ""
    return f"""  <domain type='test'>
    <name>{escape(name_of(i, host, nova))}</name>
    <uuid>{i:08x}-{host:04x}-4000-8000-000000000000</uuid>{metadata}
    <memory unit='MiB'>{maximum}</memory>
    <currentMemory unit='MiB'>{current}</currentMemory>
    <vcpu>{1 + i % 4}</vcpu>
    <os><type>hvm</type></os>
    <devices>{balloon}</devices>
  </domain>
"""


def host_number(text):
    value = int(text)
    if not 0 <= value < 4096:  # the UUID's second group and Nova's 8 hex digits hold it
        raise argparse.ArgumentTypeError(f"{value} is not in 0-4095")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", type=host_number, default=0, metavar="K",
                        help="hypervisor number, 0-4095 (default 0: load-NNNNN)")
    parser.add_argument("--nova", action="store_true", help="Nova names and instance metadata")
    parser.add_argument("count", type=int, metavar="N")
    parser.add_argument("out", metavar="OUT.xml")
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
        out.write("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n")
        for i in range(args.count):
            out.write(domain(i, args.host, args.nova))
        out.write("</node>\n")


if __name__ == "__main__":
    main()
