/*
 * Federation, the parts both directions share: stream I/O over a conn
 * and the XML codec (content namespace jabber:server), the dialback
 * secret and keys (XEP-0185), TLS contexts and certificate checks
 * (RFC 6125), idle timers, and the router's entry point.
 *
 * Stanzas travel inside tern in jabber:client; they are copied into
 * jabber:server on the way out and back on the way in, so that modules
 * and c2s streams never see the server namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "codec.h"
#include "conf.h"
#include "conn.h"
#include "jid.h"
#include "log.h"
#include "peer.h"
#include "loop.h"
#include "router.h"
#include "s2s.h"
#include "s2s_int.h"
#include "stanza.h"
#include "tls.h"
#include "xmalloc.h"

struct s2s_list		 s2s_ins = LIST_HEAD_INITIALIZER(s2s_ins);
struct s2s_list		 s2s_outs = LIST_HEAD_INITIALIZER(s2s_outs);
static size_t		 nstreams;
static char		 secret[SHA256_DIGEST_LENGTH * 2 + 1];
static struct evdns_base *dns;

struct client_ctx {
	char	*host;
	SSL_CTX	*ctx;
};
static struct client_ctx	*cctxs;
static size_t			 ncctxs;
static X509_STORE		*store;

static void	conn_cb(struct conn *, int, void *);
static X509_STORE *trust_store(void);
static int	 strict_ca = 1;	/* a bad s2s_ca_file stops the start */
static void	on_open(void *, const struct stanza *);
static void	on_stanza(void *, struct stanza *);
static void	on_close(void *);
static void	on_error(void *, const char *, const char *);

static const struct codec_cb	s2s_cb = {
	on_open, on_stanza, on_close, on_error
};

void
s2s_init(void)
{
	const struct tern_conf	*conf = loop_conf();
	unsigned char		 raw[32];
	int			 flags;

	/* XEP-0185: a secret made at start. */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatalx("s2s: RAND_bytes failed");
	s2s_set_secret(raw, sizeof(raw));
	OPENSSL_cleanse(raw, sizeof(raw));
	flags = conf->s2s.nameserver != NULL ? 0 :
	    EVDNS_BASE_INITIALIZE_NAMESERVERS;
	if ((dns = evdns_base_new(loop_base(), flags)) == NULL)
		fatalx("s2s: cannot create the DNS resolver");
	if (conf->s2s.nameserver != NULL &&
	    evdns_base_nameserver_ip_add(dns, conf->s2s.nameserver) != 0)
		fatalx("s2s: bad dns_nameserver %s", conf->s2s.nameserver);
	trust_store();		/* a bad s2s_ca_file stops the start */
}

void
s2s_free(void)
{
	if (dns != NULL)
		evdns_base_free(dns, 1);
	dns = NULL;
	s2s_tls_free();
	OPENSSL_cleanse(secret, sizeof(secret));
}

struct evdns_base *
s2s_dns(void)
{
	return dns;
}

size_t
s2s_count(void)
{
	return nstreams;
}

void
s2s_set_secret(const void *raw, size_t len)
{
	unsigned char	md[SHA256_DIGEST_LENGTH];
	int		i;

	/* XEP-0185: the HMAC key is the SHA-256 of the secret, in hex. */
	SHA256(raw, len, md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(secret + 2 * i, 3, "%02x", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
}

void
s2s_key(const char *recv, const char *orig, const char *id,
    char out[S2S_KEY_LEN + 1])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		*msg;
	unsigned	 i;

	xasprintf(&msg, "%s %s %s", recv, orig, id);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)msg, strlen(msg), md, &mdlen) == NULL)
		fatalx("s2s: HMAC failed");
	free(msg);
	for (i = 0; i < mdlen && i * 2 < S2S_KEY_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = '\0';
}

int
s2s_key_check(const char *recv, const char *orig, const char *id,
    const char *key)
{
	char	want[S2S_KEY_LEN + 1];

	s2s_key(recv, orig, id, want);
	return strlen(key) == strlen(want) &&
	    CRYPTO_memcmp(key, want, strlen(want)) == 0;
}

int
s2s_is(const struct stanza *st, const char *ns, const char *name)
{
	return st->ns != NULL && strcmp(st->ns, ns) == 0 &&
	    strcmp(st->name, name) == 0;
}

