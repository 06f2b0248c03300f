/*
 * Outgoing server streams: one per (local domain, remote domain) pair,
 * made when the first stanza or dialback check needs it.  Setup:
 * resolve (s2s_route override, else DNS: s2s_dns.c), connect (next
 * address on failure), stream header, STARTTLS (required), then SASL
 * EXTERNAL when the peer offers it and its certificate checks out,
 * else XEP-0220 dialback.  Stanzas wait in a bounded queue until the
 * stream is authenticated; when setup fails or takes longer than
 * s2s_connect_timeout each is bounced to its sender
 * (remote-server-not-found, remote-server-timeout) and the reason is
 * logged once with both domains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/evp.h>

#include "codec.h"
#include "conf.h"
#include "conn.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "s2s.h"
#include "s2s_dns.h"
#include "s2s_int.h"
#include "stanza.h"
#include "xmalloc.h"

#define COND_NOT_FOUND	"remote-server-not-found"
#define COND_TIMEOUT	"remote-server-timeout"

static void	connect_next(struct s2s *);

static struct s2s *
out_find(const char *local, const char *remote)
{
	struct s2s	*s;

	LIST_FOREACH(s, &s2s_outs, entry)
		if (s->state < SS_CLOSING && strcmp(s->local, local) == 0 &&
		    strcmp(s->remote, remote) == 0)
			return s;
	return NULL;
}

/* Stops resolving and connecting (the callbacks must not run). */
static void
stop_connect(struct s2s *s)
{
	s2s_dns_cancel(s);
	if (s->cev != NULL) {
		event_free(s->cev);
		s->cev = NULL;
	}
	if (s->cfd != -1) {
		close(s->cfd);
		s->cfd = -1;
	}
}

void
s2s_out_free(struct s2s *s)
{
	size_t	i;

	stop_connect(s);
	for (i = 0; i < s->nq; i++)
		stanza_unref(s->q[i]);
	free(s->q);
	for (i = 0; i < s->nvq; i++) {
		free(s->vq[i].id);
		free(s->vq[i].key);
	}
	free(s->vq);
	free(s->addrs);
}

/*
 * Setup failed: logged once, queued stanzas bounced, pending dialback
 * checks answered, the stream closed.  New stanzas start over.
 */
static void
out_fail(struct s2s *s, const char *cond, const char *why)
{
	struct stanza		**q = s->q;
	struct s2s_verify	 *vq = s->vq;
	size_t			  nq = s->nq, nvq = s->nvq, i;
	int			  where = s->target[0] != '\0' &&
				    strstr(why, s->target) == NULL;

	log_warnx("s2s %s -> %s: %s%s%s%s", s->local, s->remote, why,
	    where ? " (" : "", where ? s->target : "", where ? ")" : "");
	if (nq > 0)
		log_info("s2s %s -> %s: bouncing %zu queued stanzas with %s",
		    s->local, s->remote, nq, cond);
	s->q = NULL;
	s->vq = NULL;
	s->nq = s->nvq = 0;
	stop_connect(s);
	if (s->conn != NULL && s->state < SS_CLOSING)
		s2s_error(s, strcmp(cond, COND_TIMEOUT) == 0 ?
		    "connection-timeout" : "undefined-condition", why);
	else if (s->conn == NULL)
		s2s_retire(s);
	for (i = 0; i < nq; i++) {
		s2s_bounce(q[i], strcmp(cond, COND_TIMEOUT) == 0 ? "wait" :
		    "cancel", cond, why);
		stanza_unref(q[i]);
	}
	free(q);
	for (i = 0; i < nvq; i++) {
		s2s_in_verified(vq[i].in, s->remote, s->local, -1, why);
		free(vq[i].id);
		free(vq[i].key);
	}
	free(vq);
}

