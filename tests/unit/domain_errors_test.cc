#include "core/domain_errors.h"

#include "catch_compat.h"

namespace lme {
namespace {

TEST_CASE("an unsupported API means empty stats, not an error", "[errors]") {
  CHECK(DecideDomainErrorAction(LibvirtErrorKind::kUnsupported, true) ==
        DomainErrorAction::kEmptyStats);
}

TEST_CASE("a domain that vanished is left out", "[errors]") {
  CHECK(DecideDomainErrorAction(LibvirtErrorKind::kNoDomain, true) ==
        DomainErrorAction::kSkipDomain);
}

TEST_CASE("other errors keep the domain and warn", "[errors]") {
  CHECK(DecideDomainErrorAction(LibvirtErrorKind::kOther, true) ==
        DomainErrorAction::kEmptyStatsAndWarn);
}

TEST_CASE("a dead connection wins over the error kind", "[errors]") {
  for (auto kind : {LibvirtErrorKind::kUnsupported, LibvirtErrorKind::kNoDomain,
                    LibvirtErrorKind::kOther}) {
    CHECK(DecideDomainErrorAction(kind, false) ==
          DomainErrorAction::kReconnect);
  }
}

}  // namespace
}  // namespace lme
