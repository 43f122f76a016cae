#include "core/stats_parsing.h"

#include <array>
#include <optional>
#include <utility>

namespace lme {
namespace {

using Field = std::optional<std::uint64_t> MemoryStats::*;

struct NamedField {
  std::string_view name;
  Field field;
};

constexpr std::array<NamedField, 14> kFields = {{
    {"available", &MemoryStats::available_kib},
    {"unused", &MemoryStats::unused_kib},
    {"usable", &MemoryStats::usable_kib},
    {"disk_caches", &MemoryStats::disk_caches_kib},
    {"current", &MemoryStats::current_balloon_kib},
    {"maximum", &MemoryStats::maximum_kib},
    {"rss", &MemoryStats::rss_kib},
    {"swap_in", &MemoryStats::swap_in_kib},
    {"swap_out", &MemoryStats::swap_out_kib},
    {"major_fault", &MemoryStats::major_faults},
    {"minor_fault", &MemoryStats::minor_faults},
    {"hugetlb_pgalloc", &MemoryStats::hugetlb_pgalloc},
    {"hugetlb_pgfail", &MemoryStats::hugetlb_pgfail},
    {"last_update", &MemoryStats::last_update_seconds},
}};

constexpr std::string_view kBalloonPrefix = "balloon.";

}  // namespace

bool ApplyStatField(const StatField& field, MemoryStats& stats) {
  for (const auto& named : kFields) {
    if (named.name == field.name) {
      stats.*named.field = field.value;
      return true;
    }
  }
  return false;
}

MemoryStats ParseMemoryStatFields(const StatFields& fields) {
  MemoryStats stats;
  for (const auto& field : fields) ApplyStatField(field, stats);
  return stats;
}

std::string_view BalloonFieldShortName(std::string_view typed_param_name) {
  if (typed_param_name.substr(0, kBalloonPrefix.size()) != kBalloonPrefix) {
    return {};
  }
  std::string_view rest = typed_param_name.substr(kBalloonPrefix.size());
  // The bulk API spells this one with a dash, virDomainMemoryStats does not.
  if (rest == "last-update") return "last_update";
  return rest;
}

bool HasBalloonFields(const StatFields& typed_params) {
  for (const auto& param : typed_params) {
    if (!BalloonFieldShortName(param.name).empty()) return true;
  }
  return false;
}

MemoryStats ParseBalloonRecord(const StatFields& typed_params) {
  MemoryStats stats;
  for (const auto& param : typed_params) {
    std::string_view short_name = BalloonFieldShortName(param.name);
    if (short_name.empty()) continue;
    ApplyStatField({std::string(short_name), param.value}, stats);
  }
  return stats;
}

}  // namespace lme
