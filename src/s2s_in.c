/*
 * Incoming server streams: what other servers open to our s2s
 * listeners.  We are the receiving server for the domain pairs the
 * peer authenticates here (SASL EXTERNAL with a valid certificate, or
 * XEP-0220 dialback checked with the peer's authoritative server over
 * one of our outgoing streams), and the authoritative server for the
 * keys we generated (db:verify).  Stanzas are accepted only for
 * authenticated pairs; anything else is the stream error RFC 6120 and
 * XEP-0220 name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <openssl/evp.h>

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

void
s2s_accept(int fd, const struct sockaddr *sa, socklen_t salen, int direct)
{
	struct s2s	*s;
	SSL		*ssl = NULL;
	char		 peer[PEER_KEY_LEN];

	if (peer_admit(sa, peer) == -1) {
		close(fd);
		return;
	}
	if (direct) {
		if ((ssl = tls_ssl_new(0)) == NULL) {
			log_warnx("s2s_tls: no usable certificate; closing "
			    "connection");
			peer_release(peer);
			close(fd);
			return;
		}
		s2s_server_ssl(ssl);
	}
	s = xcalloc(1, sizeof(*s));
	memcpy(s->peer, peer, sizeof(s->peer));
	s->dir = S2S_IN;
	s->state = SS_HEADER;
	s->direct = direct;
	s->cfd = -1;
	s->last = time(NULL);
	LIST_INSERT_HEAD(&s2s_ins, s, entry);
	s2s_start_io(s, fd, sa, salen, ssl);
	s2s_arm(s, loop_conf()->s2s.connect_timeout);
	conn_log(s->conn, LOG_LVL_DEBUG, "s2s connection accepted%s",
	    direct ? " (direct TLS)" : "");
}

void
s2s_in_timeout(struct s2s *s)
{
	conn_log(s->conn, LOG_LVL_WARN, "s2s %s: not authenticated after "
	    "%us", s->remote ? s->remote : "?",
	    loop_conf()->s2s.connect_timeout);
	s2s_error(s, "connection-timeout", "Authentication took too long");
}

static void
send_features(struct s2s *s)
{
	struct stanza	*f, *m;
	const char	*why;

	f = stanza_new(STANZA_NS_STREAMS, "features");
	if (!s->tls)
		stanza_add_child(stanza_add_child(f, NS_TLS, "starttls"),
		    NULL, "required");
	else {
		/* XEP-0178: EXTERNAL only with a certificate we trust. */
		if (s->remote != NULL && s->auth == NULL &&
		    s2s_cert_check(s, s->remote, &why) == 0) {
			m = stanza_add_child(f, NS_SASL, "mechanisms");
			stanza_add_text_child(m, NULL, "mechanism",
			    "EXTERNAL");
		} else if (s->remote != NULL && s->auth == NULL)
			conn_log(s->conn, LOG_LVL_INFO, "s2s %s: no SASL "
			    "EXTERNAL: %s", s->remote, why);
		stanza_add_child(stanza_add_child(f, NS_DB_FEAT, "dialback"),
		    NULL, "errors");
	}
	s2s_write_take(s, f);
}

void
s2s_in_open(struct s2s *s, const struct stanza *hdr)
{
	const char	*to = stanza_attr(hdr, "to");
	const char	*from = stanza_attr(hdr, "from");
	const char	*ver = stanza_attr(hdr, "version");
	char		*dom;

	s->header_sent = 0;
	if (to == NULL && s->tls && tls_sni(s->conn->ssl) != NULL)
		to = tls_sni(s->conn->ssl);
	dom = to != NULL ? jid_prep_domain(to) : NULL;
	if (dom == NULL || conf_host_find(loop_conf(), dom) == NULL) {
		free(dom);
		s2s_error(s, "host-unknown", "This server does not serve "
		    "that domain");
		return;
	}
	if (s->local != NULL && strcmp(s->local, dom) != 0) {
		free(dom);
		s2s_error(s, "host-unknown", "The domain changed after a "
		    "stream restart");
		return;
	}
	free(s->local);
	s->local = dom;
	if (from != NULL && s->remote == NULL &&
	    (s->remote = jid_prep_domain(from)) != NULL)
		conn_set_label(s->conn, s->remote);
	s2s_send_header(s);
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		s2s_error(s, "unsupported-version", "Only XMPP 1.0 streams "
		    "are supported");
		return;
	}
	s->state = SS_NEGOTIATE;
	send_features(s);
}

