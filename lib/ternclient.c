/*
 * ternclient (include/tern/client.h): a blocking client built on tern's
 * own codecs.  Bytes read are fed to the codec, whose callbacks append to
 * a queue; negotiation steps wait for the queue with a deadline.  Codecs
 * are only restarted or replaced between feeds, never in a callback.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tern/client.h"

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define QUEUE_MAX	4096	/* stanzas read but not yet taken */
#define READ_CHUNK	16384

struct ternclient {
	struct ternclient_opts	 o;
	int			 fd;
	SSL_CTX			*ctx;
	SSL			*ssl;
	const struct codec_ops	*codec;
	void			*cctx;
	struct tern_limits	 lim;
	struct evbuffer		*out;
	struct stanza		**q;	/* received, oldest first */
	size_t			 nq, qhead;
	int			 opened;	/* server header this stream */
	int			 closed;	/* server closed its stream */
	int			 broken;	/* codec error or I/O failure */
	char			*jid;
	char			 err[256];
	int			 has_err;
	unsigned long long	 nout, nin;
};

static void
cerr(struct ternclient *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
cerr(struct ternclient *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->has_err = 1;
}

/* ---- codec callbacks ---- */

static void
on_open(void *arg, const struct stanza *hdr)
{
	((struct ternclient *)arg)->opened = 1;
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct ternclient	*c = arg;

	if (c->nq - c->qhead >= QUEUE_MAX) {
		cerr(c, "more than %d unread stanzas", QUEUE_MAX);
		c->broken = 1;
		return;
	}
	if (c->qhead > 0 && c->qhead == c->nq)
		c->qhead = c->nq = 0;
	c->q = xreallocarray(c->q, c->nq + 1, sizeof(*c->q));
	c->q[c->nq++] = stanza_ref(st);
}

static void
on_close(void *arg)
{
	((struct ternclient *)arg)->closed = 1;
}

static void
on_error(void *arg, const char *cond, const char *text)
{
	struct ternclient	*c = arg;

	cerr(c, "server sent bad %s: %s: %s", c->codec->name, cond, text);
	c->broken = 1;
}

static const struct codec_cb client_cb = {
	on_open, on_stanza, on_close, on_error
};

static void
use_codec(struct ternclient *c, const struct codec_ops *ops)
{
	if (c->codec != NULL)
		c->codec->destroy(c->cctx);
	c->codec = ops;
	c->cctx = ops->create(&client_cb, c, STANZA_NS_CLIENT, &c->lim);
	c->opened = c->closed = 0;
}

/* ---- I/O ---- */

static int
flush_out(struct ternclient *c)
{
	size_t		 len;
	ssize_t		 n;
	unsigned char	*p;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		p = evbuffer_pullup(c->out, -1);
		if (c->ssl != NULL) {
			n = SSL_write(c->ssl, p, (int)len);
			if (n <= 0) {
				cerr(c, "TLS write failed");
				c->broken = 1;
				return -1;
			}
		} else if ((n = write(c->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			cerr(c, "write: %s", strerror(errno));
			c->broken = 1;
			return -1;
		}
		c->nout += (unsigned long long)n;
		evbuffer_drain(c->out, (size_t)n);
	}
	return 0;
}

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reads once (waiting until deadline_ms, -1: forever) and feeds the
 * codec.  0 when something was read, 1 on timeout, -1 on EOF or error.
 */
static int
read_some(struct ternclient *c, long long deadline)
{
	char		buf[READ_CHUNK];
	struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
	long long	left;
	int		n, r;

	if (c->ssl == NULL || !SSL_has_pending(c->ssl)) {
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left < 0)
			left = 0;
		if ((r = poll(&pfd, 1, (int)left)) == 0)
			return 1;
		if (r == -1)
			return errno == EINTR ? 0 : -1;
	}
	if (c->ssl != NULL) {
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n <= 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ)
			return 0;
	} else
		n = (int)read(c->fd, buf, sizeof(buf));
	if (n <= 0) {
		if (!c->has_err)
			cerr(c, "connection closed by the server");
		c->broken = 1;
		return -1;
	}
	c->nin += (unsigned long long)n;
	c->codec->feed(c->cctx, buf, (size_t)n);
	return 0;
}

