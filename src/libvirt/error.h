#pragma once

#include <string>

#include "core/domain_errors.h"

namespace lme::libvirt {

// A copy of libvirt's per-thread last error, taken right after the failing
// call before anything else can overwrite it.
struct Error {
  int code = 0;
  std::string message;

  LibvirtErrorKind Kind() const;
};

Error LastError();

// Stops libvirt (and libxml2 under it) printing errors to stderr; errors are
// read with LastError() and logged by the exporter. Affects the whole process,
// which is what we want, so it is done once at start-up.
void SilenceDefaultErrorPrinting();

// The version of the libvirt library in use, e.g. "9.0.0".
std::string LibraryVersion();

}  // namespace lme::libvirt