void
s2s_out_timeout(struct s2s *s)
{
	char	why[128];

	snprintf(why, sizeof(why), "%s: no authenticated stream after %us",
	    s->conn == NULL ? (s->dns_pending ? "DNS timeout" :
	    "TCP connect timeout") : s->state == SS_TLS ? "TLS handshake "
	    "timeout" : s->state == SS_AUTH ? "dialback timeout" :
	    "stream negotiation timeout", loop_conf()->s2s.connect_timeout);
	out_fail(s, COND_TIMEOUT, why);
}

void
s2s_out_closed(struct s2s *s)
{
	if (s->state != SS_READY && s->state != SS_DEAD &&
	    (s->nq > 0 || s->nvq > 0 || s->state < SS_CLOSING)) {
		if (s->why == NULL && !s->tls && s->state == SS_TLS)
			xasprintf(&s->why, "TLS handshake failed%s%s",
			    s->conn->tls_err != NULL ? ": " : "",
			    s->conn->tls_err != NULL ? s->conn->tls_err : "");
		out_fail(s, COND_NOT_FOUND, s->why != NULL ? s->why :
		    "connection closed during setup");
	}
	s2s_retire(s);
}

static struct s2s *
out_new(const char *local, const char *remote)
{
	struct s2s	*s;

	s = xcalloc(1, sizeof(*s));
	s->dir = S2S_OUT;
	s->state = SS_CONNECT;
	s->cfd = -1;
	s->local = xstrdup(local);
	s->remote = xstrdup(remote);
	s->last = time(NULL);
	LIST_INSERT_HEAD(&s2s_outs, s, entry);
	s2s_arm(s, loop_conf()->s2s.connect_timeout);
	return s;
}

/*
 * Starts resolving.  It may fail at once (and bounce the queue), so the
 * caller queues first and does not touch s afterwards.
 */
static void
out_start(struct s2s *s)
{
	log_debug("s2s %s -> %s: connecting", s->local, s->remote);
	s2s_dns_resolve(s);
}

/* s2s_dns.c found the addresses (s->addrs), or not (why). */
void
s2s_out_resolved(struct s2s *s, const char *why)
{
	if (s->state != SS_CONNECT)
		return;
	if (s->naddrs == 0) {
		out_fail(s, COND_NOT_FOUND, why);
		return;
	}
	s->next = 0;
	connect_next(s);
}

static void
format_target(struct s2s *s, const struct s2s_addr *a)
{
	char		 host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in	*s4 = (const void *)&a->ss;
	const struct sockaddr_in6	*s6 = (const void *)&a->ss;

	if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(s->target, sizeof(s->target), "%s:%u%s", host,
		    ntohs(s4->sin_port), a->tls ? " direct TLS" : "");
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(s->target, sizeof(s->target), "[%s]:%u%s", host,
		    ntohs(s6->sin6_port), a->tls ? " direct TLS" : "");
	}
}

static void
connected(struct s2s *s)
{
	const struct s2s_addr	*a = &s->addrs[s->next - 1];
	SSL			*ssl = NULL;
	int			 fd = s->cfd;

	s->cfd = -1;
	event_free(s->cev);
	s->cev = NULL;
	if (a->tls) {
		/* XEP-0368: direct TLS names the protocol with ALPN. */
		ssl = s2s_client_ssl(s->local, s->remote);
		SSL_set_alpn_protos(ssl, (const unsigned char *)
		    "\x0bxmpp-server", 12);
	}
	s->direct = a->tls;
	s2s_start_io(s, fd, (const struct sockaddr *)&a->ss, a->len, ssl);
	conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s -> %s: connected to %s",
	    s->local, s->remote, s->target);
	if (a->tls) {
		s->state = SS_TLS;
		return;		/* the header follows the handshake */
	}
	s->state = SS_HEADER;
	s2s_send_header(s);
}

