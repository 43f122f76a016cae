// The URL parameters' rules, as node_exporter applies them, without a
// server: flags parsed into `enabled`, names from the registration list.
#include "core/collector_selection.h"

#include "catch_compat.h"
#include "core/url_query.h"

namespace lme {
namespace {

using Names = std::vector<std::string>;

const Names kRegistered = {"domain_memory", "node_memory",
                           "openstack_metadata"};
const std::set<std::string> kDefaults = {"domain_memory", "node_memory"};

CollectorSelection Select(const Names& collect, const Names& exclude) {
  return SelectCollectors(kRegistered, kDefaults, collect, exclude);
}

TEST_CASE("no parameter selects every enabled collector", "[selection]") {
  const auto selection = Select({}, {});
  CHECK(selection.error.empty());
  CHECK(selection.collectors == Names{"domain_memory", "node_memory"});
}

TEST_CASE("collect[] selects the named ones in registration order",
          "[selection]") {
  CHECK(Select({"node_memory"}, {}).collectors == Names{"node_memory"});
  CHECK(
      Select({"node_memory", "domain_memory", "node_memory"}, {}).collectors ==
      Names{"domain_memory", "node_memory"});
}

TEST_CASE("exclude[] selects every enabled one but those named",
          "[selection]") {
  CHECK(Select({}, {"domain_memory"}).collectors == Names{"node_memory"});
  // Excluding a disabled one is allowed and changes nothing.
  CHECK(Select({}, {"openstack_metadata"}).collectors ==
        Names{"domain_memory", "node_memory"});
  CHECK(Select({}, {"domain_memory", "node_memory"}).collectors.empty());
}

TEST_CASE("unknown and disabled names are refused with a reason",
          "[selection]") {
  auto selection = Select({"bogus"}, {});
  CHECK(selection.collectors.empty());
  CHECK(selection.error ==
        "unknown collector 'bogus'; known: domain_memory, node_memory, "
        "openstack_metadata");
  CHECK(Select({}, {"bogus"}).error.find("unknown collector 'bogus'") == 0);
  CHECK(Select({""}, {}).error.find("unknown collector ''") == 0);
  selection = Select({"openstack_metadata"}, {});
  CHECK(selection.error ==
        "disabled collector 'openstack_metadata'; enable it with "
        "--collector.openstack-metadata");
}

TEST_CASE("collect[] and exclude[] together are refused", "[selection]") {
  CHECK(Select({"node_memory"}, {"domain_memory"}).error ==
        "combined collect[] and exclude[] parameters are not allowed");
}

TEST_CASE("equal selections share a key, different ones do not",
          "[selection]") {
  CHECK(SelectionKey(Select({}, {})) ==
        SelectionKey(Select({"node_memory", "domain_memory"}, {})));
  CHECK(SelectionKey(Select({}, {})) !=
        SelectionKey(Select({"node_memory"}, {})));
  CHECK(SelectionKey(Select({}, {"domain_memory", "node_memory"})) !=
        SelectionKey(Select({"node_memory"}, {})));
}

TEST_CASE("a collector's flag and environment variable", "[selection]") {
  CHECK(CollectorFlag("domain_memory") == "collector.domain-memory");
  CHECK(CollectorFlag("openstack_metadata") == "collector.openstack-metadata");
  CHECK(CollectorEnvVar("openstack_metadata") ==
        "LIBVIRT_EXPORTER_COLLECTOR_OPENSTACK_METADATA");
}

TEST_CASE("query values are decoded as Prometheus sends them", "[url]") {
  CHECK(QueryValues("collect%5B%5D=node_memory&collect[]=domain%5Fmemory",
                    "collect[]") == Names{"node_memory", "domain_memory"});
  CHECK(QueryValues("exclude[]=a&collect[]=b", "exclude[]") == Names{"a"});
  CHECK(QueryValues("", "collect[]").empty());
  CHECK(QueryValues("collect[]", "collect[]") == Names{""});
  CHECK(QueryValues("collect[]=&x=1", "collect[]") == Names{""});
  CHECK(QueryValues("collect[]=a+b%2", "collect[]") == Names{"a b%2"});
  CHECK(QueryValues("collect[]=%zz%", "collect[]") == Names{"%zz%"});
}

}  // namespace
}  // namespace lme
