#include "core/openstack_metadata.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <memory>
#include <tuple>

#include "core/nova_element.h"

namespace lme {
namespace {

struct DocFreer {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDoc = std::unique_ptr<xmlDoc, DocFreer>;

struct XmlStringFreer {
  void operator()(xmlChar* text) const { xmlFree(text); }
};
using XmlString = std::unique_ptr<xmlChar, XmlStringFreer>;

std::string Take(xmlChar* owned) {
  const XmlString text(owned);
  return text ? reinterpret_cast<const char*>(text.get()) : "";
}

// Nova writes every element of its metadata in its namespace; children are
// taken without one too, as the element alone may come stripped of it.
const xmlNode* Child(const xmlNode* parent, std::string_view local_name) {
  for (const xmlNode* node = parent->children; node; node = node->next) {
    if (IsNovaElement(node, local_name, true)) return node;
  }
  return nullptr;
}

std::string Text(const xmlNode* node) {
  return node ? Take(xmlNodeGetContent(node)) : "";
}

std::string Attribute(const xmlNode* node, const char* name) {
  return node ? Take(xmlGetProp(node, reinterpret_cast<const xmlChar*>(name)))
              : "";
}

}  // namespace

bool IsNovaElement(const xmlNode* node, std::string_view local_name,
                   bool allow_no_namespace) {
  const bool namespace_ok =
      node->ns == nullptr
          ? allow_no_namespace
          : std::string_view(reinterpret_cast<const char*>(node->ns->href)) ==
                kNovaMetadataNamespace;
  return node->type == XML_ELEMENT_NODE && namespace_ok &&
         std::string_view(reinterpret_cast<const char*>(node->name)) ==
             local_name;
}

std::optional<OpenStackInstance> ParseNovaInstance(std::string_view xml) {
  constexpr int kOptions =
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  const XmlDoc doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()),
                                 "nova-instance.xml", nullptr, kOptions));
  if (!doc) return std::nullopt;
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !IsNovaElement(root, "instance", true)) {
    return std::nullopt;
  }
  return NovaInstanceFrom(root);
}

std::optional<OpenStackInstance> NovaInstanceFrom(const xmlNode* root) {
  const xmlNode* owner = Child(root, "owner");
  const xmlNode* user = owner ? Child(owner, "user") : nullptr;
  const xmlNode* project = owner ? Child(owner, "project") : nullptr;
  OpenStackInstance instance{
      Text(Child(root, "name")),  Attribute(Child(root, "flavor"), "name"),
      Attribute(project, "uuid"), Text(project),
      Attribute(user, "uuid"),    Text(user)};
  if (instance.name.empty() || instance.flavor.empty() ||
      instance.project_id.empty() || instance.user_id.empty()) {
    return std::nullopt;
  }
  return instance;
}

MetricSet BuildOpenStackFamilies(
    const std::vector<DomainOpenStackInstance>& instances) {
  std::vector<const DomainOpenStackInstance*> sorted;
  for (const auto& instance : instances) sorted.push_back(&instance);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::tie(a->domain, a->uuid) < std::tie(b->domain, b->uuid);
  });
  auto family = MakeFamily(
      "libvirt_domain_openstack_info",
      "A metric with a constant value 1 for every domain that carries Nova "
      "instance metadata, labelled with the server, flavor, project and user.",
      MetricType::Gauge);
  MetricSet set;
  for (const auto* entry : sorted) {
    const OpenStackInstance& i = entry->instance;
    set.AddSample(family,
                  {{"domain", entry->domain},
                   {"uuid", entry->uuid},
                   {"instance_name", i.name},
                   {"flavor", i.flavor},
                   {"project_id", i.project_id},
                   {"project_name", i.project_name},
                   {"user_id", i.user_id},
                   {"user_name", i.user_name}},
                  1);
  }
  set.Add(std::move(family));
  return set;
}

}  // namespace lme