static void
connect_cb(int fd, short ev, void *arg)
{
	struct s2s	*s = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (ev & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	s->timedout = err == ETIMEDOUT;
	if (err == 0) {
		connected(s);
		return;
	}
	free(s->why);
	xasprintf(&s->why, "TCP %s", err == ECONNREFUSED ?
	    "connection refused" : err == ETIMEDOUT ? "connect timeout" :
	    strerror(err));
	log_info("s2s %s -> %s: %s (%s)", s->local, s->remote, s->why,
	    s->target);
	event_free(s->cev);
	s->cev = NULL;
	close(s->cfd);
	s->cfd = -1;
	connect_next(s);
}

/* Tries the addresses in order until one connects. */
static void
connect_next(struct s2s *s)
{
	const struct s2s_addr	*a;
	unsigned		 t = loop_conf()->s2s.connect_timeout / 3;
	struct timeval		 tv = { t > 0 ? t : 1, 0 };
	int			 fd;

	while (s->next < s->naddrs) {
		a = &s->addrs[s->next++];
		format_target(s, a);
		if ((fd = socket(a->ss.ss_family, SOCK_STREAM, 0)) == -1 ||
		    evutil_make_socket_nonblocking(fd) == -1 ||
		    evutil_make_socket_closeonexec(fd) == -1) {
			free(s->why);
			xasprintf(&s->why, "TCP socket: %s", strerror(errno));
			if (fd != -1)
				close(fd);
			continue;
		}
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) ==
		    -1 && errno != EINPROGRESS) {
			s->timedout = errno == ETIMEDOUT;
			free(s->why);
			xasprintf(&s->why, "TCP %s", errno == ECONNREFUSED ?
			    "connection refused" : strerror(errno));
			close(fd);
			continue;
		}
		s->cfd = fd;
		s->cev = event_new(loop_base(), fd, EV_WRITE, connect_cb, s);
		event_add(s->cev, &tv);
		return;
	}
	/* Only silent addresses: the server is there but does not answer. */
	out_fail(s, s->timedout ? COND_TIMEOUT : COND_NOT_FOUND,
	    s->why != NULL ? s->why : "no address to connect to");
}

/* Authenticated: the queue goes out, then the idle timer runs. */
static void
ready(struct s2s *s, const char *how)
{
	struct stanza	**q = s->q;
	size_t		  nq = s->nq, i;

	s->state = SS_READY;
	free(s->auth);
	s->auth = xstrdup(how);
	conn_log(s->conn, LOG_LVL_INFO, "s2s %s -> %s: outgoing stream "
	    "authenticated (%s), %zu queued stanzas", s->local, s->remote,
	    how, nq);
	s->q = NULL;
	s->nq = 0;
	s->last = time(NULL);
	for (i = 0; i < nq; i++) {
		s2s_write(s, q[i]);
		stanza_unref(q[i]);
	}
	free(q);
	s2s_arm(s, loop_conf()->s2s.idle_timeout);
}

static void
send_verifies(struct s2s *s)
{
	struct stanza	*v;
	size_t		 i;

	if (!s->features || s->state >= SS_CLOSING)
		return;
	for (i = 0; i < s->nvq; i++) {
		if (s->vq[i].sent)
			continue;
		v = stanza_new(NS_DB, "verify");
		stanza_set_attr(v, "from", s->local);
		stanza_set_attr(v, "to", s->remote);
		stanza_set_attr(v, "id", s->vq[i].id);
		stanza_add_text(v, s->vq[i].key, strlen(s->vq[i].key));
		s2s_write_take(s, v);
		s->vq[i].sent = 1;
	}
}

void
s2s_out_verify(const char *local, const char *remote, const char *id,
    const char *key, uint64_t in)
{
	struct s2s		*s;
	struct s2s_verify	*v;
	int			 fresh = 0;

	if ((s = out_find(local, remote)) == NULL) {
		s = out_new(local, remote);
		fresh = 1;
	}
	if (s->nvq >= loop_conf()->s2s.queue_max) {
		s2s_in_verified(in, remote, local, -1, "too many dialback "
		    "checks waiting");
		return;
	}
	s->vq = xreallocarray(s->vq, s->nvq + 1, sizeof(*s->vq));
	v = &s->vq[s->nvq++];
	v->id = xstrdup(id);
	v->key = xstrdup(key);
	v->in = in;
	v->sent = 0;
	if (fresh)
		out_start(s);
	else
		send_verifies(s);
}