/* Renames namespace from to 'to' in st and its descendants. */
static void
ns_rename(struct stanza *st, const char *from, const char *to)
{
	size_t	i;

	if (st->ns != NULL && strcmp(st->ns, from) == 0) {
		free(st->ns);
		st->ns = xstrdup(to);
	}
	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el != NULL)
			ns_rename(st->kids[i].el, from, to);
}

struct stanza *
s2s_ns_copy(const struct stanza *st, const char *from, const char *to)
{
	struct stanza	*c = stanza_copy(st);

	ns_rename(c, from, to);
	return c;
}

void
s2s_bounce(const struct stanza *st, const char *etype, const char *cond,
    const char *text)
{
	struct stanza	*e;

	if ((e = stanza_error_reply(st, etype, cond, text)) == NULL)
		return;
	router_route(e);
	stanza_unref(e);
}

/*
 * Stream I/O.
 */

void
s2s_start_io(struct s2s *s, int fd, const struct sockaddr *sa,
    socklen_t salen, SSL *ssl)
{
	s->cctx = codec_xml.create(&s2s_cb, s, STANZA_NS_SERVER,
	    loop_limits());
	if (s->dir == S2S_OUT)
		s->conn = conn_new_client(fd, sa, salen, ssl, conn_cb, s);
	else
		s->conn = conn_new(fd, sa, salen, ssl, conn_cb, s);
	nstreams++;
	if (s->remote != NULL)
		conn_set_label(s->conn, s->remote);
}

void
s2s_send_header(struct s2s *s)
{
	struct stanza	*hdr;
	unsigned char	 rnd[16];
	int		 i;

	if (s->header_sent || s->conn == NULL)
		return;
	hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	if (s->local != NULL)
		stanza_set_attr(hdr, "from", s->local);
	if (s->remote != NULL)
		stanza_set_attr(hdr, "to", s->remote);
	if (s->dir == S2S_IN) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			fatalx("s2s: RAND_bytes failed");
		for (i = 0; i < 16; i++)
			snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
		stanza_set_attr(hdr, "id", s->id);
	}
	stanza_set_attr(hdr, "version", "1.0");
	stanza_set_attr(hdr, "xmlns:db", NS_DB);
	codec_xml.write_header(s->cctx, conn_output(s->conn), hdr);
	stanza_unref(hdr);
	s->header_sent = 1;
}

void
s2s_restart(struct s2s *s)
{
	s->header_sent = 0;
	codec_xml.restart(s->cctx);
}

void
s2s_write(struct s2s *s, const struct stanza *st)
{
	struct stanza	*c;

	if (s->conn == NULL || s->state >= SS_CLOSING)
		return;
	if (st->ns != NULL && strcmp(st->ns, STANZA_NS_CLIENT) == 0) {
		c = s2s_ns_copy(st, STANZA_NS_CLIENT, STANZA_NS_SERVER);
		codec_xml.write_stanza(s->cctx, conn_output(s->conn), c);
		stanza_unref(c);
	} else
		codec_xml.write_stanza(s->cctx, conn_output(s->conn), st);
	if (conn_pending(s->conn) > loop_limits()->pending_output) {
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: more than %zu bytes "
		    "pending output: the peer does not read",
		    s->remote ? s->remote : "?",
		    loop_limits()->pending_output);
		s2s_error(s, "policy-violation", "Too much pending output");
	}
}

void
s2s_write_take(struct s2s *s, struct stanza *st)
{
	s2s_write(s, st);
	stanza_unref(st);
}

void
s2s_error(struct s2s *s, const char *cond, const char *text)
{
	struct stanza	*err;

	if (s->conn == NULL || s->state >= SS_CLOSING)
		return;
	if (s->dir == S2S_IN)
		s2s_send_header(s);
	if (s->header_sent) {
		err = stanza_new(STANZA_NS_STREAMS, "error");
		stanza_add_child(err, STANZA_NS_STREAM_ERR, cond);
		if (text != NULL)
			stanza_add_text_child(err, STANZA_NS_STREAM_ERR,
			    "text", text);
		codec_xml.write_stanza(s->cctx, conn_output(s->conn), err);
		codec_xml.write_close(s->cctx, conn_output(s->conn));
		stanza_unref(err);
	}
	conn_log(s->conn, LOG_LVL_INFO, "s2s %s: stream error <%s/>%s%s",
	    s->remote ? s->remote : "?", cond, text ? ": " : "",
	    text ? text : "");
	codec_xml.pause(s->cctx);
	s->state = SS_CLOSING;
	conn_close(s->conn);
}

