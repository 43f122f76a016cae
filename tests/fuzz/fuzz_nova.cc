// Nova's instance metadata as the domain XML carries it: anyone who can edit
// a domain's metadata controls these bytes, and they end up as label values.
#include <libxml/parser.h>

#include <cstdint>
#include <string_view>

#include "core/metric_set.h"
#include "core/openstack_metadata.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  xmlInitParser();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  const auto instance = lme::ParseNovaInstance(xml);
  if (!instance) return 0;
  // The parser's contract: what it returns is complete.
  FUZZ_CHECK(!instance->name.empty() && !instance->flavor.empty() &&
                 !instance->project_id.empty() && !instance->user_id.empty(),
             "ParseNovaInstance returned an incomplete instance");
  // Two domains, so ordering and escaping run over more than one series.
  const lme::MetricSet set =
      lme::BuildOpenStackFamilies({{"instance-b", "uuid-b", *instance},
                                   {"instance-a", "uuid-a", *instance}});
  FUZZ_CHECK(set.families().size() == 1 && set.SampleCount() == 2,
             "not one info series per instance");
  const auto samples = lme_fuzz::SerializeAndCheck(set);
  for (const auto& sample : samples) {
    FUZZ_CHECK(sample.value == 1, "info series is not 1");
  }
  FUZZ_CHECK(samples[0].labels[0].second == "instance-a",
             "info series not ordered by domain");
  return 0;
}