static struct stanza *
take(struct ternclient *c)
{
	if (c->qhead == c->nq)
		return NULL;
	return c->q[c->qhead++];
}

/* The next stanza within timeout_ms, or NULL (error set). */
static struct stanza *
wait_stanza(struct ternclient *c, int timeout_ms, const char *what)
{
	long long	 deadline = now_ms() + timeout_ms;
	struct stanza	*st;
	int		 r;

	while ((st = take(c)) == NULL) {
		if (c->broken || c->closed) {
			if (!c->has_err)
				cerr(c, "stream closed while waiting for %s",
				    what);
			return NULL;
		}
		if ((r = read_some(c, deadline)) == 1) {
			cerr(c, "timeout waiting for %s", what);
			return NULL;
		}
		if (r == -1)
			return NULL;
	}
	if (st->ns != NULL && strcmp(st->ns, STANZA_NS_STREAMS) == 0 &&
	    strcmp(st->name, "error") == 0) {
		struct stanza	*cond = stanza_child(st, STANZA_NS_STREAM_ERR,
				    NULL);

		cerr(c, "stream error <%s/> while waiting for %s",
		    cond != NULL ? cond->name : "?", what);
		stanza_unref(st);
		return NULL;
	}
	return st;
}

static int
expect(struct ternclient *c, const char *ns, const char *name,
    struct stanza **out)
{
	struct stanza	*st;

	if ((st = wait_stanza(c, c->o.timeout_ms, name)) == NULL)
		return -1;
	if (st->ns == NULL || strcmp(st->ns, ns) != 0 ||
	    strcmp(st->name, name) != 0) {
		cerr(c, "expected <%s/>, got <%s/> (%s)", name, st->name,
		    st->ns != NULL ? st->ns : "no namespace");
		stanza_unref(st);
		return -1;
	}
	if (out != NULL)
		*out = st;
	else
		stanza_unref(st);
	return 0;
}

/* Opens a stream and returns its features (a new reference) or NULL. */
static struct stanza *
open_stream(struct ternclient *c)
{
	struct stanza	*hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	struct stanza	*f = NULL;

	stanza_set_attr(hdr, "to", c->o.domain);
	stanza_set_attr(hdr, "version", "1.0");
	stanza_set_attr_ns(hdr, STANZA_NS_XML, "lang", "en");
	c->codec->write_header(c->cctx, c->out, hdr);
	stanza_unref(hdr);
	if (flush_out(c) == -1 ||
	    expect(c, STANZA_NS_STREAMS, "features", &f) == -1)
		return NULL;
	return f;
}