/* Ends our stream politely (idle, shutdown). */
void
s2s_close(struct s2s *s)
{
	if (s->conn == NULL || s->state >= SS_CLOSING) {
		if (s->conn == NULL)
			s2s_retire(s);
		return;
	}
	if (s->header_sent)
		codec_xml.write_close(s->cctx, conn_output(s->conn));
	codec_xml.pause(s->cctx);
	s->state = SS_CLOSING;
	conn_close(s->conn);
}

static void
s2s_destroy(void *arg)
{
	struct s2s	*s = arg;
	size_t		 i;

	if (s->dir == S2S_OUT)
		s2s_out_free(s);
	else
		peer_release(s->peer);
	if (s->cctx != NULL)
		codec_xml.destroy(s->cctx);
	conn_free(s->conn);
	if (s->timer != NULL)
		event_free(s->timer);
	for (i = 0; i < s->npairs; i++) {
		free(s->pairs[i].from);
		free(s->pairs[i].to);
	}
	free(s->pairs);
	free(s->local);
	free(s->remote);
	free(s->auth);
	free(s->why);
	free(s);
}

void
s2s_retire(struct s2s *s)
{
	if (s->state == SS_DEAD)
		return;
	s->state = SS_DEAD;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	LIST_REMOVE(s, entry);
	if (s->conn != NULL)
		nstreams--;
	loop_defer(s2s_destroy, s);
}

static void
timer_cb(int fd, short ev, void *arg)
{
	struct s2s	*s = arg;

	if (s->state >= SS_CLOSING)
		return;		/* closing already */
	if (s->state == SS_READY || (s->dir == S2S_IN && s->auth != NULL))
		s2s_idle_check(s);
	else if (s->dir == S2S_IN)
		s2s_in_timeout(s);
	else
		s2s_out_timeout(s);
}

void
s2s_arm(struct s2s *s, unsigned seconds)
{
	struct timeval	tv = { seconds, 0 };

	if (s->timer == NULL)
		s->timer = evtimer_new(loop_base(), timer_cb, s);
	evtimer_add(s->timer, &tv);
}

/* Closes a stream that carried no stanza for s2s_idle_timeout. */
void
s2s_idle_check(struct s2s *s)
{
	unsigned	idle = loop_conf()->s2s.idle_timeout;
	time_t		now = time(NULL);

	if (now - s->last < (time_t)idle) {
		s2s_arm(s, (unsigned)(idle - (now - s->last)));
		return;
	}
	conn_log(s->conn, LOG_LVL_INFO, "s2s %s: idle for %us, closing",
	    s->remote ? s->remote : "?", idle);
	s2s_close(s);
}

static void
on_open(void *arg, const struct stanza *hdr)
{
	struct s2s	*s = arg;

	if (s->dir == S2S_IN)
		s2s_in_open(s, hdr);
	else
		s2s_out_open(s, hdr);
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct s2s	*s = arg;
	struct stanza	*cond;

	if (s->state >= SS_CLOSING)
		return;
	if (s2s_is(st, STANZA_NS_STREAMS, "error")) {
		cond = stanza_child(st, STANZA_NS_STREAM_ERR, NULL);
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: the peer sent a "
		    "stream error <%s/>", s->remote ? s->remote : "?",
		    cond != NULL ? cond->name : "?");
		if (s->why == NULL)
			xasprintf(&s->why, "stream error <%s/> from the peer",
			    cond != NULL ? cond->name : "?");
		s2s_close(s);
		return;
	}
	if (s->dir == S2S_IN)
		s2s_in_stanza(s, st);
	else
		s2s_out_stanza(s, st);
}

static void
on_close(void *arg)
{
	struct s2s	*s = arg;

	if (s->state >= SS_CLOSING)
		return;
	conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s: peer closed its stream",
	    s->remote ? s->remote : "?");
	if (s->why == NULL && s->state != SS_READY)
		s->why = xstrdup("the peer closed the stream during setup");
	s2s_close(s);
}

static void
on_error(void *arg, const char *cond, const char *text)
{
	struct s2s	*s = arg;

	if (s->why == NULL)
		xasprintf(&s->why, "bad XML from the peer: %s", text ? text :
		    cond);
	s2s_error(s, cond, text);
}

