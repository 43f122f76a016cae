#include "core/domain_families.h"

#include "catch_compat.h"
#include "core/memory_families.h"
#include "core/metric_set.h"
#include "test_support.h"

namespace lme {
namespace {

using prometheus::MetricFamily;

DomainMemory ShutOff(std::string name, std::string uuid) {
  DomainMemory domain = Running(std::move(name), std::move(uuid));
  domain.active = false;
  domain.state = "shutoff";
  domain.stats.maximum_kib = 1 << 20;
  domain.stats.current_balloon_kib = 1 << 20;
  return domain;
}

TEST_CASE("every domain has an info series with its state", "[domain]") {
  DomainMemory paused = Running("p", "u2");
  paused.state = "paused";
  paused.vcpus = 4;
  DomainMemory unknown = Running("q", "u3");
  unknown.state.clear();
  const auto families = ToMetricFamilies(
      BuildDomainFamilies({ShutOff("s", "u1"), paused, unknown}));
  const MetricFamily* info = Find(families, "libvirt_domain_info");
  REQUIRE(info != nullptr);
  REQUIRE(info->metric.size() == 3);
  CHECK(info->metric[0].label[0].value == "p");
  CHECK(info->metric[0].label[1].name == "state");
  CHECK(info->metric[0].label[1].value == "paused");
  CHECK(info->metric[1].label[1].value == "unknown");
  CHECK(info->metric[2].label[1].value == "shutoff");
  const MetricFamily* vcpus = Find(families, "libvirt_domain_vcpus");
  REQUIRE(vcpus != nullptr);
  REQUIRE(vcpus->metric.size() == 1);
  CHECK(vcpus->metric[0].gauge.value == 4);
}

TEST_CASE("libvirt_domains counts active domains only", "[domain]") {
  const auto families = ToMetricFamilies(BuildDomainFamilies(
      {Running("a", "1"), Running("b", "2"), ShutOff("c", "3")}));
  CHECK(Find(families, "libvirt_domains")->metric[0].gauge.value == 2);
  CHECK(
      ToMetricFamilies(BuildDomainFamilies({})).front().metric[0].gauge.value ==
      0);
}

TEST_CASE("shut-off domains have no memory series", "[domain]") {
  MemoryStats stats;
  stats.available_kib = 10;
  stats.unused_kib = 5;
  DomainMemory off = ShutOff("off", "1");
  off.stats.available_kib = 10;
  off.stats.unused_kib = 5;
  const auto families =
      ToMetricFamilies(BuildMemoryFamilies({off, Running("on", "2", stats)}));
  for (const auto& family : families) {
    INFO(family.name);
    REQUIRE(family.metric.size() == 1);
    CHECK(family.metric[0].label[0].value == "on");
  }
}

TEST_CASE("guest memory sums cover active guests only", "[domain]") {
  MemoryStats stats;
  stats.maximum_kib = 2048;
  stats.current_balloon_kib = 1024;
  MemoryStats no_balloon;
  no_balloon.maximum_kib = 512;
  const auto families = ToMetricFamilies(BuildGuestTotalFamilies(
      {Running("a", "1", stats), Running("b", "2", no_balloon),
       ShutOff("c", "3")}));
  CHECK(Find(families, "libvirt_node_guest_maximum_memory_bytes")
            ->metric[0]
            .gauge.value == (2048.0 + 512) * 1024);
  CHECK(Find(families, "libvirt_node_guest_current_memory_bytes")
            ->metric[0]
            .gauge.value == 1024.0 * 1024);
}

TEST_CASE("host memory: only what was reported", "[domain]") {
  NodeMemory node;
  node.total_kib = 1000;
  node.cached_kib = 10;
  const auto families = ToMetricFamilies(BuildNodeMemoryFamilies(node));
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "libvirt_node_memory_total_bytes");
  CHECK(families[0].metric[0].gauge.value == 1000.0 * 1024);
  CHECK(families[1].name == "libvirt_node_memory_cached_bytes");
  CHECK(ToMetricFamilies(BuildNodeMemoryFamilies(NodeMemory{})).empty());
}

}  // namespace
}  // namespace lme
