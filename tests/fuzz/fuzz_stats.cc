// Stats parsing, metric mapping and text serialization, fed what a hostile or
// buggy libvirt could hand over. The input is lines (readable seeds and
// crash files; fields use the escapes of lme_fuzz::Unescape):
//   dNAME<TAB>UUID<TAB>STATE<TAB>ACTIVE(0|1)<TAB>VCPUS<TAB>TIMED_OUT(0|1)
//                     starts a domain
//   mNAME<TAB>VALUE   a virDomainMemoryStats field of that domain
//   bNAME<TAB>VALUE   a typed parameter of its bulk stats record
//   xVALUE            maxMem from virDomainGetInfo
//   nNAME<TAB>VALUE   host memory: total, free, buffers or cached
// Each domain goes through the reader's own sequence: the bulk record, and
// virDomainMemoryStats when the record had no balloon fields.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/balloon_stats.h"
#include "core/domain_families.h"
#include "core/memory_families.h"
#include "core/memory_stats.h"
#include "core/metric_set.h"
#include "core/stats_parsing.h"
#include "fuzz_common.h"

namespace {

using lme::DomainMemory;
using lme::MemoryStats;
using lme::StatFields;
using lme_fuzz::Unescape;

// Enough for ordering and many-series paths; more only slows the fuzzer.
constexpr std::size_t kMaxDomains = 64;

struct DomainInput {
  DomainMemory domain;
  StatFields memory_stats;
  StatFields bulk;
  std::optional<std::uint64_t> info_max_kib;
};

std::uint64_t ParseValue(std::string_view text) {
  const std::string decoded = Unescape(text);
  return std::strtoull(decoded.c_str(), nullptr, 10);
}

std::string Field(const std::vector<std::string_view>& parts, std::size_t i) {
  return i < parts.size() ? Unescape(parts[i]) : std::string();
}

void ApplyNode(std::string_view name, std::uint64_t value,
               lme::NodeMemory& node) {
  if (name == "total") node.total_kib = value;
  if (name == "free") node.free_kib = value;
  if (name == "buffers") node.buffers_kib = value;
  if (name == "cached") node.cached_kib = value;
}

// What DomainMemoryReader does with one bulk record and, when needed, one
// virDomainMemoryStats answer.
MemoryStats ReadLikeTheReader(const DomainInput& in, bool active) {
  MemoryStats stats = lme::ParseBalloonRecord(in.bulk);
  if (lme::HasBalloonFields(in.bulk)) return stats;
  if (!stats.maximum_kib) stats.maximum_kib = in.info_max_kib;
  if (!active) return stats;
  const auto maximum = stats.maximum_kib;
  stats = lme::ParseMemoryStatFields(in.memory_stats);
  stats.maximum_kib = maximum;
  return stats;
}

std::size_t SeriesIn(const std::vector<prometheus::MetricFamily>& families) {
  std::size_t series = 0;
  for (const auto& family : families) series += family.metric.size();
  return series;
}

std::size_t SampleCount(const std::vector<prometheus::MetricFamily>& families,
                        const std::string& name) {
  const auto* family = lme::Find(families, name);
  return family ? family->metric.size() : 0;
}

std::string LabelValue(const prometheus::ClientMetric& metric,
                       const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  FUZZ_CHECK(false, "series without a domain or uuid label");
  return {};
}

void CheckMemoryFamilies(
    const std::vector<DomainMemory>& domains,
    const std::vector<prometheus::MetricFamily>& families) {
  const std::string prefix = lme::kMemoryStatsPrefix;
  std::size_t active = 0;
  std::size_t with_used = 0;
  std::size_t with_timestamp = 0;
  for (const auto& domain : domains) {
    if (!domain.active) continue;
    ++active;
    const lme::UsedMemory used = lme::ComputeUsed(domain.stats);
    const auto& s = domain.stats;
    const bool both = s.available_kib && s.unused_kib;
    FUZZ_CHECK(used.inconsistent == (both && *s.unused_kib > *s.available_kib),
               "inconsistent flag does not match unused > available");
    if (used.bytes) {
      ++with_used;
      FUZZ_CHECK(both, "used without available and unused");
      FUZZ_CHECK(*used.bytes >= 0, "negative used");
      FUZZ_CHECK(*used.bytes <= lme::KibToBytes(*s.available_kib),
                 "used > available");
      FUZZ_CHECK(
          *used.bytes == lme::KibToBytes(*s.available_kib - *s.unused_kib),
          "used is not available - unused");
    }
    if (s.last_update_seconds && *s.last_update_seconds != 0) ++with_timestamp;
  }

  // A field's presence gives its series exactly: an absent field must give
  // no series, never a 0. (A timestamp of 0 is "never": checked below.)
  for (const auto& stat : lme::kBalloonStats) {
    if (stat.unit == lme::StatUnit::kTimestamp) continue;
    std::size_t expected = 0;
    for (const auto& domain : domains) {
      if (domain.active && domain.stats.*stat.member) ++expected;
    }
    FUZZ_CHECK(
        SampleCount(families, prefix + std::string(stat.suffix)) == expected,
        "series count differs from domains reporting the field");
  }
  FUZZ_CHECK(SampleCount(families, prefix + "used_bytes") == with_used,
             "used series count");
  FUZZ_CHECK(SampleCount(families, prefix + "last_update_timestamp_seconds") ==
                 with_timestamp,
             "a zero last_update became a timestamp");
  FUZZ_CHECK(SampleCount(families, prefix + "reported") == active,
             "not one reported series per active domain");
  FUZZ_CHECK(SampleCount(families, prefix + "timed_out") == active,
             "not one timed_out series per active domain");

  for (const auto& family : families) {
    FUZZ_CHECK(!family.metric.empty(), "empty family kept");
    for (std::size_t i = 1; i < family.metric.size(); ++i) {
      const auto& a = family.metric[i - 1];
      const auto& b = family.metric[i];
      const auto key_a =
          std::make_pair(LabelValue(a, "domain"), LabelValue(a, "uuid"));
      const auto key_b =
          std::make_pair(LabelValue(b, "domain"), LabelValue(b, "uuid"));
      FUZZ_CHECK(!(key_b < key_a), "series not ordered by domain, then uuid");
    }
  }

  // The same check on the series themselves: each used series has an
  // available series with the same labels that is at least as large.
  const auto* used = lme::Find(families, prefix + "used_bytes");
  const auto* available = lme::Find(families, prefix + "available_bytes");
  if (used != nullptr) {
    FUZZ_CHECK(available != nullptr, "used without available");
    for (const auto& u : used->metric) {
      bool covered = false;
      for (const auto& a : available->metric) {
        if (a.label == u.label && a.gauge.value >= u.gauge.value)
          covered = true;
      }
      FUZZ_CHECK(covered, "used series > available series");
    }
  }
}

void CheckDomainFamilies(
    const std::vector<DomainMemory>& domains,
    const std::vector<prometheus::MetricFamily>& families) {
  std::size_t active = 0;
  std::size_t with_vcpus = 0;
  for (const auto& domain : domains) {
    active += domain.active ? 1 : 0;
    with_vcpus += domain.vcpus ? 1 : 0;
  }
  const auto* count = lme::Find(families, "libvirt_domains");
  FUZZ_CHECK(count != nullptr && count->metric.size() == 1 &&
                 count->metric[0].gauge.value == static_cast<double>(active),
             "libvirt_domains is not the number of active domains");
  FUZZ_CHECK(SampleCount(families, "libvirt_domain_info") == domains.size(),
             "not one info series per domain");
  FUZZ_CHECK(SampleCount(families, "libvirt_domain_vcpus") == with_vcpus,
             "vcpus series count");
  if (const auto* info = lme::Find(families, "libvirt_domain_info")) {
    for (const auto& metric : info->metric) {
      FUZZ_CHECK(!LabelValue(metric, "state").empty(), "empty state label");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<DomainInput> inputs;
  lme::NodeMemory node;
  for (std::string_view line : lme_fuzz::Split(input, '\n')) {
    if (line.empty()) continue;
    const char op = line.front();
    const auto parts = lme_fuzz::Split(line.substr(1), '\t');
    if (op == 'd') {
      if (inputs.size() == kMaxDomains) break;
      DomainInput in;
      in.domain.name = Field(parts, 0);
      in.domain.uuid = Field(parts, 1);
      in.domain.state = Field(parts, 2);
      in.domain.active = Field(parts, 3) != "0";
      if (parts.size() > 4) in.domain.vcpus = ParseValue(parts[4]);
      in.domain.timed_out = Field(parts, 5) == "1";
      inputs.push_back(std::move(in));
    } else if (op == 'n' && parts.size() > 1) {
      ApplyNode(Field(parts, 0), ParseValue(parts[1]), node);
    } else if (!inputs.empty() && parts.size() > 1 &&
               (op == 'm' || op == 'b')) {
      lme::StatField field{Field(parts, 0), ParseValue(parts[1])};
      (op == 'm' ? inputs.back().memory_stats : inputs.back().bulk)
          .push_back(std::move(field));
    } else if (!inputs.empty() && op == 'x') {
      inputs.back().info_max_kib = ParseValue(line.substr(1));
    }
  }

  std::vector<DomainMemory> domains;
  for (auto& in : inputs) {
    in.domain.stats = ReadLikeTheReader(in, in.domain.active);
    // ApplyStatField accepts exactly the names of the stat table, and
    // stores the value in that row's member and nowhere else.
    for (const auto& field : in.memory_stats) {
      MemoryStats scratch;
      const lme::BalloonStat* row = lme::FindStatByName(field.name);
      FUZZ_CHECK(lme::ApplyStatField(field, scratch) == (row != nullptr),
                 "ApplyStatField accepts a name no row has, or not a row's");
      for (const auto& stat : lme::kBalloonStats) {
        FUZZ_CHECK((scratch.*stat.member).has_value() == (&stat == row),
                   "a field landed in another row's member");
      }
    }
    domains.push_back(in.domain);
  }

  const auto memory = lme::ToMetricFamilies(lme::BuildMemoryFamilies(domains));
  CheckMemoryFamilies(domains, memory);
  const auto per_domain =
      lme::ToMetricFamilies(lme::BuildDomainFamilies(domains));
  CheckDomainFamilies(domains, per_domain);
  const auto guest_totals =
      lme::ToMetricFamilies(lme::BuildGuestTotalFamilies(domains));
  FUZZ_CHECK(guest_totals.size() == 2, "guest totals are two gauges");
  for (const auto& family : guest_totals) {
    FUZZ_CHECK(family.metric.size() == 1 && family.metric[0].gauge.value >= 0,
               "guest total is not one non-negative gauge");
  }
  const auto node_families =
      lme::ToMetricFamilies(lme::BuildNodeMemoryFamilies(node));
  FUZZ_CHECK(node_families.size() ==
                 static_cast<std::size_t>(node.total_kib.has_value()) +
                     node.free_kib.has_value() + node.buffers_kib.has_value() +
                     node.cached_kib.has_value(),
             "a host field not reported became a series");

  // What the collectors export together, label sets shared across families.
  lme::MetricSet all = lme::BuildDomainCollectorFamilies(domains);
  FUZZ_CHECK(all.SampleCount() == SeriesIn(per_domain) + SeriesIn(memory) +
                                      SeriesIn(guest_totals),
             "the collector's families differ from the separate builders'");
  all.Append(lme::BuildNodeMemoryFamilies(node));
  lme_fuzz::SerializeAndCheck(all);
  return 0;
}
