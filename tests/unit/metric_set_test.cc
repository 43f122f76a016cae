#include "core/metric_set.h"

#include "catch_compat.h"
#include "core/memory_families.h"
#include "test_support.h"

namespace lme {
namespace {

TEST_CASE("a domain's series in every memory family share one label set",
          "[metric_set]") {
  MemoryStats stats;
  stats.available_kib = 2048;
  stats.unused_kib = 1024;
  const MetricSet set = BuildMemoryFamilies(
      {Running("a", "u1", stats), Running("b", "u2", stats)});
  // Label set 0 is "no labels"; then one per domain.
  REQUIRE(set.LabelSetCount() == 3);
  for (const Family& family : set.families()) {
    REQUIRE(family.samples.size() == 2);
    CHECK(LabelsOf(set, family.samples[0].labels) ==
          Labels{{"domain", "a"}, {"uuid", "u1"}});
    CHECK(LabelsOf(set, family.samples[1].labels) ==
          Labels{{"domain", "b"}, {"uuid", "u2"}});
  }
}

TEST_CASE("appending keeps every sample with its own labels", "[metric_set]") {
  MetricSet first;
  first.AddSingle("one", "", MetricType::Gauge, 1, {{"k", "first"}});
  MetricSet second;
  second.AddSingle("unlabelled", "", MetricType::Counter, 2);
  second.AddSingle("two", "", MetricType::Gauge, 3, {{"k", "second"}});
  first.Append(std::move(second));

  const auto families = ToMetricFamilies(first);
  REQUIRE(families.size() == 3);
  CHECK(families[0].metric[0].label[0].value == "first");
  CHECK(families[1].metric[0].label.empty());
  CHECK(families[1].metric[0].counter.value == 2);
  CHECK(families[2].metric[0].label[0].value == "second");
  CHECK(families[2].metric[0].gauge.value == 3);
}

TEST_CASE("label sets are kept escaped and read back unescaped",
          "[metric_set]") {
  MetricSet set;
  const Labels hostile{{"domain", "q\"b\\s\nl,x=\"y\""}, {"uuid", "ü"}};
  const LabelSetId id = set.AddLabels(hostile);
  CHECK(set.LabelText(id) ==
        "domain=\"q\\\"b\\\\s\\nl,x=\\\"y\\\"\",uuid=\"ü\"");
  CHECK(LabelsOf(set, id) == hostile);
  CHECK(set.LabelText(MetricSet::kNoLabels).empty());
  CHECK(LabelsOf(set, MetricSet::kNoLabels).empty());
}

TEST_CASE("a family without samples is left out", "[metric_set]") {
  MetricSet set;
  set.Add(MakeFamily("empty", "nothing", MetricType::Gauge));
  CHECK(set.families().empty());
  CHECK(set.SampleCount() == 0);
}

}  // namespace
}  // namespace lme
