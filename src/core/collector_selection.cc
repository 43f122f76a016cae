#include "core/collector_selection.h"

#include <algorithm>
#include <cctype>

namespace lme {
namespace {

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string KnownNames(const std::vector<std::string>& registered) {
  std::string known;
  for (const auto& name : registered) {
    if (!known.empty()) known += ", ";
    known += name;
  }
  return known;
}

// The first name of `requested` that is not registered, or not enabled when
// `must_be_enabled`; empty when there is none.
std::string Refusal(const std::vector<std::string>& requested,
                    const std::vector<std::string>& registered,
                    const std::set<std::string>& enabled,
                    bool must_be_enabled) {
  for (const auto& name : requested) {
    if (!Contains(registered, name)) {
      return "unknown collector '" + name +
             "'; known: " + KnownNames(registered);
    }
    if (must_be_enabled && enabled.count(name) == 0) {
      return "disabled collector '" + name + "'; enable it with --" +
             CollectorFlag(name);
    }
  }
  return {};
}

}  // namespace

CollectorSelection SelectCollectors(const std::vector<std::string>& registered,
                                    const std::set<std::string>& enabled,
                                    const std::vector<std::string>& collect,
                                    const std::vector<std::string>& exclude) {
  if (!collect.empty() && !exclude.empty()) {
    return {{}, "combined collect[] and exclude[] parameters are not allowed"};
  }
  const bool collecting = !collect.empty();
  const auto& requested = collecting ? collect : exclude;
  std::string error = Refusal(requested, registered, enabled, collecting);
  if (!error.empty()) return {{}, std::move(error)};
  CollectorSelection selection;
  for (const auto& name : registered) {
    const bool wanted =
        collecting ? Contains(collect, name)
                   : enabled.count(name) > 0 && !Contains(exclude, name);
    if (wanted) selection.collectors.push_back(name);
  }
  return selection;
}

std::string CollectorFlag(const std::string& name) {
  std::string flag = "collector." + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string CollectorEnvVar(const std::string& name) {
  std::string variable = "LIBVIRT_EXPORTER_COLLECTOR_" + name;
  for (char& c : variable) {
    c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
  }
  return variable;
}

std::string SelectionKey(const CollectorSelection& selection) {
  std::string key;
  for (const auto& name : selection.collectors) key += name + ",";
  return key;
}

}  // namespace lme
