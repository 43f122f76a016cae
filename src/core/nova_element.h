// Inside core: Nova's <instance> element read from a parsed document, for
// ParseNovaInstance (the element alone) and ParseDomainDefinition (the
// element inside a whole domain definition).
#pragma once

#include <optional>
#include <string_view>

#include "core/openstack_metadata.h"

struct _xmlNode;

namespace lme {

// An element named `local_name` in Nova's namespace; with `allow_no_namespace`
// also one without a namespace (virDomainGetMetadata returns the element
// stripped of the namespace it was asked for).
bool IsNovaElement(const _xmlNode* node, std::string_view local_name,
                   bool allow_no_namespace);

// The instance an <instance> element describes; empty when it lacks the
// server name, flavor, or owning project and user.
std::optional<OpenStackInstance> NovaInstanceFrom(const _xmlNode* instance);

}  // namespace lme
