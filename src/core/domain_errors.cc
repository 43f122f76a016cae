#include "core/domain_errors.h"

namespace lme {

DomainErrorAction DecideDomainErrorAction(LibvirtErrorKind kind,
                                          bool connection_alive) {
  if (!connection_alive) return DomainErrorAction::kReconnect;
  switch (kind) {
    case LibvirtErrorKind::kUnsupported: return DomainErrorAction::kEmptyStats;
    case LibvirtErrorKind::kNoDomain: return DomainErrorAction::kSkipDomain;
    case LibvirtErrorKind::kOther: break;
  }
  return DomainErrorAction::kEmptyStatsAndWarn;
}

}  // namespace lme
