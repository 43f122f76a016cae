#include "libvirt/error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/xmlerror.h>

namespace lme::libvirt {
namespace {

void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

void IgnoreXmlMessage(void* /*context*/, const char* /*format*/, ...) {}

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
  // libxml2, which libvirt's test driver parses node files with, prints I/O
  // warnings ("failed to load external entity") straight to stderr, where
  // they would break JSON logs; libvirt reports the same failure as an
  // error the exporter logs. libxml2's handler is per thread: the first call
  // sets the default for threads created later, the second this thread's.
  xmlThrDefSetGenericErrorFunc(nullptr, IgnoreXmlMessage);
  xmlSetGenericErrorFunc(nullptr, IgnoreXmlMessage);
}

std::string LibraryVersion() {
  unsigned long version = 0;
  if (virGetVersion(&version, nullptr, nullptr) < 0) return "unknown";
  return std::to_string(version / 1000000) + "." +
         std::to_string(version / 1000 % 1000) + "." +
         std::to_string(version % 1000);
}

}  // namespace lme::libvirt
