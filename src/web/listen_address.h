// Pure translation of node_exporter-style listen addresses to CivetWeb's.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lme {

// ":9177" -> "9177" (all IPv4 interfaces), "127.0.0.1:9177" and
// "[::1]:9177" as they are, "localhost:9177" -> "127.0.0.1:9177".
// Empty when the address is malformed or the port is not 0..65535.
std::optional<std::string> ToCivetListeningPort(std::string_view address);

}  // namespace lme
