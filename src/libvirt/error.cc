#include "libvirt/error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace lme::libvirt {
namespace {

void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

}  // namespace

LibvirtErrorKind Error::Kind() const {
  switch (code) {
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED: return LibvirtErrorKind::kUnsupported;
    case VIR_ERR_NO_DOMAIN: return LibvirtErrorKind::kNoDomain;
    default: return LibvirtErrorKind::kOther;
  }
}

Error LastError() {
  const virError* error = virGetLastError();
  if (error == nullptr)
    return {VIR_ERR_INTERNAL_ERROR, "unknown libvirt error"};
  return {error->code,
          error->message ? error->message : "unknown libvirt error"};
}

void SilenceDefaultErrorPrinting() {
  virInitialize();
  virSetErrorFunc(nullptr, IgnoreError);
}

std::string LibraryVersion() {
  unsigned long version = 0;
  if (virGetVersion(&version, nullptr, nullptr) < 0) return "unknown";
  return std::to_string(version / 1000000) + "." +
         std::to_string(version / 1000 % 1000) + "." +
         std::to_string(version % 1000);
}

}  // namespace lme::libvirt