void
s2s_out_route(const struct stanza *st, const char *local,
    const char *remote)
{
	struct s2s	*s;
	int		 fresh = 0;

	if ((s = out_find(local, remote)) == NULL) {
		s = out_new(local, remote);
		fresh = 1;
	}
	if (s->state == SS_READY) {
		s->last = time(NULL);
		s2s_write(s, st);
		return;
	}
	if (s->nq >= loop_conf()->s2s.queue_max) {
		log_info("s2s %s -> %s: queue full (%u stanzas), bouncing",
		    local, remote, loop_conf()->s2s.queue_max);
		s2s_bounce(st, "wait", "resource-constraint",
		    "Too many stanzas waiting for the remote server");
		return;
	}
	s->q = xreallocarray(s->q, s->nq + 1, sizeof(*s->q));
	s->q[s->nq++] = stanza_copy(st);
	if (fresh)
		out_start(s);
}

void
s2s_out_open(struct s2s *s, const struct stanza *hdr)
{
	const char	*id = stanza_attr(hdr, "id");
	const char	*ver = stanza_attr(hdr, "version");

	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		free(s->why);
		s->why = xstrdup("the peer does not speak XMPP 1.0");
		s2s_error(s, "unsupported-version", NULL);
		return;
	}
	if (id == NULL || *id == '\0' || strlen(id) >= sizeof(s->id)) {
		free(s->why);
		s->why = xstrdup("the peer's stream header has no usable id");
		s2s_error(s, "invalid-id", NULL);
		return;
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	if (s->state != SS_READY)
		s->state = SS_NEGOTIATE;
}

static void
start_dialback(struct s2s *s)
{
	struct stanza	*r;
	char		 key[S2S_KEY_LEN + 1];

	s2s_key(s->remote, s->local, s->id, key);
	r = stanza_new(NS_DB, "result");
	stanza_set_attr(r, "from", s->local);
	stanza_set_attr(r, "to", s->remote);
	stanza_add_text(r, key, strlen(key));
	s2s_write_take(s, r);
	s->state = SS_AUTH;
}

static int
offers_external(const struct stanza *f)
{
	struct stanza	*m = stanza_child(f, NS_SASL, "mechanisms");
	size_t		 i;
	char		*t;
	int		 ok = 0;

	for (i = 0; m != NULL && i < m->nkids && !ok; i++) {
		if (m->kids[i].el == NULL ||
		    strcmp(m->kids[i].el->name, "mechanism") != 0)
			continue;
		t = stanza_text(m->kids[i].el);
		ok = strcmp(t, "EXTERNAL") == 0;
		free(t);
	}
	return ok;
}

static void
on_features(struct s2s *s, struct stanza *f)
{
	struct stanza	*a;
	char		*b64;
	size_t		 n;

	if (!s->tls) {
		if (stanza_child(f, NS_TLS, "starttls") == NULL) {
			out_fail(s, COND_NOT_FOUND, "TLS: the peer does not "
			    "offer STARTTLS");
			return;
		}
		s2s_write_take(s, stanza_new(NS_TLS, "starttls"));
		return;
	}
	s->features = 1;
	send_verifies(s);
	if (s->state == SS_READY)
		return;
	if (s->sasl_ok) {
		/* RFC 6120 6.4.6: the stream after SASL is authenticated. */
		ready(s, "SASL EXTERNAL");
		return;
	}
	if (s->cert_ok && offers_external(f)) {
		/* XEP-0178: the authorization identity is our domain. */
		n = strlen(s->local);
		b64 = xcalloc(1, 4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)b64,
		    (const unsigned char *)s->local, (int)n);
		a = stanza_new(NS_SASL, "auth");
		stanza_set_attr(a, "mechanism", "EXTERNAL");
		stanza_add_text(a, b64, strlen(b64));
		free(b64);
		s2s_write_take(s, a);
		s->state = SS_AUTH;
		return;
	}
	start_dialback(s);
}

