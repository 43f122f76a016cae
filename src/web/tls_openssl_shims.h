// Makes Debian 12's CivetWeb able to serve TLS with OpenSSL 3.
//
// CivetWeb 1.15 as Debian builds it loads OpenSSL at run time by the
// development names "libssl.so" and "libcrypto.so" (only libssl-dev installs
// those) and calls SSL_get_peer_certificate on every TLS connection, a
// function OpenSSL 3 no longer exports: CivetWeb calls a null pointer and the
// process crashes at the first HTTPS request (upstream issue civetweb#1334).
//
// Two tiny modules built from tls_shim.c carry those names as their SONAMEs.
// Once they are loaded, the dynamic loader answers CivetWeb's dlopen calls
// with them, and they resolve everything to the real libssl.so.3 and
// libcrypto.so.3, with SSL_get_peer_certificate defined. They are embedded in
// the executable and loaded from memory, so the exporter stays one file and
// needs no -dev package at run time.
#pragma once

namespace lme {

// Loads the modules once per process and checks that CivetWeb will find a
// complete OpenSSL. Call before starting a TLS listener. Throws
// std::runtime_error with the reason when TLS cannot work here.
void PrepareCivetwebTls();

}  // namespace lme
