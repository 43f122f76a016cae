// The one table of balloon stats: everything the exporter knows about a stat
// is its row here. The MemoryStats member, both parsers (virDomainMemoryStats
// by tag, the bulk record by name), the libvirt tag lookup, the metric
// family and the tests all follow from it. Adding a stat is one row here and
// its line in docs/metrics.md (docs/architecture.md shows an example).
//
// A macro, because C++ cannot otherwise make struct members and a use of
// libvirt's enum (only src/libvirt may include libvirt) from one list.
//
//   LME_STAT(member, tag, name, bulk_name, suffix, type, unit, origin, help)
//     member     MemoryStats field, as libvirt reports it (absent: not sent)
//     tag        LME_TAG(X): virDomainMemoryStats reports it with
//                VIR_DOMAIN_MEMORY_STAT_X; LME_NO_TAG: that call does not
//     name       its name in virDomainMemoryStats terms ("current")
//     bulk_name  its field in a bulk stats record, after "balloon."
//     suffix     the metric's name after libvirt_domain_memory_stats_
//     type       Gauge or Counter
//     unit       Kib (exported as bytes), Count, or Timestamp (seconds since
//                the epoch; 0 means "never" and is left out)
//     origin     Guest: the guest's balloon driver reports it, so it is left
//                out unless the guest's stats status is `reporting` (a stale
//                or unpolled guest's last values are not current); Host:
//                libvirt or QEMU know it without the guest (the last
//                update's time is QEMU's stamp of the last report)
//     help       the HELP text
//   LME_DERIVED(suffix, type, function, help)
//     a family computed from other stats by `function(const MemoryStats&)`
//     -> std::optional<double>
//
// Rows are in exposition order (the golden files pin it).
#pragma once

// clang-format off
#define LME_BALLOON_STATS(LME_STAT, LME_DERIVED)                               \
  LME_STAT(available_kib, LME_TAG(AVAILABLE), "available", "available",        \
           "available_bytes", Gauge, Kib, Guest,                               \
           "Memory the guest's balloon driver reports as available to the "    \
           "guest (its MemTotal), in bytes.")                                  \
  LME_STAT(unused_kib, LME_TAG(UNUSED), "unused", "unused", "unused_bytes",    \
           Gauge, Kib, Guest,                                                  \
           "Memory left completely unused by the guest (its MemFree), in "     \
           "bytes.")                                                           \
  LME_DERIVED("used_bytes", Gauge, UsedBytes,                                  \
              "Memory used by the guest: available minus unused, in bytes "    \
              "(page cache counts as used).")                                  \
  LME_STAT(usable_kib, LME_TAG(USABLE), "usable", "usable", "usable_bytes",    \
           Gauge, Kib, Guest,                                                  \
           "Memory the guest can still use without swapping (its "             \
           "MemAvailable), in bytes.")                                         \
  LME_STAT(disk_caches_kib, LME_TAG(DISK_CACHES), "disk_caches",               \
           "disk_caches", "disk_caches_bytes", Gauge, Kib, Guest,              \
           "Memory the guest uses for reclaimable disk caches, in bytes.")     \
  LME_STAT(current_balloon_kib, LME_TAG(ACTUAL_BALLOON), "current", "current", \
           "current_balloon_bytes", Gauge, Kib, Host,                          \
           "Memory currently assigned to the guest by the balloon, in bytes.") \
  LME_STAT(maximum_kib, LME_NO_TAG, "maximum", "maximum", "maximum_bytes",     \
           Gauge, Kib, Host,                                                   \
           "Maximum memory the guest may be assigned, in bytes.")              \
  LME_STAT(rss_kib, LME_TAG(RSS), "rss", "rss", "rss_bytes", Gauge, Kib, Host, \
           "Resident set size of the host process running the guest, in "      \
           "bytes.")                                                           \
  LME_STAT(swap_in_kib, LME_TAG(SWAP_IN), "swap_in", "swap_in",                \
           "swap_in_bytes_total", Counter, Kib, Guest,                         \
           "Memory the guest has read in from swap, in bytes.")                \
  LME_STAT(swap_out_kib, LME_TAG(SWAP_OUT), "swap_out", "swap_out",            \
           "swap_out_bytes_total", Counter, Kib, Guest,                        \
           "Memory the guest has written out to swap, in bytes.")              \
  LME_STAT(major_faults, LME_TAG(MAJOR_FAULT), "major_fault", "major_fault",   \
           "major_fault_total", Counter, Count, Guest,                         \
           "Page faults in the guest that needed disk I/O.")                   \
  LME_STAT(minor_faults, LME_TAG(MINOR_FAULT), "minor_fault", "minor_fault",   \
           "minor_fault_total", Counter, Count, Guest,                         \
           "Page faults in the guest served without disk I/O.")                \
  LME_STAT(hugetlb_pgalloc, LME_TAG(HUGETLB_PGALLOC), "hugetlb_pgalloc",       \
           "hugetlb_pgalloc", "hugetlb_pgalloc_total", Counter, Count, Guest,  \
           "Successful huge page allocations in the guest.")                   \
  LME_STAT(hugetlb_pgfail, LME_TAG(HUGETLB_PGFAIL), "hugetlb_pgfail",          \
           "hugetlb_pgfail", "hugetlb_pgfail_total", Counter, Count, Guest,    \
           "Failed huge page allocations in the guest.")                       \
  LME_STAT(last_update_seconds, LME_TAG(LAST_UPDATE), "last_update",           \
           "last-update", "last_update_timestamp_seconds", Gauge, Timestamp,   \
           Host,                                                               \
           "Time of the guest's last balloon stats report, in seconds since "  \
           "the epoch.")
// clang-format on

// For expansions that skip one kind of row.
#define LME_IGNORE_ROW(...)