static int
tls_start(struct ternclient *c)
{
	static const unsigned char	alpn[] = "\x0bxmpp-client";

	if (c->ctx == NULL) {
		if ((c->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return -1;
		SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
		if (c->o.ca_file != NULL) {
			if (SSL_CTX_load_verify_locations(c->ctx,
			    c->o.ca_file, NULL) != 1) {
				cerr(c, "cannot load %s", c->o.ca_file);
				return -1;
			}
			SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		}
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, c->o.domain);
	SSL_set1_host(c->ssl, c->o.domain);
	if (c->o.direct_tls)
		SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
	if (SSL_connect(c->ssl) != 1) {
		cerr(c, "TLS handshake failed: %s",
		    ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	return 0;
}

static int
do_starttls(struct ternclient *c)
{
	struct stanza	*st = stanza_new(NS_TLS, "starttls");

	c->codec->write_stanza(c->cctx, c->out, st);
	stanza_unref(st);
	if (flush_out(c) == -1 || expect(c, NS_TLS, "proceed", NULL) == -1)
		return -1;
	c->codec->restart(c->cctx);
	c->opened = 0;
	return tls_start(c);
}

static int
has_mech(const struct stanza *f, const char *mech)
{
	struct stanza	*ms = stanza_child(f, NS_SASL, "mechanisms");
	size_t		 i;
	char		*t;
	int		 found = 0;

	for (i = 0; ms != NULL && i < ms->nkids && !found; i++) {
		if (ms->kids[i].el == NULL)
			continue;
		t = stanza_text(ms->kids[i].el);
		found = strcmp(t, mech) == 0;
		free(t);
	}
	return found;
}

static int
do_plain(struct ternclient *c)
{
	struct stanza	*st;
	size_t		 ul = strlen(c->o.user), pl = strlen(c->o.password);
	unsigned char	*raw, *b64;
	int		 n;

	raw = xmalloc(ul + pl + 2);
	raw[0] = '\0';
	memcpy(raw + 1, c->o.user, ul);
	raw[ul + 1] = '\0';
	memcpy(raw + ul + 2, c->o.password, pl);
	b64 = xmalloc(4 * ((ul + pl + 2 + 2) / 3) + 1);
	n = EVP_EncodeBlock(b64, raw, (int)(ul + pl + 2));
	st = stanza_new(NS_SASL, "auth");
	stanza_set_attr(st, "mechanism", "PLAIN");
	stanza_add_text(st, (char *)b64, (size_t)n);
	c->codec->write_stanza(c->cctx, c->out, st);
	stanza_unref(st);
	explicit_bzero(raw, ul + pl + 2);
	free(raw);
	free(b64);
	if (flush_out(c) == -1 || (st = wait_stanza(c, c->o.timeout_ms,
	    "SASL result")) == NULL)
		return -1;
	if (strcmp(st->name, "success") != 0) {
		struct stanza	*why = stanza_child(st, NULL, NULL);

		cerr(c, "authentication failed: %s", why != NULL ?
		    why->name : st->name);
		stanza_unref(st);
		return -1;
	}
	stanza_unref(st);
	c->codec->restart(c->cctx);
	c->opened = 0;
	return 0;
}

/* doc/binary.md 2: <select/>, <proceed/>, then binary frames. */
static int
do_binary(struct ternclient *c, const struct stanza *f)
{
	const struct codec_bin_dict	*d = codec_bin_dict_current();
	struct stanza			*b, *st;
	char				 ver[16];

	b = stanza_child(f, CODEC_BIN_NS, "binary");
	if (b == NULL) {
		cerr(c, "the server does not offer binary mode");
		return -1;
	}
	snprintf(ver, sizeof(ver), "%u", d->version);
	st = stanza_new(CODEC_BIN_NS, "select");
	stanza_set_attr(st, "version", ver);
	stanza_set_attr(st, "sha256", codec_bin_dict_hex(d));
	c->codec->write_stanza(c->cctx, c->out, st);
	stanza_unref(st);
	if (flush_out(c) == -1 || (st = wait_stanza(c, c->o.timeout_ms,
	    "binary answer")) == NULL)
		return -1;
	if (strcmp(st->name, "proceed") != 0) {
		struct stanza	*why = stanza_child(st, NULL, NULL);

		cerr(c, "binary mode refused: %s", why != NULL ? why->name :
		    st->name);
		stanza_unref(st);
		return -1;
	}
	stanza_unref(st);
	use_codec(c, &codec_bin);
	return 0;
}

static int
do_bind(struct ternclient *c)
{
	struct stanza	*iq = stanza_new(STANZA_NS_CLIENT, "iq"), *b, *j;
	char		*t;

	stanza_set_attr(iq, "type", "set");
	stanza_set_attr(iq, "id", "bind1");
	b = stanza_add_child(iq, NS_BIND, "bind");
	if (c->o.resource != NULL)
		stanza_add_text_child(b, NULL, "resource", c->o.resource);
	c->codec->write_stanza(c->cctx, c->out, iq);
	stanza_unref(iq);
	if (flush_out(c) == -1 || expect(c, STANZA_NS_CLIENT, "iq", &iq) ==
	    -1)
		return -1;
	b = stanza_child(iq, NS_BIND, "bind");
	j = b != NULL ? stanza_child(b, NS_BIND, "jid") : NULL;
	if (j == NULL) {
		cerr(c, "bind failed");
		stanza_unref(iq);
		return -1;
	}
	t = stanza_text(j);
	c->jid = t;
	stanza_unref(iq);
	return 0;
}

static int
tcp_connect(struct ternclient *c)
{
	struct addrinfo	 hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char		 port[16];
	int		 e;

	snprintf(port, sizeof(port), "%d", c->o.port);
	if ((e = getaddrinfo(c->o.host, port, &hints, &res)) != 0) {
		cerr(c, "%s: %s", c->o.host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((c->fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1)
			continue;
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd == -1) {
		cerr(c, "connect %s port %d: %s", c->o.host, c->o.port,
		    strerror(e));
		return -1;
	}
	return 0;
}

/* The whole negotiation; 0 once bound. */
static int
negotiate(struct ternclient *c)
{
	struct stanza	*f;

	if (tcp_connect(c) == -1 || (c->o.direct_tls && tls_start(c) == -1))
		return -1;
	use_codec(c, c->o.mode == TERNCLIENT_DEDICATED ? &codec_bin :
	    &codec_xml);
	if ((f = open_stream(c)) == NULL)
		return -1;
	if (c->ssl == NULL && !c->o.plaintext) {
		stanza_unref(f);
		if (do_starttls(c) == -1 || (f = open_stream(c)) == NULL)
			return -1;
	}
	if (!has_mech(f, "PLAIN")) {
		cerr(c, "the server does not offer PLAIN");
		stanza_unref(f);
		return -1;
	}
	stanza_unref(f);
	if (do_plain(c) == -1 || (f = open_stream(c)) == NULL)
		return -1;
	if (c->o.mode == TERNCLIENT_NEGOTIATE) {
		if (do_binary(c, f) == -1) {
			stanza_unref(f);
			return -1;
		}
		stanza_unref(f);
		if ((f = open_stream(c)) == NULL)
			return -1;
	}
	stanza_unref(f);
	return do_bind(c);
}

struct ternclient *
ternclient_connect(const struct ternclient_opts *o, char *err, size_t errlen)
{
	struct ternclient	*c = xcalloc(1, sizeof(*c));

	c->o = *o;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 10000;
	c->fd = -1;
	c->lim = (struct tern_limits){ .stanza_size = 1024 * 1024,
	    .depth = 256, .attrs = 256 };
	if ((c->out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	if (negotiate(c) == -1) {
		snprintf(err, errlen, "%s", c->err);
		c->closed = 1;		/* no polite close */
		ternclient_close(c);
		return NULL;
	}
	c->has_err = 0;
	return c;
}

int
ternclient_send(struct ternclient *c, const struct stanza *st)
{
	c->has_err = 0;
	if (c->broken) {
		cerr(c, "the stream is broken");
		return -1;
	}
	c->codec->write_stanza(c->cctx, c->out, st);
	return flush_out(c);
}

struct stanza *
ternclient_recv(struct ternclient *c, int timeout_ms)
{
	long long	 deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct stanza	*st;
	int		 r;

	c->has_err = 0;
	while ((st = take(c)) == NULL) {
		if (c->broken || c->closed) {
			if (!c->has_err)
				cerr(c, "the server closed the stream");
			return NULL;
		}
		if ((r = read_some(c, deadline)) == 1)
			return NULL;
		if (r == -1)
			return NULL;
	}
	return st;
}

int
ternclient_pending(struct ternclient *c)
{
	return c->qhead < c->nq || (c->ssl != NULL && SSL_has_pending(c->ssl));
}

int
ternclient_fd(const struct ternclient *c)
{
	return c->fd;
}

const char *
ternclient_jid(const struct ternclient *c)
{
	return c->jid;
}

const char *
ternclient_wire(const struct ternclient *c)
{
	return c->codec == &codec_bin ? "binary" : "xml";
}

const char *
ternclient_error(const struct ternclient *c)
{
	return c->has_err ? c->err : NULL;
}

void
ternclient_bytes(const struct ternclient *c, unsigned long long *out,
    unsigned long long *in)
{
	*out = c->nout;
	*in = c->nin;
}

void
ternclient_close(struct ternclient *c)
{
	long long	deadline;

	if (c == NULL)
		return;
	if (c->fd != -1 && !c->broken && !c->closed && c->codec != NULL) {
		c->codec->write_close(c->cctx, c->out);
		if (flush_out(c) == 0) {
			deadline = now_ms() + 2000;
			while (!c->closed && !c->broken &&
			    read_some(c, deadline) == 0)
				;
		}
	}
	while (c->qhead < c->nq)
		stanza_unref(c->q[c->qhead++]);
	free(c->q);
	if (c->codec != NULL)
		c->codec->destroy(c->cctx);
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd != -1)
		close(c->fd);
	evbuffer_free(c->out);
	free(c->jid);
	free(c);
}
