#include "core/stats_parsing.h"

namespace lme {
namespace {

constexpr std::string_view kBalloonPrefix = "balloon.";

bool InBalloonGroup(std::string_view typed_param_name) {
  return typed_param_name.size() > kBalloonPrefix.size() &&
         typed_param_name.substr(0, kBalloonPrefix.size()) == kBalloonPrefix;
}

}  // namespace

bool ApplyStatField(const StatField& field, MemoryStats& stats) {
  const BalloonStat* stat = FindStatByName(field.name);
  if (stat == nullptr) return false;
  stats.*stat->member = field.value;
  return true;
}

MemoryStats ParseMemoryStatFields(const StatFields& fields) {
  MemoryStats stats;
  for (const auto& field : fields) ApplyStatField(field, stats);
  return stats;
}

const BalloonStat* BalloonFieldStat(std::string_view typed_param_name) {
  if (!InBalloonGroup(typed_param_name)) return nullptr;
  return FindStatByBulkName(typed_param_name.substr(kBalloonPrefix.size()));
}

bool HasBalloonFields(const StatFields& typed_params) {
  for (const auto& param : typed_params) {
    if (InBalloonGroup(param.name)) return true;
  }
  return false;
}

MemoryStats ParseBalloonRecord(const StatFields& typed_params) {
  MemoryStats stats;
  for (const auto& param : typed_params) {
    if (const BalloonStat* stat = BalloonFieldStat(param.name)) {
      stats.*stat->member = param.value;
    }
  }
  return stats;
}

}  // namespace lme