static void
read_input(struct s2s *s)
{
	struct evbuffer		*in = conn_input(s->conn);
	struct evbuffer_iovec	 v[8];
	int			 i, n;

	while (s->state < SS_CLOSING && s->state != SS_TLS &&
	    evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		for (i = 0; i < n && s->state < SS_CLOSING &&
		    s->state != SS_TLS; i++)
			codec_xml.feed(s->cctx, v[i].iov_base, v[i].iov_len);
		for (i = 0; i < n; i++)
			evbuffer_drain(in, v[i].iov_len);
	}
}

static void
conn_cb(struct conn *c, int ev, void *arg)
{
	struct s2s	*s = arg;

	switch (ev) {
	case CONN_EV_DATA:
		read_input(s);
		break;
	case CONN_EV_TLS_READY:
		s->tls = 1;
		if (s->dir == S2S_IN)
			s2s_in_tls(s);
		else
			s2s_out_tls(s);
		if (s->state < SS_CLOSING)
			read_input(s);
		break;
	case CONN_EV_CLOSED:
		if (s->dir == S2S_OUT)
			s2s_out_closed(s);
		else
			s2s_retire(s);
		break;
	}
}

/*
 * The router's entry point.
 */

void
s2s_route(const struct stanza *st, const struct jid *to)
{
	const char	*from = stanza_attr(st, "from");
	struct jid	*fj;

	if (dns == NULL) {
		/* Not started (tools, tests): no federation. */
		s2s_bounce(st, "cancel", "remote-server-not-found", NULL);
		return;
	}
	if (from == NULL || (fj = jid_parse(from)) == NULL) {
		log_debug("s2s: dropping a stanza for %s without a valid "
		    "'from'", to->domain);
		return;
	}
	if (conf_host_find(loop_conf(), fj->domain) == NULL) {
		/* Never relay between two remote domains. */
		log_info("s2s: refusing to relay a stanza from %s to %s",
		    fj->domain, to->domain);
		jid_free(fj);
		return;
	}
	s2s_out_route(st, fj->domain, to->domain);
	jid_free(fj);
}

void
s2s_shutdown_all(void)
{
	struct s2s	*s, *next;

	for (s = LIST_FIRST(&s2s_ins); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		s2s_error(s, "system-shutdown", "The server is stopping");
	}
	for (s = LIST_FIRST(&s2s_outs); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (s->state == SS_READY || s->conn == NULL)
			s2s_close(s);	/* connecting: just stops */
		else
			s2s_error(s, "system-shutdown",
			    "The server is stopping");
	}
}

/*
 * TLS: client contexts per local domain (our certificate, for SASL
 * EXTERNAL at the peer), and certificate checks done by hand after the
 * handshake so that a bad certificate means dialback, not a failed
 * handshake.
 */

static int
accept_any(int ok, X509_STORE_CTX *x)
{
	return 1;	/* checked after the handshake: s2s_cert_check */
}

static X509_STORE *
trust_store(void)
{
	const char	*ca = loop_conf()->s2s.ca_file;

	if (store != NULL)
		return store;
	if ((store = X509_STORE_new()) == NULL)
		fatalx("s2s: X509_STORE_new");
	if (X509_STORE_set_default_paths(store) != 1)
		log_warnx("s2s: cannot load the system CA store: %s",
		    tls_error());
	if (ca != NULL && X509_STORE_load_file(store, ca) != 1) {
		if (strict_ca)
			fatalx("s2s: cannot load s2s_ca_file %s: %s", ca,
			    tls_error());
		log_warnx("s2s: cannot load s2s_ca_file %s: %s; only the "
		    "system CA store is trusted until it is fixed", ca,
		    tls_error());
	}
	return store;
}

SSL *
s2s_client_ssl(const char *local, const char *remote)
{
	const struct conf_host	*h = conf_host_find(loop_conf(), local);
	SSL_CTX			*ctx = NULL;
	SSL			*ssl;
	size_t			 i;

	for (i = 0; i < ncctxs; i++)
		if (strcmp(cctxs[i].host, local) == 0)
			ctx = cctxs[i].ctx;
	if (ctx == NULL) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			fatalx("s2s: SSL_CTX_new: %s", tls_error());
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
		    SSL_OP_NO_RENEGOTIATION);
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
		if (h != NULL && h->cert != NULL &&
		    (SSL_CTX_use_certificate_chain_file(ctx, h->cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, h->key,
		    SSL_FILETYPE_PEM) != 1))
			log_warnx("s2s: %s: cannot use certificate %s as a "
			    "client: %s", local, h->cert, tls_error());
		cctxs = xreallocarray(cctxs, ncctxs + 1, sizeof(*cctxs));
		cctxs[ncctxs].host = xstrdup(local);
		cctxs[ncctxs++].ctx = ctx;
	}
	if ((ssl = SSL_new(ctx)) == NULL)
		fatalx("s2s: SSL_new: %s", tls_error());
	SSL_set_tlsext_host_name(ssl, remote);
	return ssl;
}

