/*
 * c2s streams.  States follow RFC 6120's negotiation order:
 *
 *   HEADER -> (features) -> [STARTTLS -> TLS -> HEADER] ->
 *   (mechanisms) -> SASL -> HEADER -> (bind) -> BIND -> SESSION
 *
 * After SASL a client may switch the stream to the binary codec
 * (<select/>, doc/binary.md 2); on c2s_bin listeners the first byte
 * picks the codec (STREAM_SNIFF).
 *
 * Everything the peer sends reaches us from the codec's callbacks; any
 * protocol violation ends in stream_error(), which writes the error and
 * closes after flushing.  The conn tells us when it is gone
 * (CONN_EV_CLOSED); then the stream unbinds its session and is freed by
 * the reaper.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <stdint.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/rand.h>

#include "tern/module.h"

#include "authlimit.h"
#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "conn.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "peer.h"
#include "router.h"
#include "sasl.h"
#include "session.h"
#include "stanza.h"
#include "stream.h"
#include "tls.h"
#include "xmalloc.h"

#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define NS_SASL_CB	"urn:xmpp:sasl-cb:0"
#define MAX_AUTH_FAILS	5	/* failed SASL attempts per stream */

enum stream_state {
	ST_HEADER,	/* waiting for the peer's stream header */
	ST_NEGOTIATE,	/* features sent: STARTTLS, SASL or bind */
	ST_TLS,		/* TLS handshake after <proceed/> */
	ST_SESSION,	/* resource bound: stanzas are routed */
	ST_CLOSING,	/* error or close sent, flushing */
	ST_DEAD,	/* conn gone; waiting for the reaper */
};

struct stream {
	struct conn		*conn;
	const struct codec_ops	*codec;
	void			*cctx;
	int			 state;
	int			 direct;	/* XEP-0368 direct TLS */
	int			 sniff;		/* first byte picks the codec */
	int			 to_binary;	/* switch after this feed */
	int			 tls;		/* TLS established */
	int			 header_sent;	/* our header for this stream */
	int			 auth_fails;
	int			 auth_attempts;
	int			 unbound;	/* session left the tables */
	char			*host;		/* served domain */
	char			*user;		/* node once authenticated */
	char			*mech;		/* SASL mechanism in use */
	struct sasl_sess	*sasl;
	struct session		*sess;
	struct event		*timer;		/* auth timeout until bound */
	double			 tokens;	/* stanza rate bucket */
	uint64_t		 refilled;	/* its last refill, ms */
	char			 peer[PEER_KEY_LEN];	/* counted address */
	LIST_ENTRY(stream)	 entry;
};

static LIST_HEAD(, stream)	streams = LIST_HEAD_INITIALIZER(streams);
static size_t			nstreams;

static void	conn_cb(struct conn *, int, void *);
static void	on_open(void *, const struct stanza *);
static void	on_stanza(void *, struct stanza *);
static void	on_close(void *);
static void	on_error(void *, const char *, const char *);
static void	sasl_reset(struct stream *);

static const struct codec_cb	xml_cb = {
	on_open, on_stanza, on_close, on_error
};

static void
timeout_cb(int fd, short ev, void *arg)
{
	struct stream	*s = arg;

	conn_log(s->conn, LOG_LVL_INFO, "not authenticated after %us",
	    loop_limits()->auth_timeout);
	stream_error(s, "connection-timeout", "Authentication took too long");
}