void
s2s_in_tls(struct s2s *s)
{
	if (s->state == SS_TLS) {
		s->state = SS_HEADER;
		s2s_restart(s);
	}
}

static struct s2s_pair *
pair_find(struct s2s *s, const char *from, const char *to)
{
	size_t	i;

	for (i = 0; i < s->npairs; i++)
		if (strcmp(s->pairs[i].from, from) == 0 &&
		    strcmp(s->pairs[i].to, to) == 0)
			return &s->pairs[i];
	return NULL;
}

static struct s2s_pair *
pair_add(struct s2s *s, const char *from, const char *to)
{
	struct s2s_pair	*p;

	if ((p = pair_find(s, from, to)) != NULL)
		return p;
	s->pairs = xreallocarray(s->pairs, s->npairs + 1, sizeof(*s->pairs));
	p = &s->pairs[s->npairs++];
	p->from = xstrdup(from);
	p->to = xstrdup(to);
	p->valid = 0;
	return p;
}

static void
authenticated(struct s2s *s, struct s2s_pair *p, const char *how)
{
	p->valid = 1;
	if (s->auth == NULL) {
		s->auth = xstrdup(how);
		s->last = time(NULL);
		s2s_arm(s, loop_conf()->s2s.idle_timeout);
	}
	conn_log(s->conn, LOG_LVL_INFO, "s2s %s -> %s: incoming stream "
	    "authenticated (%s)", p->from, p->to, how);
}

static void
do_starttls(struct s2s *s, struct stanza *st)
{
	SSL	*ssl;

	if (s->tls || (ssl = tls_ssl_new(0)) == NULL) {
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: STARTTLS refused: %s",
		    s->remote ? s->remote : "?", s->tls ? "TLS already "
		    "established" : "no usable certificate");
		s2s_write_take(s, stanza_new(NS_TLS, "failure"));
		s2s_close(s);
		return;
	}
	s2s_server_ssl(ssl);
	s2s_write_take(s, stanza_new(NS_TLS, "proceed"));
	codec_xml.pause(s->cctx);
	s->state = SS_TLS;
	conn_starttls(s->conn, ssl);
}

/* XEP-0178: SASL EXTERNAL with the certificate checked at features. */
static void
do_auth(struct s2s *s, struct stanza *st)
{
	const char	*mech = stanza_attr(st, "mechanism");
	char		*authz = stanza_text(st), *dec = NULL;
	struct stanza	*f;
	const char	*who = s->remote;
	int		 n;

	if (*authz != '\0' && strcmp(authz, "=") != 0) {
		dec = xcalloc(1, strlen(authz) + 4);
		n = EVP_DecodeBlock((unsigned char *)dec,
		    (unsigned char *)authz, (int)strlen(authz));
		if (n < 0)
			who = NULL;
		else
			who = dec;
	}
	if (mech == NULL || strcmp(mech, "EXTERNAL") != 0 || !s->cert_ok ||
	    who == NULL || s->remote == NULL || strcmp(who, s->remote) != 0) {
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: SASL EXTERNAL "
		    "refused: %s", s->remote ? s->remote : "?",
		    !s->cert_ok ? "no valid certificate" :
		    "authorization identity is not the stream's 'from'");
		f = stanza_new(NS_SASL, "failure");
		stanza_add_child(f, NULL, "not-authorized");
		s2s_write_take(s, f);
	} else {
		s2s_write_take(s, stanza_new(NS_SASL, "success"));
		authenticated(s, pair_add(s, s->remote, s->local),
		    "SASL EXTERNAL");
		s->state = SS_HEADER;
		s2s_restart(s);
	}
	free(authz);
	free(dec);
}

