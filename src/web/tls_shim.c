/* Built twice into tiny modules whose SONAMEs are "libssl.so" and
 * "libcrypto.so", the names Debian 12's CivetWeb asks dlopen for; see
 * tls_openssl_shims.h for why. Each one forwards to the real OpenSSL 3
 * library it depends on. */
#ifdef LME_SHIM_LIBSSL
#include <openssl/ssl.h>

/* OpenSSL 3 turned SSL_get_peer_certificate into a macro for
 * SSL_get1_peer_certificate (same reference counting), so CivetWeb's lookup
 * of the old name finds nothing unless it is defined here. */
#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *ssl);
X509 *SSL_get_peer_certificate(const SSL *ssl) {
  return SSL_get1_peer_certificate(ssl);
}
#else
/* The libcrypto stand-in only needs its dependency on libcrypto.so.3; ISO C
 * wants at least one declaration. */
typedef int lme_libcrypto_shim_has_no_code;
#endif