/* An incoming stream asks for the peer's certificate (EXTERNAL). */
void
s2s_server_ssl(SSL *ssl)
{
	static const unsigned char	sid[] = "tern-s2s";

	SSL_set_verify(ssl, SSL_VERIFY_PEER, accept_any);
	SSL_set_session_id_context(ssl, sid, sizeof(sid) - 1);
}

void
s2s_reload(void)
{
	/* New streams use the new certificates and CA file. */
	s2s_tls_free();
	strict_ca = 0;
	trust_store();
}

void
s2s_tls_free(void)
{
	size_t	i;

	for (i = 0; i < ncctxs; i++) {
		SSL_CTX_free(cctxs[i].ctx);
		free(cctxs[i].host);
	}
	free(cctxs);
	cctxs = NULL;
	ncctxs = 0;
	X509_STORE_free(store);
	store = NULL;
}

/* RFC 6125 SRV-ID (_xmpp-server.domain) or XmppAddr naming domain. */
static int
other_name_match(X509 *x, const char *domain)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	ASN1_OBJECT	*oid_srv, *oid_xmpp;
	ASN1_TYPE	*v;
	char		 want[300], *val;
	int		 i, n, len, ok = 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return 0;
	oid_srv = OBJ_txt2obj("1.3.6.1.5.5.7.8.7", 1);
	oid_xmpp = OBJ_txt2obj("1.3.6.1.5.5.7.8.5", 1);
	snprintf(want, sizeof(want), "_xmpp-server.%s", domain);
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n && !ok; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_OTHERNAME)
			continue;
		v = g->d.otherName->value;
		if (v == NULL || (v->type != V_ASN1_IA5STRING &&
		    v->type != V_ASN1_UTF8STRING))
			continue;
		len = ASN1_STRING_length(v->value.asn1_string);
		val = (char *)ASN1_STRING_get0_data(v->value.asn1_string);
		if (OBJ_cmp(g->d.otherName->type_id, oid_srv) == 0)
			ok = (size_t)len == strlen(want) &&
			    strncasecmp(val, want, len) == 0;
		else if (OBJ_cmp(g->d.otherName->type_id, oid_xmpp) == 0)
			ok = (size_t)len == strlen(domain) &&
			    strncasecmp(val, domain, len) == 0;
	}
	ASN1_OBJECT_free(oid_srv);
	ASN1_OBJECT_free(oid_xmpp);
	GENERAL_NAMES_free(gens);
	return ok;
}

/*
 * Verifies the peer's chain against the system store and s2s_ca_file
 * (no purpose check: certificates without clientAuth are accepted) and
 * that it names domain: DNS-ID with RFC 6125 wildcards, SRV-ID or
 * XmppAddr.  0 and s->cert_ok set, or -1 with the reason.
 */
int
s2s_cert_check(struct s2s *s, const char *domain, const char **why)
{
	X509		*x = SSL_get0_peer_certificate(s->conn->ssl);
	STACK_OF(X509)	*chain = SSL_get_peer_cert_chain(s->conn->ssl);
	X509_STORE_CTX	*ctx;
	static char	 buf[256];
	int		 rc, err;

	s->cert_ok = 0;
	if (x == NULL) {
		*why = "the peer sent no certificate";
		return -1;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		fatalx("s2s: X509_STORE_CTX_new");
	X509_STORE_CTX_init(ctx, trust_store(), x, chain);
	rc = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	if (rc != 1) {
		snprintf(buf, sizeof(buf), "certificate not trusted: %s",
		    X509_verify_cert_error_string(err));
		*why = buf;
		return -1;
	}
	if (X509_check_host(x, domain, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
	    NULL) != 1 && !other_name_match(x, domain)) {
		snprintf(buf, sizeof(buf), "certificate name mismatch: it "
		    "does not name %s", domain);
		*why = buf;
		return -1;
	}
	s->cert_ok = 1;
	return 0;
}