/* XEP-0220 2.1.2: the originating server's key, checked for it. */
static void
do_db_result(struct s2s *s, struct stanza *st)
{
	const char	*from = stanza_attr(st, "from");
	const char	*to = stanza_attr(st, "to");
	char		*f = NULL, *t = NULL, *key;

	if (!s->tls) {
		s2s_error(s, "policy-violation", "STARTTLS first");
		return;
	}
	if (from == NULL || to == NULL || (f = jid_prep_domain(from)) ==
	    NULL || (t = jid_prep_domain(to)) == NULL) {
		s2s_error(s, "improper-addressing", "Dialback needs valid "
		    "'from' and 'to'");
		goto done;
	}
	if (conf_host_find(loop_conf(), t) == NULL) {
		s2s_error(s, "host-unknown", "This server does not serve "
		    "that domain");
		goto done;
	}
	if (conf_host_find(loop_conf(), f) != NULL) {
		s2s_error(s, "invalid-from", "That domain is ours");
		goto done;
	}
	key = stanza_text(st);
	if (*key == '\0' || strlen(key) > 1024) {
		free(key);
		s2s_error(s, "bad-format", "Bad dialback key");
		goto done;
	}
	if (pair_find(s, f, t) == NULL &&
	    s->npairs >= loop_conf()->s2s.queue_max) {
		free(key);
		s2s_error(s, "policy-violation", "Too many domains on one "
		    "stream");
		goto done;
	}
	if (s->remote == NULL) {
		s->remote = xstrdup(f);
		conn_set_label(s->conn, f);
	}
	pair_add(s, f, t);
	conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s -> %s: checking a dialback "
	    "key with the authoritative server", f, t);
	s2s_out_verify(t, f, s->id, key, s->conn->id);
	free(key);
 done:
	free(f);
	free(t);
}

void
s2s_in_verified(uint64_t in, const char *remote, const char *local,
    int valid, const char *why)
{
	struct s2s	*s;
	struct s2s_pair	*p;
	struct stanza	*r, *e;

	LIST_FOREACH(s, &s2s_ins, entry)
		if (s->conn != NULL && s->conn->id == in)
			break;
	if (s == NULL || s->state >= SS_CLOSING ||
	    (p = pair_find(s, remote, local)) == NULL)
		return;
	r = stanza_new(NS_DB, "result");
	stanza_set_attr(r, "from", local);
	stanza_set_attr(r, "to", remote);
	if (valid == 1) {
		stanza_set_attr(r, "type", "valid");
		s2s_write_take(s, r);
		authenticated(s, p, "dialback");
		return;
	}
	conn_log(s->conn, LOG_LVL_WARN, "s2s %s -> %s: dialback failed: %s",
	    remote, local, why);
	if (valid == 0)
		stanza_set_attr(r, "type", "invalid");
	else {
		/* XEP-0220 2.4: the authoritative server was unreachable. */
		stanza_set_attr(r, "type", "error");
		e = stanza_add_child(r, STANZA_NS_SERVER, "error");
		stanza_set_attr(e, "type", "cancel");
		stanza_add_child(e, STANZA_NS_STANZAS,
		    "remote-connection-failed");
	}
	s2s_write_take(s, r);
	/* The pair may be tried again; the stream stays. */
	free(p->from);
	free(p->to);
	*p = s->pairs[--s->npairs];
}

