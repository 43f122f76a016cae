#include "core/domain_definition.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <functional>
#include <memory>

#include "core/nova_element.h"

namespace lme {
namespace {

struct DocFreer {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDoc = std::unique_ptr<xmlDoc, DocFreer>;

std::string_view Name(const xmlNode* node) {
  return reinterpret_cast<const char*>(node->name);
}

// libvirt writes its own elements without a namespace.
const xmlNode* LibvirtChild(const xmlNode* parent, std::string_view name) {
  if (parent == nullptr) return nullptr;
  for (const xmlNode* node = parent->children; node; node = node->next) {
    if (node->type == XML_ELEMENT_NODE && node->ns == nullptr &&
        Name(node) == name) {
      return node;
    }
  }
  return nullptr;
}

std::string Attribute(const xmlNode* node, const char* name) {
  if (node == nullptr) return "";
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return "";
  std::string text(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return text;
}

// <stats period='N'/>; 0 when absent or not a number (polling is off).
std::uint64_t StatsPeriod(const xmlNode* memballoon) {
  const std::string period =
      Attribute(LibvirtChild(memballoon, "stats"), "period");
  std::uint64_t seconds = 0;
  const auto [end, error] =
      std::from_chars(period.data(), period.data() + period.size(), seconds);
  if (error != std::errc() || end != period.data() + period.size()) return 0;
  return seconds;
}

BalloonConfig BalloonOf(const xmlNode* domain) {
  const xmlNode* memballoon =
      LibvirtChild(LibvirtChild(domain, "devices"), "memballoon");
  BalloonConfig balloon;
  balloon.device =
      memballoon != nullptr && Attribute(memballoon, "model") != "none";
  if (balloon.device) balloon.period_seconds = StatsPeriod(memballoon);
  balloon.real_report_times =
      DriverStampsReportTimes(Attribute(domain, "type"));
  return balloon;
}

void ReadNova(const xmlNode* domain, DomainDefinition& definition) {
  const xmlNode* metadata = LibvirtChild(domain, "metadata");
  if (metadata == nullptr) return;
  for (const xmlNode* node = metadata->children; node; node = node->next) {
    if (!IsNovaElement(node, "instance", false)) continue;
    definition.nova = NovaInstanceFrom(node);
    definition.nova_malformed = !definition.nova;
    return;
  }
}

}  // namespace

bool DriverStampsReportTimes(std::string_view domain_type) {
  return domain_type != "test";
}

std::optional<DomainDefinition> ParseDomainDefinition(std::string_view xml) {
  constexpr int kOptions =
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  const XmlDoc doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()),
                                 "domain.xml", nullptr, kOptions));
  if (!doc) return std::nullopt;
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || root->ns != nullptr || Name(root) != "domain") {
    return std::nullopt;
  }
  DomainDefinition definition;
  definition.balloon = BalloonOf(root);
  ReadNova(root, definition);
  return definition;
}

std::string DomainStartKey(const std::string& uuid, unsigned int id) {
  return uuid + "#" + std::to_string(id);
}

std::string UuidText(const std::array<unsigned char, 16>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += kHex[bytes[i] >> 4];
    text += kHex[bytes[i] & 0x0f];
  }
  return text;
}

bool DefinitionDue(const CachedDefinition& cached, const std::string& key,
                   TimePoint now, Seconds refresh_after) {
  // 3/4 of the interval plus up to 1/4 more, the same for a key every time.
  const double spread =
      0.75 +
      0.25 * static_cast<double>(std::hash<std::string>{}(key) % 1024) / 1023.0;
  return now - cached.read_at >= refresh_after * spread;
}

}  // namespace lme
