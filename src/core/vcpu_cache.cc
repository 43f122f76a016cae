#include "core/vcpu_cache.h"

namespace lme {

std::optional<std::uint64_t> KnownVcpus(const VcpuCache& cache,
                                        const std::string& key, TimePoint now,
                                        Seconds refresh_after) {
  const auto known = cache.find(key);
  if (known == cache.end() || now - known->second.read_at > refresh_after) {
    return std::nullopt;
  }
  return known->second.vcpus;
}

CachedVcpus RememberVcpus(const VcpuCache& cache, const std::string& key,
                          std::uint64_t vcpus, TimePoint now,
                          Seconds refresh_after) {
  if (KnownVcpus(cache, key, now, refresh_after) == vcpus) {
    return cache.at(key);
  }
  return {vcpus, now};
}

}  // namespace lme
