#include "web/http_text.h"

#include <cctype>
#include <cstdlib>

namespace lme {
namespace {

std::string HtmlEscape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> DecodedPath(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::string path;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      path += target[i];
      continue;
    }
    if (i + 2 >= target.size()) return std::nullopt;
    const int high = HexValue(target[i + 1]);
    const int low = HexValue(target[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    path += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return path;
}

std::optional<double> ParseScrapeTimeoutHeader(const char* value) {
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(value, &end);
  if (end == value || *end != '\0' || !(seconds > 0)) return std::nullopt;
  return seconds;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    std::string_view part = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos
                          ? std::string_view()
                          : accept_encoding.substr(comma + 1);
    const auto semicolon = part.find(';');
    std::string_view coding = part.substr(0, semicolon);
    std::string_view params = semicolon == std::string_view::npos
                                  ? std::string_view()
                                  : part.substr(semicolon + 1);
    while (!coding.empty() &&
           std::isspace(static_cast<unsigned char>(coding.front()))) {
      coding.remove_prefix(1);
    }
    while (!coding.empty() &&
           std::isspace(static_cast<unsigned char>(coding.back()))) {
      coding.remove_suffix(1);
    }
    if (coding.size() != 4) continue;
    std::string lower;
    for (char c : coding) {
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower != "gzip") continue;
    std::string q;
    for (char c : params) {
      if (!std::isspace(static_cast<unsigned char>(c))) q += c;
    }
    // "q=0", "q=0.0", "q=0.000": refused.
    if (q.rfind("q=0", 0) == 0 &&
        q.find_first_not_of("0.", 2) == std::string::npos) {
      continue;
    }
    return true;
  }
  return false;
}

std::string LandingPage(const std::string& telemetry_path,
                        const std::string& version) {
  const std::string path = HtmlEscape(telemetry_path);
  return "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\">"
         "<title>libvirt memory exporter</title></head>\n<body>\n"
         "<h1>libvirt memory exporter</h1>\n<p>Guest memory from libvirt's "
         "balloon stats, for Prometheus. Version " +
         HtmlEscape(version) + ".</p>\n<ul><li><a href=\"" + path + "\">" +
         path + "</a></li></ul>\n</body>\n</html>\n";
}

}  // namespace lme