/* XEP-0220 2.3: we are the authoritative server for the key. */
static void
do_db_verify(struct s2s *s, struct stanza *st)
{
	const char	*from = stanza_attr(st, "from");
	const char	*to = stanza_attr(st, "to");
	const char	*id = stanza_attr(st, "id");
	struct stanza	*r;
	char		*key, *f, *t;
	int		 ok;

	if (from == NULL || to == NULL || id == NULL) {
		s2s_error(s, "improper-addressing", "db:verify needs 'from', "
		    "'to' and 'id'");
		return;
	}
	f = jid_prep_domain(from);
	t = jid_prep_domain(to);
	if (t == NULL || f == NULL || conf_host_find(loop_conf(), t) ==
	    NULL) {
		free(f);
		free(t);
		s2s_error(s, "host-unknown", "This server does not serve "
		    "that domain");
		return;
	}
	key = stanza_text(st);
	ok = s2s_key_check(f, t, id, key);
	free(key);
	if (!ok)
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: asked to verify a "
		    "dialback key for %s that is not ours (someone claims "
		    "to be %s)", f, t, t);
	else
		conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s: verified our key "
		    "for %s", f, t);
	r = stanza_new(NS_DB, "verify");
	stanza_set_attr(r, "from", t);
	stanza_set_attr(r, "to", f);
	stanza_set_attr(r, "id", id);
	stanza_set_attr(r, "type", ok ? "valid" : "invalid");
	s2s_write_take(s, r);
	free(f);
	free(t);
}

/* A stanza from the peer: only for a pair it authenticated. */
static void
do_stanza(struct s2s *s, struct stanza *st)
{
	const char	*from = stanza_attr(st, "from");
	const char	*to = stanza_attr(st, "to");
	struct jid	*fj = NULL, *tj = NULL;
	struct s2s_pair	*p = NULL;
	struct stanza	*c;

	if (from == NULL || to == NULL || (fj = jid_parse(from)) == NULL ||
	    (tj = jid_parse(to)) == NULL) {
		s2s_error(s, "improper-addressing", "Stanzas between servers "
		    "need valid 'from' and 'to'");
		goto done;
	}
	if ((p = pair_find(s, fj->domain, tj->domain)) == NULL || !p->valid) {
		conn_log(s->conn, LOG_LVL_WARN, "s2s %s: stanza from %s to %s, "
		    "a pair not authenticated on this stream", s->remote ?
		    s->remote : "?", fj->domain, tj->domain);
		s2s_error(s, conf_host_find(loop_conf(), tj->domain) == NULL ?
		    "host-unknown" : "invalid-from", "That domain pair was "
		    "not authenticated on this stream");
		goto done;
	}
	s->last = time(NULL);
	c = s2s_ns_copy(st, STANZA_NS_SERVER, STANZA_NS_CLIENT);
	stanza_set_attr(c, "from", fj->full);
	stanza_set_attr(c, "to", tj->full);
	router_route(c);
	stanza_unref(c);
 done:
	jid_free(fj);
	jid_free(tj);
}

static const struct in_handler {
	const char	*ns;
	const char	*name;
	int		 need_tls;
	void		(*fn)(struct s2s *, struct stanza *);
} in_handlers[] = {
	{ NS_TLS, "starttls", 0, do_starttls },
	{ NS_SASL, "auth", 1, do_auth },
	{ NS_DB, "result", 1, do_db_result },
	{ NS_DB, "verify", 1, do_db_verify },
};

void
s2s_in_stanza(struct s2s *s, struct stanza *st)
{
	size_t	i;

	if (s->state != SS_NEGOTIATE)
		return;
	if (stanza_kind(st) != STANZA_OTHER && st->ns != NULL &&
	    strcmp(st->ns, STANZA_NS_SERVER) == 0) {
		do_stanza(s, st);
		return;
	}
	for (i = 0; i < sizeof(in_handlers) / sizeof(in_handlers[0]); i++)
		if (s2s_is(st, in_handlers[i].ns, in_handlers[i].name)) {
			if (in_handlers[i].need_tls && !s->tls) {
				s2s_error(s, "policy-violation",
				    "STARTTLS is required first");
				return;
			}
			if (st->ns == NULL || strcmp(st->ns, NS_DB) != 0 ||
			    stanza_attr(st, "type") == NULL)
				in_handlers[i].fn(s, st);
			return;
		}
	s2s_error(s, "unsupported-stanza-type", NULL);
}
