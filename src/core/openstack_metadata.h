// Nova's instance metadata from a domain's definition, parsed without I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metric_set.h"

namespace lme {

// The namespace Nova writes its <instance> element in.
inline constexpr const char* kNovaMetadataNamespace =
    "http://openstack.org/xmlns/libvirt/nova/1.1";

struct OpenStackInstance {
  std::string name;  // the server's display name (nova:name)
  std::string flavor;
  std::string project_id;
  std::string project_name;
  std::string user_id;
  std::string user_name;
};

struct DomainOpenStackInstance {
  std::string domain;
  std::string uuid;
  OpenStackInstance instance;
};

// Parses Nova's <instance> element, with its namespace or without (as
// virDomainGetMetadata returns it). Empty when the XML does not parse, is in
// another namespace, or lacks the server name, flavor, or owning project and
// user.
std::optional<OpenStackInstance> ParseNovaInstance(std::string_view xml);

// `libvirt_domain_openstack_info`, one series per domain, by domain name.
MetricSet BuildOpenStackFamilies(
    const std::vector<DomainOpenStackInstance>& instances);

}  // namespace lme
