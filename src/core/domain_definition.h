// What the exporter needs from a domain's live definition (its XML), parsed
// without I/O: the balloon device and its stats period, whether the driver
// stamps real report times, and Nova's instance metadata. Read once per
// domain start and kept (libvirt/domain_definitions.h), shared by the
// domain_memory and openstack_metadata collectors.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/openstack_metadata.h"
#include "core/stats_status.h"
#include "core/vcpu_cache.h"

namespace lme {

struct DomainDefinition {
  BalloonConfig balloon;
  // Nova's <instance> element, when it is there and complete.
  std::optional<OpenStackInstance> nova;
  // Nova's element is there but lacks the name, flavor, project or user.
  bool nova_malformed = false;
};

// The one place that knows which drivers stamp a report's time: libvirt's
// test driver (<domain type='test'>) answers every balloon with the same
// last_update (627319920, in 1989), so the age of its reports means nothing
// and its guests are never `stale`. QEMU and KVM guests (type 'qemu' or
// 'kvm') get the host's clock at the moment the guest's report arrived.
bool DriverStampsReportTimes(std::string_view domain_type);

// Parses a definition as virDomainGetXMLDesc returns it. Empty when it is
// not a <domain> document.
std::optional<DomainDefinition> ParseDomainDefinition(std::string_view xml);

// Identifies one run of a domain: its UUID and its ID, which changes
// whenever the domain is started again (Nova restarts a guest with a new
// definition after a resize, rebuild or migration). The key for what is
// read once per domain start.
std::string DomainStartKey(const std::string& uuid, unsigned int id);

// A UUID's 16 bytes as libvirt writes them (virDomainGetUUIDString): 36
// lower-case characters. Written here because libvirt's own formatting runs
// through snprintf once per byte, and every libvirt call on a domain formats
// its UUID for the debug log already.
std::string UuidText(const std::array<unsigned char, 16>& bytes);

struct CachedDefinition {
  DomainDefinition definition;
  TimePoint read_at;
};

// How long a kept definition serves the domain_memory collector: a live
// change of the stats period (`virsh dommemstat --period N --live`) shows
// within this long. Changes that make a guest look as if it stopped
// reporting are seen at once (NeedsConfirmation).
inline constexpr Seconds kDefinitionRefreshAfter{300};

// True when `cached` should be read again: each domain start's definition
// is refreshed after between 3/4 and all of `refresh_after`, spread by its
// key, so that the definitions of many domains read in one scrape are not
// all read again in one later scrape.
bool DefinitionDue(const CachedDefinition& cached, const std::string& key,
                   TimePoint now, Seconds refresh_after);

}  // namespace lme
