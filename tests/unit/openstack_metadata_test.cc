#include "core/openstack_metadata.h"

#include "catch_compat.h"
#include "core/metric_set.h"
#include "test_support.h"

namespace lme {
namespace {

// As virDomainGetMetadata returns it: the element without its namespace.
constexpr const char* kAsLibvirtReturnsIt = R"(<instance>
  <package version="27.1.0"/>
  <name>web-frontend-1</name>
  <flavor name="m1.small"><memory>2048</memory></flavor>
  <owner>
    <user uuid="u-1">alice</user>
    <project uuid="p-1">webshop</project>
  </owner>
</instance>)";

TEST_CASE("Nova instance metadata parses", "[openstack]") {
  const auto instance = ParseNovaInstance(kAsLibvirtReturnsIt);
  REQUIRE(instance.has_value());
  CHECK(instance->name == "web-frontend-1");
  CHECK(instance->flavor == "m1.small");
  CHECK(instance->user_id == "u-1");
  CHECK(instance->user_name == "alice");
  CHECK(instance->project_id == "p-1");
  CHECK(instance->project_name == "webshop");
}

TEST_CASE("Nova metadata with its namespace parses too", "[openstack]") {
  const auto instance = ParseNovaInstance(
      R"(<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
           <nova:name>n</nova:name><nova:flavor name="f"/>
           <nova:owner><nova:user uuid="u">a</nova:user>
           <nova:project uuid="p">b</nova:project></nova:owner>
         </nova:instance>)");
  REQUIRE(instance.has_value());
  CHECK(instance->name == "n");
  CHECK(instance->project_name == "b");
}

TEST_CASE("malformed or foreign metadata is refused", "[openstack]") {
  for (const char* bad : {
           "",
           "not xml at all",
           "<instance><name>x</name>",  // truncated
           "<other><name>x</name></other>",
           R"(<o:instance xmlns:o="http://example.org/x"><o:name>x</o:name>
              <o:flavor name="f"/><o:owner><o:user uuid="u"/>
              <o:project uuid="p"/></o:owner></o:instance>)",
           R"(<instance><name>no owner</name><flavor name="f"/></instance>)",
           R"(<instance><flavor name="f"/><owner><user uuid="u"/>
              <project uuid="p"/></owner></instance>)",
           R"(<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
              <instance><name>&e;</name></instance>)",
       }) {
    INFO(bad);
    CHECK_FALSE(ParseNovaInstance(bad).has_value());
  }
}

TEST_CASE("project and user names may be missing", "[openstack]") {
  const auto instance = ParseNovaInstance(
      R"(<instance><name>n</name><flavor name="f"/><owner>
         <user uuid="u"/><project uuid="p"/></owner></instance>)");
  REQUIRE(instance.has_value());
  CHECK(instance->user_name.empty());
  CHECK(instance->project_name.empty());
}

TEST_CASE("one info series per instance, ordered by domain", "[openstack]") {
  const OpenStackInstance i{"n", "f", "p", "pn", "u", "un"};
  const auto families = ToMetricFamilies(
      BuildOpenStackFamilies({{"instance-2", "b", i}, {"instance-1", "a", i}}));
  REQUIRE(families.size() == 1);
  CHECK(families[0].name == "libvirt_domain_openstack_info");
  REQUIRE(families[0].metric.size() == 2);
  CHECK(families[0].metric[0].label[0].value == "instance-1");
  std::vector<std::string> names;
  for (const auto& label : families[0].metric[0].label) {
    names.push_back(label.name);
  }
  CHECK(names == std::vector<std::string>{
                     "domain", "uuid", "instance_name", "flavor", "project_id",
                     "project_name", "user_id", "user_name"});
  CHECK(ToMetricFamilies(BuildOpenStackFamilies({})).empty());
}

}  // namespace
}  // namespace lme
