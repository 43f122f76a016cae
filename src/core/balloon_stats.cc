#include "core/balloon_stats.h"

namespace lme {

std::optional<double> ToExportedUnit(StatUnit unit,
                                     const std::optional<std::uint64_t>& raw) {
  if (!raw) return std::nullopt;
  switch (unit) {
    case StatUnit::kKib: return KibToBytes(*raw);
    case StatUnit::kCount: return static_cast<double>(*raw);
    case StatUnit::kTimestamp:
      if (*raw == 0) return std::nullopt;
      return static_cast<double>(*raw);
  }
  return std::nullopt;
}

const BalloonStat* FindStatByName(std::string_view name) {
  for (const auto& stat : kBalloonStats) {
    if (stat.name == name) return &stat;
  }
  return nullptr;
}

const BalloonStat* FindStatByBulkName(std::string_view bulk_name) {
  for (const auto& stat : kBalloonStats) {
    if (stat.bulk_name == bulk_name) return &stat;
  }
  return nullptr;
}

}  // namespace lme
