// What the exporter takes from a domain's live definition, parsed from XML
// as virDomainGetXMLDesc returns it, and when a kept one is read again.
#include "core/domain_definition.h"

#include <string>

#include "catch_compat.h"

namespace lme {
namespace {

using std::chrono::seconds;

// Trimmed from a real QEMU guest's live XML (libvirt 9.0).
std::string QemuDomain(const std::string& devices,
                       const std::string& metadata = "") {
  return R"(<domain type='qemu' id='4'>
  <name>lme-sys-balloon</name>
  <uuid>2a0f5c2e-7d0b-4c1e-9d5e-0f6c3a1b2c3d</uuid>
  <metadata>)" +
         metadata + R"(</metadata>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='/tmp/console.log'/></serial>
    )" + devices +
         R"(
  </devices>
</domain>)";
}

constexpr const char* kNova = R"(
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="27.1.0"/>
      <nova:name>web-frontend-1</nova:name>
      <nova:flavor name="m1.small"><nova:memory>2048</nova:memory></nova:flavor>
      <nova:owner>
        <nova:user uuid="u-1">alice</nova:user>
        <nova:project uuid="p-1">webshop</nova:project>
      </nova:owner>
    </nova:instance>)";

DomainDefinition Parse(const std::string& xml) {
  auto definition = ParseDomainDefinition(xml);
  REQUIRE(definition.has_value());
  return *definition;
}

TEST_CASE("a UUID is written as libvirt writes it", "[definition]") {
  CHECK(UuidText({0x6d, 0x3c, 0x1f, 0x0a, 0x40, 0x00, 0x4a, 0xbc, 0x80, 0x01,
                  0xff, 0xee, 0x00, 0x12, 0x34, 0x56}) ==
        "6d3c1f0a-4000-4abc-8001-ffee00123456");
  CHECK(UuidText({}) == "00000000-0000-0000-0000-000000000000");
}

TEST_CASE("a virtio balloon with a stats period", "[definition]") {
  const auto definition = Parse(
      QemuDomain("<memballoon model='virtio'><stats period='10'/>"
                 "<alias name='balloon0'/><address type='pci' domain='0x0000' "
                 "bus='0x00' slot='0x04' function='0x0'/></memballoon>"));
  CHECK(definition.balloon.device);
  CHECK(definition.balloon.period_seconds == 10);
  CHECK(definition.balloon.real_report_times);
  CHECK_FALSE(definition.nova.has_value());
  CHECK_FALSE(definition.nova_malformed);
}

TEST_CASE("a virtio balloon without a period: polling is off", "[definition]") {
  const auto definition =
      Parse(QemuDomain("<memballoon model='virtio'><alias name='balloon0'/>"
                       "</memballoon>"));
  CHECK(definition.balloon.device);
  CHECK(definition.balloon.period_seconds == 0);
  CHECK(Parse(QemuDomain("<memballoon model='virtio'/>"))
            .balloon.period_seconds == 0);
  CHECK(Parse(QemuDomain("<memballoon model='virtio'><stats period='0'/>"
                         "</memballoon>"))
            .balloon.period_seconds == 0);
}

TEST_CASE("a period that is not a number counts as off", "[definition]") {
  for (const char* period : {"", "ten", "-5", "10s", " 10"}) {
    INFO(period);
    CHECK(Parse(QemuDomain(std::string("<memballoon model='virtio'><stats "
                                       "period='") +
                           period + "'/></memballoon>"))
              .balloon.period_seconds == 0);
  }
}

TEST_CASE("model none, or no balloon at all: no device", "[definition]") {
  CHECK_FALSE(Parse(QemuDomain("<memballoon model='none'/>")).balloon.device);
  // A period on a 'none' balloon means nothing.
  const auto none = Parse(
      QemuDomain("<memballoon model='none'><stats period='10'/></memballoon>"));
  CHECK_FALSE(none.balloon.device);
  CHECK(none.balloon.period_seconds == 0);
  CHECK_FALSE(Parse(QemuDomain("")).balloon.device);
}

TEST_CASE("other balloon models count as a device", "[definition]") {
  for (const char* model :
       {"virtio-transitional", "virtio-non-transitional", "xen"}) {
    INFO(model);
    CHECK(Parse(QemuDomain(std::string("<memballoon model='") + model +
                           "'><stats period='5'/></memballoon>"))
              .balloon.device);
  }
}

