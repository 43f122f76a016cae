#include "libvirt/error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace lme::libvirt {
namespace {

void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

}  // namespace

bool Error::IsUnsupported() const {
  return code == VIR_ERR_NO_SUPPORT || code == VIR_ERR_OPERATION_UNSUPPORTED;
}

bool Error::IsNoDomain() const { return code == VIR_ERR_NO_DOMAIN; }

Error LastError() {
  const virError* error = virGetLastError();
  if (error == nullptr) return {VIR_ERR_INTERNAL_ERROR, "unknown libvirt error"};
  return {error->code, error->message ? error->message : "unknown libvirt error"};
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