static void
on_proceed(struct s2s *s, struct stanza *st)
{
	codec_xml.pause(s->cctx);
	s->state = SS_TLS;
	conn_starttls(s->conn, s2s_client_ssl(s->local, s->remote));
}

void
s2s_out_tls(struct s2s *s)
{
	const char	*why;

	if (s2s_cert_check(s, s->remote, &why) == -1)
		conn_log(s->conn, LOG_LVL_INFO, "s2s %s -> %s: %s; "
		    "authenticating with dialback", s->local, s->remote, why);
	else
		conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s -> %s: certificate "
		    "valid", s->local, s->remote);
	s->state = SS_HEADER;
	s2s_restart(s);
	s2s_send_header(s);
}

static void
on_db_result(struct s2s *s, struct stanza *st)
{
	const char	*type = stanza_attr(st, "type");
	const char	*from = stanza_attr(st, "from");

	if (s->state != SS_AUTH || from == NULL ||
	    strcmp(from, s->remote) != 0)
		return;
	if (type != NULL && strcmp(type, "valid") == 0) {
		ready(s, "dialback");
		return;
	}
	out_fail(s, COND_NOT_FOUND, type != NULL && strcmp(type, "error") ==
	    0 ? "dialback error: the peer could not reach our "
	    "authoritative server" : "dialback invalid: the peer refused "
	    "our key");
}

static void
on_db_verify(struct s2s *s, struct stanza *st)
{
	const char	*type = stanza_attr(st, "type");
	const char	*id = stanza_attr(st, "id");
	struct s2s_verify v;
	size_t		 i;

	if (id == NULL || type == NULL)
		return;
	for (i = 0; i < s->nvq; i++)
		if (s->vq[i].sent && strcmp(s->vq[i].id, id) == 0)
			break;
	if (i == s->nvq)
		return;
	v = s->vq[i];
	s->vq[i] = s->vq[--s->nvq];
	s2s_in_verified(v.in, s->remote, s->local, strcmp(type, "valid") ==
	    0 ? 1 : 0, "dialback invalid: the authoritative server denied "
	    "the key");
	free(v.id);
	free(v.key);
}

static void
on_sasl_success(struct s2s *s, struct stanza *st)
{
	if (s->state != SS_AUTH)
		return;
	s->sasl_ok = 1;
	s->state = SS_HEADER;
	s2s_restart(s);
	s2s_send_header(s);
}

static void
on_sasl_failure(struct s2s *s, struct stanza *st)
{
	if (s->state != SS_AUTH)
		return;
	conn_log(s->conn, LOG_LVL_INFO, "s2s %s -> %s: SASL EXTERNAL "
	    "refused; trying dialback", s->local, s->remote);
	start_dialback(s);
}

static void
on_tls_failure(struct s2s *s, struct stanza *st)
{
	out_fail(s, COND_NOT_FOUND, "TLS: the peer refused STARTTLS");
}

static const struct out_handler {
	const char	*ns;
	const char	*name;
	void		(*fn)(struct s2s *, struct stanza *);
} out_handlers[] = {
	{ STANZA_NS_STREAMS, "features", on_features },
	{ NS_TLS, "proceed", on_proceed },
	{ NS_TLS, "failure", on_tls_failure },
	{ NS_DB, "result", on_db_result },
	{ NS_DB, "verify", on_db_verify },
	{ NS_SASL, "success", on_sasl_success },
	{ NS_SASL, "failure", on_sasl_failure },
};

void
s2s_out_stanza(struct s2s *s, struct stanza *st)
{
	size_t	i;

	for (i = 0; i < sizeof(out_handlers) / sizeof(out_handlers[0]); i++)
		if (s2s_is(st, out_handlers[i].ns, out_handlers[i].name)) {
			out_handlers[i].fn(s, st);
			return;
		}
	conn_log(s->conn, LOG_LVL_DEBUG, "s2s %s -> %s: ignoring <%s/> on "
	    "an outgoing stream", s->local, s->remote, st->name);
}