void
stream_accept(int fd, const struct sockaddr *sa, socklen_t salen, int flags)
{
	struct stream	*s;
	struct timeval	 tv = { loop_limits()->auth_timeout, 0 };
	SSL		*ssl = NULL;
	char		 peer[PEER_KEY_LEN];
	int		 direct = (flags & STREAM_DIRECT_TLS) != 0;

	if (peer_admit(sa, peer) == -1) {
		close(fd);
		return;
	}
	if (direct && (ssl = tls_ssl_new(1)) == NULL) {
		peer_release(peer);
		log_warnx("c2s_tls: no usable certificate; closing "
		    "connection");
		close(fd);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	memcpy(s->peer, peer, sizeof(s->peer));
	s->direct = direct;
	s->sniff = (flags & STREAM_SNIFF) != 0;
	/* bufferevent_openssl delivers no data before the handshake. */
	s->tls = direct;
	s->codec = &codec_xml;
	s->cctx = s->codec->create(&xml_cb, s, STANZA_NS_CLIENT,
	    loop_limits());
	s->conn = conn_new(fd, sa, salen, ssl, conn_cb, s);
	s->timer = evtimer_new(loop_base(), timeout_cb, s);
	evtimer_add(s->timer, &tv);
	LIST_INSERT_HEAD(&streams, s, entry);
	nstreams++;
	conn_log(s->conn, LOG_LVL_DEBUG, "connected (%s)",
	    direct ? "direct TLS" : "c2s");
}

const char *
stream_address(const struct stream *s)
{
	return s->conn->ip;
}

size_t
stream_count(void)
{
	return nstreams;
}

static void
stream_free(void *arg)
{
	struct stream	*s = arg;

	s->codec->destroy(s->cctx);
	conn_free(s->conn);
	peer_release(s->peer);
	if (s->timer != NULL)
		event_free(s->timer);
	sasl_sess_free(s->sasl);
	session_free(s->sess);
	free(s->host);
	free(s->user);
	free(s->mech);
	free(s);
}

/* Takes the session out of the tables: it receives nothing more. */
static void
unbind(struct stream *s)
{
	if (s->sess == NULL || s->unbound)
		return;
	s->unbound = 1;
	session_unbind(s->sess);
	router_unbound(s->sess);
	conn_log(s->conn, LOG_LVL_INFO, "session ended");
}

/* The conn is gone: unbind and hand the stream to the reaper. */
static void
stream_retire(struct stream *s)
{
	if (s->state == ST_DEAD)
		return;
	s->state = ST_DEAD;
	if (s->timer != NULL)
		evtimer_del(s->timer);
	unbind(s);
	LIST_REMOVE(s, entry);
	nstreams--;
	loop_defer(stream_free, s);
}

void
stream_send(struct stream *s, const struct stanza *st)
{
	if (s->state >= ST_CLOSING)
		return;
	s->codec->write_stanza(s->cctx, conn_output(s->conn), st);
	if (conn_pending(s->conn) > loop_limits()->pending_output) {
		conn_log(s->conn, LOG_LVL_INFO, "more than %zu bytes pending "
		    "output: the client does not read",
		    loop_limits()->pending_output);
		stream_error(s, "policy-violation",
		    "Too much pending output; the client does not read");
	}
}

/* Writes our stream header for the current stream (once). */
static void
send_header(struct stream *s, const char *to)
{
	struct stanza	*hdr;
	unsigned char	 rnd[8];
	char		 id[17];
	int		 i;

	if (s->header_sent)
		return;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		fatalx("stream: RAND_bytes failed");
	for (i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	if (s->host != NULL)
		stanza_set_attr(hdr, "from", s->host);
	if (to != NULL)
		stanza_set_attr(hdr, "to", to);
	stanza_set_attr(hdr, "id", id);
	stanza_set_attr(hdr, "version", "1.0");
	stanza_set_attr_ns(hdr, STANZA_NS_XML, "lang", "en");
	s->codec->write_header(s->cctx, conn_output(s->conn), hdr);
	stanza_unref(hdr);
	s->header_sent = 1;
}

void
stream_error(struct stream *s, const char *cond, const char *text)
{
	struct stanza	*err;

	if (s->state >= ST_CLOSING)
		return;
	unbind(s);
	send_header(s, NULL);
	err = stanza_new(STANZA_NS_STREAMS, "error");
	stanza_add_child(err, STANZA_NS_STREAM_ERR, cond);
	if (text != NULL)
		stanza_add_text_child(err, STANZA_NS_STREAM_ERR, "text",
		    text);
	s->codec->write_stanza(s->cctx, conn_output(s->conn), err);
	s->codec->write_close(s->cctx, conn_output(s->conn));
	stanza_unref(err);
	s->codec->pause(s->cctx);
	conn_log(s->conn, cond[0] == 's' && strcmp(cond, "system-shutdown") ==
	    0 ? LOG_LVL_DEBUG : LOG_LVL_INFO, "stream error <%s/>%s%s",
	    cond, text ? ": " : "", text ? text : "");
	s->state = ST_CLOSING;
	conn_close(s->conn);
}

void
stream_shutdown_all(void)
{
	struct stream	*s, *next;

	for (s = LIST_FIRST(&streams); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		stream_error(s, "system-shutdown", "The server is stopping");
	}
}

/* Whether this stream may authenticate without TLS. */
static int
plaintext_ok(struct stream *s)
{
	return s->conn->loopback && loop_conf()->allow_plaintext_loopback;
}

static void
add_mechanisms(struct stream *s, struct stanza *f)
{
	struct sasl_cbdata	 cb, *cbp = NULL;
	struct stanza		*m, *cbe;
	const char		*p, *sp, *types[3];
	char			*name;
	int			 i, n;

	if (s->sasl == NULL) {
		if (s->tls && tls_channel_binding(s->conn->ssl, &cb) == 0)
			cbp = &cb;
		s->sasl = sasl_sess_new(s->host, s->tls ?
		    tls_bits(s->conn->ssl) : 0, cbp);
		if (s->sasl == NULL)
			return;
	}
	m = stanza_add_child(f, NS_SASL, "mechanisms");
	for (p = sasl_sess_mechs(s->sasl); *p != '\0'; p = sp) {
		if ((sp = strchr(p, ' ')) == NULL)
			sp = p + strlen(p);
		name = xstrndup(p, (size_t)(sp - p));
		stanza_add_text_child(m, NULL, "mechanism", name);
		free(name);
		while (*sp == ' ')
			sp++;
	}
	if ((n = sasl_sess_cb_types(s->sasl, types)) > 0) {
		cbe = stanza_add_child(f, NS_SASL_CB, "sasl-channel-binding");
		for (i = 0; i < n; i++)
			stanza_set_attr(stanza_add_child(cbe, NULL,
			    "channel-binding"), "type", types[i]);
	}
}

/* doc/binary.md 2: every dictionary this server decodes. */
static void
add_binary_feature(struct stanza *f)
{
	struct stanza	*b, *d;
	char		 ver[16];
	size_t		 i;

	b = stanza_add_child(f, CODEC_BIN_NS, "binary");
	for (i = 0; codec_bin_dicts[i] != NULL; i++) {
		d = stanza_add_child(b, NULL, "dictionary");
		snprintf(ver, sizeof(ver), "%u", codec_bin_dicts[i]->version);
		stanza_set_attr(d, "version", ver);
		stanza_set_attr(d, "sha256",
		    codec_bin_dict_hex(codec_bin_dicts[i]));
	}
}

static void
send_features(struct stream *s)
{
	struct stanza	*f, *tls;

	f = stanza_new(STANZA_NS_STREAMS, "features");
	if (s->user != NULL) {
		stanza_add_child(f, NS_BIND, "bind");
		stanza_add_child(stanza_add_child(f, NS_SESSION, "session"),
		    NULL, "optional");
	} else if (!s->tls) {
		tls = stanza_add_child(f, NS_TLS, "starttls");
		if (!plaintext_ok(s))
			stanza_add_child(tls, NULL, "required");
		else
			add_mechanisms(s, f);
	} else
		add_mechanisms(s, f);
	if (s->tls || plaintext_ok(s) || s->user != NULL) {
		struct tern_event	ev;

		memset(&ev, 0, sizeof(ev));
		ev.features = (struct tern_stanza *)f;
		ev.authenticated = s->user != NULL;
		ev.origin = (struct tern_session *)s->sess;
		ev.priv = s;
		module_fire(s->host, "stream-features", &ev);
	}
	if (s->user != NULL && s->codec == &codec_xml &&
	    loop_conf()->binary_mode)
		add_binary_feature(f);
	stream_send(s, f);
	stanza_unref(f);
}

/* Checks the peer's header; the served domain in *host or an error. */
static const char *
check_header(struct stream *s, const struct stanza *hdr, char **host,
    const char **text)
{
	const char	*to = stanza_attr(hdr, "to");
	const char	*ver = stanza_attr(hdr, "version");
	const char	*sni;
	char		*dom = NULL;

	*host = NULL;
	if (ver == NULL || strncmp(ver, "1.", 2) != 0) {
		*text = "Only XMPP 1.0 streams are supported";
		return "unsupported-version";
	}
	if (to == NULL && s->tls && (sni = tls_sni(s->conn->ssl)) != NULL)
		to = sni;
	if (to == NULL) {
		*text = "The stream header has no 'to' attribute";
		return "host-unknown";
	}
	if ((dom = jid_prep_domain(to)) == NULL ||
	    conf_host_find(loop_conf(), dom) == NULL) {
		free(dom);
		*text = "This server does not serve that domain";
		return "host-unknown";
	}
	if (s->host != NULL && strcmp(s->host, dom) != 0) {
		free(dom);
		*text = "The domain changed after a stream restart";
		return "host-unknown";
	}
	*host = dom;
	return NULL;
}

static void
on_open(void *arg, const struct stanza *hdr)
{
	struct stream	*s = arg;
	const char	*cond, *text = NULL, *from = stanza_attr(hdr, "from");
	struct jid	*fj = from != NULL ? jid_parse(from) : NULL;
	char		*host;

	s->header_sent = 0;
	cond = check_header(s, hdr, &host, &text);
	if (cond == NULL && s->host == NULL) {
		s->host = host;
		host = NULL;
	}
	free(host);
	send_header(s, fj != NULL ? fj->full : NULL);
	jid_free(fj);
	if (cond != NULL) {
		stream_error(s, cond, text);
		return;
	}
	s->state = ST_NEGOTIATE;
	send_features(s);
}

static void
on_close(void *arg)
{
	struct stream	*s = arg;

	if (s->state >= ST_CLOSING)
		return;
	conn_log(s->conn, LOG_LVL_DEBUG, "peer closed its stream");
	unbind(s);
	s->codec->write_close(s->cctx, conn_output(s->conn));
	s->codec->pause(s->cctx);
	s->state = ST_CLOSING;
	conn_close(s->conn);
}

static void
on_error(void *arg, const char *cond, const char *text)
{
	stream_error(arg, cond, text);
}

/* Replaces the codec; never from inside one of its callbacks. */
static void
use_codec(struct stream *s, const struct codec_ops *ops)
{
	s->codec->destroy(s->cctx);
	s->codec = ops;
	s->cctx = ops->create(&xml_cb, s, STANZA_NS_CLIENT, loop_limits());
}

/*
 * Feeds one chunk.  On a dedicated listener the first byte picks the
 * codec; after <proceed/> the codec becomes binary (doc/binary.md 2, 3).
 */
static void
feed_chunk(struct stream *s, const char *buf, size_t len)
{
	if (s->sniff && len > 0) {
		s->sniff = 0;
		if ((unsigned char)buf[0] == BIN_HEADER)
			use_codec(s, &codec_bin);
	}
	s->codec->feed(s->cctx, buf, len);
	if (s->to_binary) {
		s->to_binary = 0;
		use_codec(s, &codec_bin);
	}
}

/* Feeds what the conn has read to the codec. */
static void
read_input(struct stream *s)
{
	struct evbuffer		*in = conn_input(s->conn);
	struct evbuffer_iovec	 v[8];
	int			 i, n;

	while (s->state < ST_CLOSING && s->state != ST_TLS &&
	    evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		for (i = 0; i < n && s->state < ST_CLOSING &&
		    s->state != ST_TLS; i++)
			feed_chunk(s, v[i].iov_base, v[i].iov_len);
		for (i = 0; i < n; i++)
			evbuffer_drain(in, v[i].iov_len);
	}
}

static void
conn_cb(struct conn *c, int ev, void *arg)
{
	struct stream	*s = arg;

	switch (ev) {
	case CONN_EV_DATA:
		read_input(s);
		break;
	case CONN_EV_TLS_READY:
		s->tls = 1;
		/* The mechanisms change with TLS (PLAIN, -PLUS). */
		sasl_reset(s);
		if (s->state == ST_TLS) {
			s->state = ST_HEADER;
			s->codec->restart(s->cctx);
			conn_pause(c, 0);
		}
		/*
		 * libevent may hand over the first application data before
		 * it reports the finished handshake: read it now.
		 */
		read_input(s);
		break;
	case CONN_EV_CLOSED:
		stream_retire(s);
		break;
	}
}

/* Negotiation output; bounded like stanzas (a peer may never read). */
static void
send_el(struct stream *s, struct stanza *st)
{
	stream_send(s, st);
	stanza_unref(st);
}

static void
do_starttls(struct stream *s, struct stanza *st)
{
	SSL	*ssl;

	if (s->tls || s->user != NULL || (ssl = tls_ssl_new(0)) == NULL) {
		conn_log(s->conn, LOG_LVL_INFO, "STARTTLS refused: %s",
		    s->tls ? "TLS already established" : s->user != NULL ?
		    "already authenticated" : "no usable certificate");
		send_el(s, stanza_new(NS_TLS, "failure"));
		s->codec->write_close(s->cctx, conn_output(s->conn));
		s->codec->pause(s->cctx);
		s->state = ST_CLOSING;
		conn_close(s->conn);
		return;
	}
	send_el(s, stanza_new(NS_TLS, "proceed"));
	s->codec->pause(s->cctx);
	s->state = ST_TLS;
	conn_starttls(s->conn, ssl);
}

static void
sasl_reset(struct stream *s)
{
	sasl_sess_free(s->sasl);
	s->sasl = NULL;
	free(s->mech);
	s->mech = NULL;
}

/*
 * Sends <failure/> with cond (and text, if any) and logs it at level;
 * a stream that failed too often is closed.
 */
static void
sasl_refuse(struct stream *s, const char *cond, const char *text, int level)
{
	struct stanza	*f = stanza_new(NS_SASL, "failure");
	const char	*who = s->sasl ? sasl_sess_attempted_user(s->sasl) :
			    NULL;

	stanza_add_child(f, NULL, cond);
	if (text != NULL)
		stanza_add_text(stanza_add_child(f, NULL, "text"), text,
		    strlen(text));
	send_el(s, f);
	conn_log(s->conn, level, "authentication failed for %s%s%s "
	    "(%s): %s%s%s", who ? who : "?", who ? "@" : "", who ? s->host : "",
	    s->mech ? s->mech : "no mechanism", cond, text ? ": " : "",
	    text ? text : "");
	sasl_reset(s);
	if (++s->auth_fails >= MAX_AUTH_FAILS)
		stream_error(s, "policy-violation",
		    "Too many failed authentication attempts");
}

static void
sasl_failed(struct stream *s, const char *cond)
{
	sasl_refuse(s, cond, NULL, LOG_LVL_INFO);
}

/*
 * The end of an exchange, success or failure, for the claimed account:
 * refused while the account is throttled, whatever the password was;
 * a wrong password counts against address and account.  1 if refused.
 */
static int
account_throttled(struct stream *s, const char *node, int wrong)
{
	char		*account = NULL;
	char		 text[128];
	unsigned	 left;

	if (node != NULL)
		xasprintf(&account, "%s@%s", node, s->host);
	if (account != NULL &&
	    (left = authlimit_account_blocked(account)) != 0) {
		snprintf(text, sizeof(text), "Too many failed logins for "
		    "this account; try again in %u s", left);
		free(account);
		sasl_refuse(s, "temporary-auth-failure", text, LOG_LVL_DEBUG);
		return 1;
	}
	if (wrong)
		authlimit_failed(s->peer, account);
	free(account);
	return 0;
}

static void
sasl_result(struct stream *s, enum sasl_step r, const char *out)
{
	struct stanza	*e;
	char		*label;

	switch (r) {
	case SASL_STEP_CONTINUE:
		e = stanza_new(NS_SASL, "challenge");
		stanza_add_text(e, out, strlen(out));
		send_el(s, e);
		break;
	case SASL_STEP_SUCCESS:
		if (account_throttled(s, sasl_sess_user(s->sasl), 0))
			break;
		e = stanza_new(NS_SASL, "success");
		stanza_add_text(e, out, strlen(out));
		send_el(s, e);
		s->user = xstrdup(sasl_sess_user(s->sasl));
		xasprintf(&label, "%s@%s", s->user, s->host);
		conn_set_label(s->conn, label);
		free(label);
		conn_log(s->conn, LOG_LVL_INFO, "authenticated (%s%s)",
		    s->mech, s->tls ? "" : ", no TLS");
		sasl_reset(s);
		s->state = ST_HEADER;
		s->codec->restart(s->cctx);
		break;
	case SASL_STEP_FAILURE:
		if (account_throttled(s, sasl_sess_attempted_user(s->sasl),
		    strcmp(out, "not-authorized") == 0))
			break;
		sasl_failed(s, out);
		break;
	}
}

static void
do_auth(struct stream *s, struct stanza *st)
{
	const char	*mech = stanza_attr(st, "mechanism"), *out;
	struct sasl_cbdata cb, *cbp = NULL;
	char		*text, msg[128];
	enum sasl_step	 r;
	unsigned	 left;

	if (s->user != NULL) {
		stream_error(s, "policy-violation", "Already authenticated");
		return;
	}
	if (!s->tls && !plaintext_ok(s)) {
		stream_error(s, "policy-violation",
		    "STARTTLS is required before authentication");
		return;
	}
	sasl_reset(s);
	/* Every attempt counts, even one the client abandons. */
	if (++s->auth_attempts > MAX_AUTH_FAILS * 2) {
		stream_error(s, "policy-violation",
		    "Too many authentication attempts");
		return;
	}
	if (mech == NULL || *mech == '\0') {
		sasl_failed(s, "invalid-mechanism");
		return;
	}
	if ((left = authlimit_address_blocked(s->peer)) != 0) {
		snprintf(msg, sizeof(msg), "Too many failed logins from your "
		    "address; try again in %u s", left);
		sasl_refuse(s, "temporary-auth-failure", msg, LOG_LVL_DEBUG);
		return;
	}
	if (s->tls && tls_channel_binding(s->conn->ssl, &cb) == 0)
		cbp = &cb;
	if ((s->sasl = sasl_sess_new(s->host, s->tls ?
	    tls_bits(s->conn->ssl) : 0, cbp)) == NULL) {
		sasl_failed(s, "temporary-auth-failure");
		return;
	}
	s->mech = xstrdup(mech);
	text = stanza_nelements(st) == 0 && st->nkids == 0 ? NULL :
	    stanza_text(st);
	r = sasl_sess_start(s->sasl, mech, text, &out);
	free(text);
	sasl_result(s, r, out);
}

static void
do_response(struct stream *s, struct stanza *st)
{
	const char	*out;
	char		*text;
	enum sasl_step	 r;

	if (s->sasl == NULL || s->mech == NULL) {
		sasl_failed(s, "malformed-request");
		return;
	}
	text = stanza_text(st);
	r = sasl_sess_step(s->sasl, text, &out);
	free(text);
	sasl_result(s, r, out);
}

static void
do_abort(struct stream *s, struct stanza *st)
{
	if (s->sasl == NULL) {
		sasl_failed(s, "malformed-request");
		return;
	}
	sasl_failed(s, "aborted");
}

static void
iq_error(struct stream *s, struct stanza *iq, const char *type,
    const char *cond)
{
	struct stanza	*e;

	if ((e = stanza_error_reply(iq, type, cond, NULL)) != NULL)
		send_el(s, e);
}

/* A fresh random resource that is not taken. */
static struct jid *
generated_jid(struct stream *s)
{
	unsigned char	 rnd[6];
	char		 res[32];
	struct jid	*j;
	int		 try, i;

	for (try = 0; try < 8; try++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			fatalx("stream: RAND_bytes failed");
		memcpy(res, "tern-", 5);
		for (i = 0; i < 6; i++)
			snprintf(res + 5 + 2 * i, 3, "%02x", rnd[i]);
		j = jid_new(s->user, s->host, res);
		if (j != NULL && session_find_full(j->full) == NULL)
			return j;
		jid_free(j);
	}
	return NULL;
}

static struct jid *
requested_jid(struct stream *s, struct stanza *bind)
{
	struct stanza	*r = stanza_child(bind, NS_BIND, "resource");
	struct jid	*j;
	char		*text;

	if (r == NULL)
		return generated_jid(s);
	text = stanza_text(r);
	j = *text == '\0' ? generated_jid(s) : jid_new(s->user, s->host, text);
	free(text);
	return j;
}

static void
bound(struct stream *s, struct session *sess, struct stanza *iq)
{
	struct stanza	*r;

	s->sess = sess;
	s->state = ST_SESSION;
	evtimer_del(s->timer);
	conn_set_label(s->conn, sess->jid->full);
	conn_log(s->conn, LOG_LVL_INFO, "resource bound");
	r = stanza_reply(iq);
	stanza_add_text_child(stanza_add_child(r, NS_BIND, "bind"), NULL,
	    "jid", sess->jid->full);
	send_el(s, r);
	router_bound(sess);
}

static void
do_bind(struct stream *s, struct stanza *iq)
{
	struct stanza	*bind = stanza_child(iq, NS_BIND, "bind");
	const char	*type = stanza_attr(iq, "type");
	struct session	*sess, *taken;
	struct jid	*j;

	if (bind == NULL || type == NULL || strcmp(type, "set") != 0) {
		stream_error(s, "not-authorized",
		    "Bind a resource before sending stanzas");
		return;
	}
	if (stanza_attr(iq, "id") == NULL) {
		stream_error(s, "bad-format", "The bind iq has no id");
		return;
	}
	if ((j = requested_jid(s, bind)) == NULL) {
		iq_error(s, iq, "modify", "bad-request");
		return;
	}
	while ((sess = session_bind(s, j, &taken)) == NULL) {
		if (loop_conf()->resource_conflict == CONFLICT_REJECT) {
			conn_log(s->conn, LOG_LVL_INFO, "resource %s is in "
			    "use: bind refused", j->resource);
			jid_free(j);
			iq_error(s, iq, "cancel", "conflict");
			return;
		}
		conn_log(taken->stream->conn, LOG_LVL_INFO, "replaced by a "
		    "new login (c%llu)",
		    (unsigned long long)s->conn->id);
		stream_error(taken->stream, "conflict",
		    "Replaced by new connection");
	}
	bound(s, sess, iq);
}

/*
 * An iq before authentication (XEP-0077 registration): a module may
 * answer it through tern_reply.  1 if one did.
 */
static int
unauthenticated_iq(struct stream *s, struct stanza *st)
{
	struct tern_event	 ev;
	struct stanza		*pl = stanza_child(st, NULL, NULL);
	const char		*type = stanza_attr(st, "type");
	char			 name[512];
	int			 n;

	if (pl == NULL || pl->ns == NULL || type == NULL ||
	    (!s->tls && !plaintext_ok(s)))
		return 0;
	if (stanza_attr(st, "id") == NULL) {	/* RFC 6120 8.2.3 */
		struct stanza	*e = stanza_error_reply(st, "modify",
				    "bad-request", NULL);

		if (e != NULL) {
			stream_send(s, e);
			stanza_unref(e);
		}
		return 1;
	}
	n = snprintf(name, sizeof(name), "iq-%s/unauthenticated/%s:%s", type,
	    pl->ns, pl->name);
	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.stanza = (struct tern_stanza *)st;
	ev.priv = s;
	return module_fire(s->host, name, &ev) == TERN_DONE;
}

/* doc/binary.md 2: <select/> before bind; <proceed/> then binary. */
static void
do_binary(struct stream *s, struct stanza *st)
{
	const char	*ver = stanza_attr(st, "version");
	const char	*hash = stanza_attr(st, "sha256");
	const char	*cond = NULL, *text = NULL;
	struct stanza	*f;
	unsigned long	 v = 0;
	char		*end;

	if (!loop_conf()->binary_mode || s->user == NULL ||
	    s->codec != &codec_xml) {
		cond = "not-allowed";
		text = !loop_conf()->binary_mode ? "binary mode is disabled" :
		    s->user == NULL ? "authenticate first" :
		    "the stream is binary already";
	} else if (ver == NULL || hash == NULL ||
	    (v = strtoul(ver, &end, 10), end == ver || *end != '\0')) {
		cond = "bad-request";
		text = "version and sha256 are required";
	} else if (codec_bin_dict_find(v, hash) == NULL) {
		cond = "unsupported-dictionary";
		text = "no dictionary with this version and hash";
	}
	if (cond != NULL) {
		f = stanza_new(CODEC_BIN_NS, "failure");
		stanza_add_child(f, NULL, cond);
		stanza_set_attr_ns(stanza_add_text_child(f, NULL, "text",
		    text), STANZA_NS_XML, "lang", "en");
		send_el(s, f);
		conn_log(s->conn, LOG_LVL_INFO, "binary mode refused: %s",
		    text);
		return;
	}
	send_el(s, stanza_new(CODEC_BIN_NS, "proceed"));
	s->codec->pause(s->cctx);
	s->state = ST_HEADER;
	s->to_binary = 1;
	conn_log(s->conn, LOG_LVL_DEBUG, "binary mode, dictionary %lu", v);
}

static const struct negotiate_handler {
	const char	*ns;
	const char	*name;
	void		(*fn)(struct stream *, struct stanza *);
} negotiate_handlers[] = {
	{ NS_TLS, "starttls", do_starttls },
	{ NS_SASL, "auth", do_auth },
	{ NS_SASL, "response", do_response },
	{ NS_SASL, "abort", do_abort },
	{ CODEC_BIN_NS, "select", do_binary },
	{ STANZA_NS_CLIENT, "iq", do_bind },
};

/*
 * A token bucket per session: max_stanza_rate tokens a second, at most
 * stanza_burst saved.  A client above it is flooding (no client needs
 * hundreds of stanzas a second for long), so it gets policy-violation
 * rather than slowly growing queues elsewhere.  0 when over the limit.
 */
static int
rate_ok(struct stream *s)
{
	const struct tern_limits *l = loop_limits();
	uint64_t		 now;

	if (l->stanza_rate == 0)
		return 1;
	now = loop_now_ms();
	if (s->refilled == 0)
		s->tokens = l->stanza_burst;
	else
		s->tokens += (double)(now - s->refilled) * l->stanza_rate /
		    1000.0;
	if (s->tokens > l->stanza_burst)
		s->tokens = l->stanza_burst;
	s->refilled = now;
	if (s->tokens < 1.0) {
		conn_log(s->conn, LOG_LVL_WARN, "stanza flood: above "
		    "max_stanza_rate %u/s with its stanza_burst of %u spent; "
		    "closing", l->stanza_rate, l->stanza_burst);
		return 0;
	}
	s->tokens -= 1.0;
	return 1;
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct stream	*s = arg;
	size_t		 i;

	if (s->state == ST_SESSION) {
		if (!rate_ok(s)) {
			stream_error(s, "policy-violation",
			    "Stanza rate limit exceeded");
			return;
		}
		if (stanza_kind(st) != STANZA_OTHER &&
		    strcmp(st->ns, STANZA_NS_CLIENT) == 0)
			router_from_session(s->sess, st);
		else
			stream_error(s, "unsupported-stanza-type", NULL);
		return;
	}
	if (s->state != ST_NEGOTIATE)
		return;
	for (i = 0; i < sizeof(negotiate_handlers) /
	    sizeof(negotiate_handlers[0]); i++) {
		const struct negotiate_handler *h = &negotiate_handlers[i];

		if (strcmp(st->name, h->name) == 0 && st->ns != NULL &&
		    strcmp(st->ns, h->ns) == 0) {
			if (h->fn == do_bind && s->user == NULL) {
				if (unauthenticated_iq(s, st))
					return;
				break;
			}
			h->fn(s, st);
			return;
		}
	}
	if (!s->tls && !plaintext_ok(s))
		stream_error(s, "policy-violation",
		    "STARTTLS is required first");
	else
		stream_error(s, "not-authorized",
		    s->user == NULL ? "Authenticate first" :
		    "Bind a resource first");
}
