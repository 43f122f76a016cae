// What a failed per-domain libvirt call means for the scrape. Pure, so the
// rules can be tested for errors a real libvirt will not raise on demand.
#pragma once

namespace lme {

enum class LibvirtErrorKind {
  kUnsupported,  // the driver does not implement the API
  kNoDomain,     // the domain went away between listing and reading it
  kOther,
};

enum class DomainErrorAction {
  kEmptyStats,         // not an error: the stats are just not there
  kEmptyStatsAndWarn,  // keep the domain with empty stats, log it once
  kSkipDomain,         // the domain is gone: leave it out of this scrape
  kReconnect,          // the connection died: fail the scrape, reconnect
};

DomainErrorAction DecideDomainErrorAction(LibvirtErrorKind kind,
                                          bool connection_alive);

}  // namespace lme
