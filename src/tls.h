/*
 * TLS: one SSL_CTX per virtual host, chosen by SNI; modern defaults
 * (TLS 1.2 and 1.3 only, forward-secret ciphers, no compression, no
 * renegotiation, released idle buffers).  A reload builds new contexts;
 * a host whose certificate fails to load keeps its old one.
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct tern_conf;
struct sasl_cbdata;

/*
 * Loads a context per host.  strict (start-up, ternd -n): any failure
 * is an error, -1 with the reason in err.  Otherwise (reload) a failing
 * host keeps its previous context, the reason is logged, 0 returned.
 */
int	 tls_load(const struct tern_conf *, int strict, char *err,
	    size_t errlen);
void	 tls_free(void);
/* A new server-side SSL, SNI-aware; direct: XEP-0368 (ALPN). */
SSL	*tls_ssl_new(int direct);
/* The SNI name the client sent, or NULL. */
const char *tls_sni(SSL *);
/* Channel-binding data of an established connection; 0 or -1. */
int	 tls_channel_binding(SSL *, struct sasl_cbdata *);
/* Symmetric cipher strength in bits (for SASL's external SSF). */
unsigned tls_bits(SSL *);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs; borrowed static. */
const char *tls_describe(SSL *);
/* The last OpenSSL error as text (for logs); static buffer. */
const char *tls_error(void);

#endif
