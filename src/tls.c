/*
 * OpenSSL contexts.  The table of host contexts is replaced whole on
 * reload; SSL objects hold their own reference to the context they were
 * made with, so connections in flight are unaffected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "conf.h"
#include "log.h"
#include "sasl.h"
#include "tls.h"
#include "xmalloc.h"

/* Forward secrecy only for TLS 1.2; TLS 1.3 suites are all PFS. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tls_host {
	char	*name;
	SSL_CTX	*ctx;
};

static struct tls_host	*hosts;
static size_t		 nhosts;

const char *
tls_error(void)
{
	static char	buf[256];
	unsigned long	e = ERR_get_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static SSL_CTX *
find_ctx(const char *name)
{
	size_t	i;

	for (i = 0; i < nhosts; i++)
		if (strcasecmp(hosts[i].name, name) == 0)
			return hosts[i].ctx;
	return NULL;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char	*name = SSL_get_servername(ssl,
			    TLSEXT_NAMETYPE_host_name);
	SSL_CTX		*ctx;

	if (name != NULL && (ctx = find_ctx(name)) != NULL)
		SSL_set_SSL_CTX(ssl, ctx);
	return SSL_TLSEXT_ERR_OK;	/* unknown names get the default */
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char	proto[] = "\x0bxmpp-client";

	if (SSL_select_next_proto((unsigned char **)out, outlen, proto,
	    sizeof(proto) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

/* Warns about a certificate that will not satisfy clients. */
static void
check_cert(SSL_CTX *ctx, const char *host, const char *file)
{
	X509	*x = SSL_CTX_get0_certificate(ctx);

	if (x == NULL)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		log_warnx("tls: certificate %s for %s has expired", file,
		    host);
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		log_warnx("tls: certificate %s for %s is not valid yet",
		    file, host);
	if (X509_check_host(x, host, 0, 0, NULL) != 1)
		log_warnx("tls: certificate %s does not name %s (clients "
		    "that verify names will refuse it)", file, host);
}

static SSL_CTX *
ctx_new(const struct conf_host *h, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	FILE	*f;

	if ((f = fopen(h->cert, "r")) == NULL) {
		snprintf(err, errlen, "host %s: cannot read certificate %s: "
		    "%s", h->name, h->cert, strerror(errno));
		return NULL;
	}
	fclose(f);
	if ((f = fopen(h->key, "r")) == NULL) {
		snprintf(err, errlen, "host %s: cannot read key %s: %s",
		    h->name, h->key, strerror(errno));
		return NULL;
	}
	fclose(f);
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		fatalx("tls: SSL_CTX_new: %s", tls_error());
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		fatalx("tls: cipher list: %s", tls_error());
	if (SSL_CTX_use_certificate_chain_file(ctx, h->cert) != 1) {
		snprintf(err, errlen, "host %s: bad certificate %s: %s",
		    h->name, h->cert, tls_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, h->key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "host %s: bad key %s: %s", h->name,
		    h->key, tls_error());
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "host %s: key %s does not match "
		    "certificate %s", h->name, h->key, h->cert);
		goto fail;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	check_cert(ctx, h->name, h->cert);
	return ctx;
 fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_load(const struct tern_conf *conf, int strict, char *err,
    size_t errlen)
{
	struct tls_host	*nh;
	SSL_CTX		*old;
	size_t		 i, j;

	nh = xcalloc(conf->nhosts, sizeof(*nh));
	for (i = 0; i < conf->nhosts; i++) {
		nh[i].name = xstrdup(conf->hosts[i].name);
		nh[i].ctx = ctx_new(&conf->hosts[i], err, errlen);
		if (nh[i].ctx != NULL)
			continue;
		if (strict || (old = find_ctx(nh[i].name)) == NULL) {
			if (!strict)
				log_warnx("tls: %s; host %s has no "
				    "certificate until it is fixed", err,
				    nh[i].name);
			if (strict) {
				for (j = 0; j <= i; j++) {
					SSL_CTX_free(nh[j].ctx);
					free(nh[j].name);
				}
				free(nh);
				return -1;
			}
			continue;
		}
		log_warnx("tls: %s; keeping the certificate in use", err);
		SSL_CTX_up_ref(old);
		nh[i].ctx = old;
	}
	tls_free();
	hosts = nh;
	nhosts = conf->nhosts;
	return 0;
}

void
tls_free(void)
{
	size_t	i;

	for (i = 0; i < nhosts; i++) {
		SSL_CTX_free(hosts[i].ctx);
		free(hosts[i].name);
	}
	free(hosts);
	hosts = NULL;
	nhosts = 0;
}

SSL *
tls_ssl_new(int direct)
{
	size_t	 i;
	SSL	*ssl;

	for (i = 0; i < nhosts; i++)
		if (hosts[i].ctx != NULL)
			break;
	if (i == nhosts)
		return NULL;
	if ((ssl = SSL_new(hosts[i].ctx)) == NULL)
		fatalx("tls: SSL_new: %s", tls_error());
	return ssl;
}

const char *
tls_sni(SSL *ssl)
{
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

int
tls_channel_binding(SSL *ssl, struct sasl_cbdata *cb)
{
	X509		*x = SSL_get_certificate(ssl);
	const EVP_MD	*md = NULL;
	unsigned int	 len;
	int		 md_nid;

	memset(cb, 0, sizeof(*cb));
	/* RFC 9266: TLS 1.3, or 1.2 with the extended master secret. */
	if ((SSL_version(ssl) == TLS1_3_VERSION ||
	    SSL_get_extms_support(ssl) == 1) &&
	    SSL_export_keying_material(ssl, cb->exporter,
	    sizeof(cb->exporter), "EXPORTER-Channel-Binding", 24, NULL, 0,
	    0) == 1)
		cb->has_exporter = 1;
	/* RFC 5929 4.1: the cert's hash, MD5/SHA-1 upgraded to SHA-256. */
	if (x != NULL && OBJ_find_sigid_algs(X509_get_signature_nid(x),
	    &md_nid, NULL) == 1) {
		if (md_nid == NID_md5 || md_nid == NID_sha1)
			md_nid = NID_sha256;
		md = EVP_get_digestbynid(md_nid);
	}
	if (md != NULL && X509_digest(x, md, cb->endpoint, &len) == 1 &&
	    len <= sizeof(cb->endpoint))
		cb->endpoint_len = len;
	/*
	 * COMPAT: tls-unique, the first Finished message of the handshake.
	 * RFC 9266 retires it for TLS 1.3, but clients that know no other
	 * type (slixmpp among them) still send it, computed this way.
	 */
	cb->unique_len = (unsigned)(SSL_session_reused(ssl) ?
	    SSL_get_finished(ssl, cb->unique, sizeof(cb->unique)) :
	    SSL_get_peer_finished(ssl, cb->unique, sizeof(cb->unique)));
	if (cb->unique_len > sizeof(cb->unique))
		cb->unique_len = 0;
	return cb->has_exporter || cb->endpoint_len > 0 ||
	    cb->unique_len > 0 ? 0 : -1;
}

unsigned
tls_bits(SSL *ssl)
{
	int	bits = SSL_get_cipher_bits(ssl, NULL);

	return bits > 0 ? (unsigned)bits : 0;
}

const char *
tls_describe(SSL *ssl)
{
	static char	buf[128];

	snprintf(buf, sizeof(buf), "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	return buf;
}
