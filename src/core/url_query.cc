#include "core/url_query.h"

#include <optional>

namespace lme {
namespace {

std::optional<int> HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

std::string Decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded += ' ';
      continue;
    }
    if (text[i] == '%' && i + 2 < text.size()) {
      const auto high = HexDigit(text[i + 1]);
      const auto low = HexDigit(text[i + 2]);
      if (high && low) {
        decoded += static_cast<char>(*high * 16 + *low);
        i += 2;
        continue;
      }
    }
    decoded += text[i];
  }
  return decoded;
}

}  // namespace

std::vector<std::string> QueryValues(std::string_view query,
                                     std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    const std::size_t end = query.find('&');
    const std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view()
                                          : query.substr(end + 1);
    const std::size_t equals = pair.find('=');
    if (Decode(pair.substr(0, equals)) != name) continue;
    values.push_back(equals == std::string_view::npos
                         ? std::string()
                         : Decode(pair.substr(equals + 1)));
  }
  return values;
}

}  // namespace lme
