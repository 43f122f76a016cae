// The values of one parameter in a URL's query string, as Prometheus sends
// `params` of a scrape config (`collect%5B%5D=domain_memory&...`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lme {

// Every value of `name` in `query` (without the '?'), in order; names and
// values are percent-decoded and '+' is a space. A malformed escape is kept
// as it is.
std::vector<std::string> QueryValues(std::string_view query,
                                     std::string_view name);

}  // namespace lme