TEST_CASE("only the test driver's report times are not real", "[definition]") {
  CHECK(DriverStampsReportTimes("qemu"));
  CHECK(DriverStampsReportTimes("kvm"));
  CHECK_FALSE(DriverStampsReportTimes("test"));
  CHECK_FALSE(Parse("<domain type='test'><name>t</name><devices><memballoon "
                    "model='virtio'/></devices></domain>")
                  .balloon.real_report_times);
  CHECK(Parse("<domain type='kvm'><name>k</name></domain>")
            .balloon.real_report_times);
}

TEST_CASE("Nova's metadata comes from the same definition", "[definition]") {
  const auto definition = Parse(QemuDomain(
      "<memballoon model='virtio'><stats period='10'/></memballoon>", kNova));
  REQUIRE(definition.nova.has_value());
  CHECK(definition.nova->name == "web-frontend-1");
  CHECK(definition.nova->flavor == "m1.small");
  CHECK(definition.nova->project_id == "p-1");
  CHECK(definition.nova->project_name == "webshop");
  CHECK(definition.nova->user_id == "u-1");
  CHECK(definition.nova->user_name == "alice");
  CHECK_FALSE(definition.nova_malformed);
  CHECK(definition.balloon.period_seconds == 10);
}

TEST_CASE("malformed Nova metadata is marked, others' is ignored",
          "[definition]") {
  const auto broken = Parse(QemuDomain(
      "",
      R"(<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
               <nova:name>half</nova:name><nova:flavor name="f"/>
             </nova:instance>)"));
  CHECK_FALSE(broken.nova.has_value());
  CHECK(broken.nova_malformed);
  const auto foreign = Parse(QemuDomain(
      "", R"(<o:instance xmlns:o="http://example.org/other"><o:name>x</o:name>
             </o:instance>)"));
  CHECK_FALSE(foreign.nova.has_value());
  CHECK_FALSE(foreign.nova_malformed);
  // Not in Nova's namespace: not Nova's, even if named like it.
  const auto bare =
      Parse(QemuDomain("", "<instance><name>x</name></instance>"));
  CHECK_FALSE(bare.nova.has_value());
  CHECK_FALSE(bare.nova_malformed);
}

TEST_CASE("what is not a domain definition is refused", "[definition]") {
  for (const char* bad : {
           "",
           "not xml",
           "<domain type='qemu'><name>cut",
           "<node><domain type='test'/></node>",
           R"(<x:domain xmlns:x="http://example.org/"/>)",
       }) {
    INFO(bad);
    CHECK_FALSE(ParseDomainDefinition(bad).has_value());
  }
}

TEST_CASE("external entities are not loaded", "[definition]") {
  const auto definition = ParseDomainDefinition(
      R"(<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>
         <domain type='qemu'><metadata>
         <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
           <nova:name>&e;</nova:name><nova:flavor name="f"/>
           <nova:owner><nova:user uuid="u">a</nova:user>
           <nova:project uuid="p">b</nova:project></nova:owner>
         </nova:instance></metadata></domain>)");
  REQUIRE(definition.has_value());
  // The name stays empty, which makes the metadata incomplete.
  CHECK_FALSE(definition->nova.has_value());
  CHECK(definition->nova_malformed);
}

TEST_CASE("a domain start is its UUID and its ID", "[definition]") {
  CHECK(DomainStartKey("u-1", 7) == "u-1#7");
  CHECK(DomainStartKey("u-1", 8) != DomainStartKey("u-1", 7));
}

TEST_CASE("a kept definition is read again within the refresh interval",
          "[definition]") {
  const TimePoint start = TimePoint() + std::chrono::hours(1);
  const Seconds refresh{300};
  const CachedDefinition cached{{}, start};
  int due_early = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "uuid-" + std::to_string(i) + "#1";
    INFO(key);
    // Never before 3/4 of the interval, always by the interval.
    CHECK_FALSE(DefinitionDue(cached, key, start + seconds(224), refresh));
    CHECK(DefinitionDue(cached, key, start + seconds(300), refresh));
    if (DefinitionDue(cached, key, start + seconds(262), refresh)) ++due_early;
  }
  // Spread over the last quarter: about half are due half-way through it.
  CHECK(due_early > 50);
  CHECK(due_early < 150);
}

}  // namespace
}  // namespace lme
