/*
 * tern-bench: one client connection, from TCP connect to a bound
 * resource.  A connection starts on a plain socket bufferevent that does
 * not own the descriptor; TLS (direct or after STARTTLS) replaces it with
 * an OpenSSL bufferevent that does.  The XML is parsed with expat in
 * namespace mode; only what the client needs is kept from each top-level
 * element (struct elem).  A connection that fails or closes is finished
 * outside the parser's callbacks, and the worker (bench_run.c) hears of
 * it once through run_closed(); the struct is freed right after.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "bench.h"

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define SETUP_TIMEOUT	60	/* seconds from connect to a bound session */
#define CLOSE_TIMEOUT	5

struct opts		 opt;
int			 conn_worker;		/* this worker's index */
long			 conn_nconnected;	/* TCP connects that worked */
static struct event_base *base;
static SSL_CTX		*ssl_ctx;
static char		 header[512];
static size_t		 header_len;
static unsigned long	 nsource;

static void	 readcb(struct bufferevent *, void *);
static void	 eventcb(struct bufferevent *, short, void *);
static void	 finish(struct conn *, const char *);
static void	 destroy(struct conn *);

static const struct {
	const char	*ns;
	const char	*name;		/* NULL: any name in ns */
	enum el		 el;
} names[] = {
	{ "jabber:client", "message", EL_MESSAGE },
	{ "jabber:client", "body", EL_BODY },
	{ "jabber:client", "presence", EL_PRESENCE },
	{ "jabber:client", "iq", EL_IQ },
	{ "jabber:client", "error", EL_ERROR },
	{ "urn:ietf:params:xml:ns:xmpp-stanzas", NULL, EL_STANZA_COND },
	{ "urn:xmpp:ping", "ping", EL_PING },
	{ "jabber:iq:roster", "query", EL_ROSTER },
	{ "jabber:iq:roster", "item", EL_ITEM },
	{ NS_STREAMS, "stream", EL_STREAM },
	{ NS_STREAMS, "features", EL_FEATURES },
	{ NS_STREAMS, "error", EL_STREAM_ERROR },
	{ "urn:ietf:params:xml:ns:xmpp-streams", NULL, EL_STREAM_COND },
	{ "urn:ietf:params:xml:ns:xmpp-tls", "starttls", EL_STARTTLS },
	{ "urn:ietf:params:xml:ns:xmpp-tls", "proceed", EL_PROCEED },
	{ "urn:ietf:params:xml:ns:xmpp-tls", "failure", EL_TLS_FAILURE },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms", EL_MECHANISMS },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", "mechanism", EL_MECHANISM },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", "challenge", EL_CHALLENGE },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", "success", EL_SUCCESS },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", "failure", EL_SASL_FAILURE },
	{ "urn:ietf:params:xml:ns:xmpp-sasl", NULL, EL_SASL_COND },
	{ "urn:ietf:params:xml:ns:xmpp-bind", "bind", EL_BIND },
	{ "urn:ietf:params:xml:ns:xmpp-session", "session", EL_SESSION },
	{ "urn:ietf:params:xml:ns:xmpp-session", "optional", EL_OPTIONAL },
	{ "http://jabber.org/features/iq-register", "register", EL_REGISTER },
};

uint64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The element kind of an expat "ns local" name; *local points at local. */
static enum el
lookup(const char *name, const char **local)
{
	const char	*sp = strrchr(name, ' ');
	size_t		 nslen, i;

	if (sp == NULL) {
		*local = name;
		return EL_OTHER;
	}
	*local = sp + 1;
	nslen = (size_t)(sp - name);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].ns) != nslen ||
		    memcmp(names[i].ns, name, nslen) != 0)
			continue;
		if (names[i].name == NULL || strcmp(names[i].name, sp + 1) == 0)
			return names[i].el;
	}
	return EL_OTHER;
}

static void
copy_attr(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

static void
top_start(struct elem *e, enum el k, const XML_Char **attrs)
{
	size_t	i;

	e->kind = k;
	e->child = e->cur3 = EL_OTHER;
	e->type[0] = e->id[0] = e->from[0] = e->cond[0] = '\0';
	e->textlen = 0;
	e->collect = k == EL_CHALLENGE || k == EL_SUCCESS;
	e->feat = 0;
	e->optional = 0;
	e->items_both = e->nritems = 0;
	for (i = 0; attrs[i] != NULL; i += 2) {
		if (strcmp(attrs[i], "type") == 0)
			copy_attr(e->type, sizeof(e->type), attrs[i + 1]);
		else if (strcmp(attrs[i], "id") == 0)
			copy_attr(e->id, sizeof(e->id), attrs[i + 1]);
		else if (strcmp(attrs[i], "from") == 0)
			copy_attr(e->from, sizeof(e->from), attrs[i + 1]);
	}
}

static void
child_start(struct elem *e, enum el k, const char *local)
{
	e->cur3 = k;
	if (e->child == EL_OTHER)
		e->child = k;
	switch (e->kind) {
	case EL_FEATURES:
		if (k == EL_STARTTLS)
			e->feat |= F_STARTTLS;
		else if (k == EL_BIND)
			e->feat |= F_BIND;
		else if (k == EL_SESSION)
			e->feat |= F_SESSION;
		else if (k == EL_REGISTER)
			e->feat |= F_REGISTER;
		break;
	case EL_STREAM_ERROR:
		if (k == EL_STREAM_COND && e->cond[0] == '\0')
			copy_attr(e->cond, sizeof(e->cond), local);
		break;
	case EL_SASL_FAILURE:
	case EL_TLS_FAILURE:
		if ((k == EL_SASL_COND || k == EL_OTHER) && e->cond[0] == '\0')
			copy_attr(e->cond, sizeof(e->cond), local);
		break;
	case EL_MESSAGE:
		if (k == EL_BODY) {
			e->collect = 1;
			e->textlen = 0;
		}
		break;
	default:
		break;
	}
}

/* Counts a roster item with subscription both, and keeps the state of
 * those that are bench accounts for the presence setup's repairs. */
static void
roster_item(struct elem *e, const XML_Char **attrs)
{
	struct ritem	 r = { .acct = -1 };
	long		 n;
	size_t		 i;

	for (i = 0; attrs[i] != NULL; i += 2) {
		if (strcmp(attrs[i], "subscription") == 0) {
			if (strcmp(attrs[i + 1], "both") == 0)
				r.sub = RS_TO | RS_FROM;
			else if (strcmp(attrs[i + 1], "to") == 0)
				r.sub = RS_TO;
			else if (strcmp(attrs[i + 1], "from") == 0)
				r.sub = RS_FROM;
		} else if (strcmp(attrs[i], "jid") == 0 &&
		    (n = account_of_jid(attrs[i + 1])) >= 0 && n <= INT32_MAX)
			r.acct = (int32_t)n;
	}
	if (r.sub == (RS_TO | RS_FROM))
		e->items_both++;
	if (r.acct >= 0 && e->nritems < RITEM_MAX)
		e->ritems[e->nritems++] = r;
}

static void
grandchild_start(struct elem *e, enum el k, const char *local,
    const XML_Char **attrs)
{
	if (e->kind == EL_FEATURES && e->cur3 == EL_MECHANISMS &&
	    k == EL_MECHANISM) {
		e->collect = 1;
		e->textlen = 0;
	} else if (e->kind == EL_FEATURES && e->cur3 == EL_SESSION &&
	    k == EL_OPTIONAL)
		e->optional = 1;
	else if (e->cur3 == EL_ERROR && k == EL_STANZA_COND &&
	    e->cond[0] == '\0')
		copy_attr(e->cond, sizeof(e->cond), local);
	else if (e->cur3 == EL_ROSTER && k == EL_ITEM)
		roster_item(e, attrs);
}

static void
on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct conn	*c = ud;
	const char	*local;
	enum el		 k = lookup(name, &local);
	int		 d = ++c->depth;

	if (c->dead || c->restart)
		return;
	if (d == 1) {
		if (k != EL_STREAM)
			conn_fail(c, "bad-stream-header");
	} else if (d == 2)
		top_start(&c->el, k, attrs);
	else if (d == 3)
		child_start(&c->el, k, local);
	else if (d == 4)
		grandchild_start(&c->el, k, local, attrs);
}

static void
on_text(void *ud, const XML_Char *s, int len)
{
	struct conn	*c = ud;
	struct elem	*e = &c->el;
	size_t		 n = (size_t)len;

	if (!e->collect)
		return;
	if (n > sizeof(e->text) - 1 - e->textlen)
		n = sizeof(e->text) - 1 - e->textlen;
	memcpy(e->text + e->textlen, s, n);
	e->textlen += n;
}

static void
mechanism_end(struct elem *e)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} mechs[] = {
		{ "PLAIN", F_PLAIN },
		{ "SCRAM-SHA-1", F_SCRAM_SHA1 },
		{ "SCRAM-SHA-256", F_SCRAM_SHA256 },
	};
	size_t	i;

	e->text[e->textlen] = '\0';
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strcmp(e->text, mechs[i].name) == 0)
			e->feat |= mechs[i].bit;
	e->collect = 0;
	e->textlen = 0;
}

static void dispatch(struct conn *);

static void
on_end(void *ud, const XML_Char *name)
{
	struct conn	*c = ud;
	struct elem	*e = &c->el;
	int		 d = c->depth--;

	if (c->dead || c->restart)
		return;
	if (d == 4 && e->kind == EL_FEATURES && e->cur3 == EL_MECHANISMS &&
	    e->collect)
		mechanism_end(e);
	else if (d == 3 && e->kind == EL_MESSAGE && e->cur3 == EL_BODY &&
	    e->collect) {
		e->collect = 0;
		e->text[e->textlen] = '\0';
		e->cur3 = EL_OTHER;
	} else if (d == 3)
		e->cur3 = EL_OTHER;
	else if (d == 2) {
		e->text[e->textlen] = '\0';
		if (e->kind == EL_FEATURES && e->optional)
			e->feat &= ~(unsigned)F_SESSION;
		dispatch(c);
	} else if (d == 1) {
		if (c->state == CS_CLOSING)
			conn_fail(c, NULL);
		else
			conn_fail(c, "stream-closed-by-server");
	}
}

static void
parser_setup(struct conn *c)
{
	XML_SetUserData(c->xp, c);
	XML_SetElementHandler(c->xp, on_start, on_end);
	XML_SetCharacterDataHandler(c->xp, on_text);
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	XML_SetReparseDeferralEnabled(c->xp, XML_FALSE);
#endif
	c->depth = 0;
}

/* A fresh stream: new parser state, our header. */
static void
stream_open(struct conn *c)
{
	XML_ParserReset(c->xp, NULL);
	parser_setup(c);
	conn_send(c, header, header_len);
	c->state = CS_FEATURES;
}

int
conn_init(struct event_base *b)
{
	char	dom[256];

	base = b;
	xml_escape(opt.domain, dom, sizeof(dom));
	header_len = (size_t)snprintf(header, sizeof(header),
	    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
	    "xmlns:stream='%s' to='%s' version='1.0'>", NS_STREAMS, dom);
	if (opt.tls == TLSM_NONE)
		return 0;
	if ((ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
	/* Every login pays a full handshake, as a new client would. */
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

static int
make_socket(const char **reason)
{
	struct sockaddr_in	 src;
	int			 fd, one = 1;

	fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*reason = errno == EMFILE || errno == ENFILE ?
		    "too-many-open-files" : "socket";
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.sources > 0 && opt.addr.ss_family == AF_INET) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001u +
		    (uint32_t)((nsource * (unsigned long)opt.processes +
		    (unsigned long)conn_worker) % (unsigned long)opt.sources));
		nsource++;
#ifdef IP_BIND_ADDRESS_NO_PORT
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
#endif
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			*reason = "bind-source-address";
			close(fd);
			return -1;
		}
	}
	return fd;
}

/*
 * Starts connection for account acct; NULL (and the error counted) when
 * no socket could be made.  The worker hears of the connection again
 * through run_ready, run_registered, run_stanza and run_closed.
 */
struct conn *
conn_start(long acct, long slot, int want_register)
{
	struct conn	*c;
	const char	*reason = NULL;
	int		 fd;

	if ((fd = make_socket(&reason)) == -1) {
		count_error(reason);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	c->fd = fd;
	c->acct = acct;
	c->slot = slot;
	c->pair = -1;
	c->reg = want_register != 0;
	c->t_start = now_ns();
	c->deadline = c->t_start + SETUP_TIMEOUT * 1000000000ull;
	c->state = CS_CONNECT;
	if ((c->xp = XML_ParserCreateNS(NULL, ' ')) == NULL) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	parser_setup(c);
	c->bev = bufferevent_socket_new(base, fd, 0);
	if (c->bev == NULL) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	bufferevent_setcb(c->bev, readcb, NULL, eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&opt.addr,
	    (int)opt.addrlen) == -1) {
		count_error(errno == EADDRNOTAVAIL ? "no-free-source-port" :
		    "connect");
		destroy(c);
		return NULL;
	}
	return c;
}

/* Replaces the plain bufferevent by a TLS one on the same descriptor. */
static void
start_tls(struct conn *c)
{
	SSL	*ssl;

	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_free(c->bev);
	c->bev = NULL;
	if ((ssl = SSL_new(ssl_ctx)) == NULL) {
		c->dead = 1;
		finish(c, "tls-setup");
		return;
	}
	SSL_set_tlsext_host_name(ssl, opt.domain);
	c->bev = bufferevent_openssl_socket_new(base, c->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		c->dead = 1;
		finish(c, "tls-setup");
		return;
	}
	c->tls = 1;
	c->state = CS_CONNECT;
	bufferevent_setcb(c->bev, readcb, NULL, eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void
conn_send(struct conn *c, const char *s, size_t len)
{
	if (c->bev != NULL && !c->dead)
		bufferevent_write(c->bev, s, len);
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->bev == NULL || c->dead)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

size_t
conn_backlog(struct conn *c)
{
	return c->bev == NULL ? 0 :
	    evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Ends the stream politely; finished when the server closes its side. */
void
conn_close(struct conn *c)
{
	static const char	end[] = "</stream:stream>";

	if (c->dead || c->state == CS_CLOSING)
		return;
	conn_send(c, end, sizeof(end) - 1);
	c->state = CS_CLOSING;
	c->deadline = now_ns() + CLOSE_TIMEOUT * 1000000000ull;
}

/*
 * The connection is over: reason NULL for a clean close, else what went
 * wrong (counted by the worker).  Inside the parser the connection is
 * only marked; readcb finishes it when expat returns.
 */
void
conn_fail(struct conn *c, const char *reason)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->why = reason;
	if (c->in_parse) {
		XML_StopParser(c->xp, XML_FALSE);
		return;
	}
	finish(c, reason);
}

/* Frees the transport, the parser and the struct. */
static void
destroy(struct conn *c)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
	}
	if (!c->tls && c->fd != -1)
		close(c->fd);
	sasl_free(c);
	XML_ParserFree(c->xp);
	free(c);
}

static void
finish(struct conn *c, const char *reason)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	}
	run_closed(c, reason);
	destroy(c);
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		 buf[16384];
	int		 n;

	while (!c->dead && !c->restart &&
	    (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		c->in_parse = 1;
		if (XML_Parse(c->xp, buf, n, 0) == XML_STATUS_ERROR &&
		    !c->dead && !c->restart) {
			c->in_parse = 0;
			conn_fail(c, "xml-not-well-formed");
			return;
		}
		c->in_parse = 0;
	}
	if (c->dead) {
		finish(c, c->why);
		return;
	}
	if (c->restart) {
		c->restart = 0;
		if (c->state == CS_STARTTLS) {
			evbuffer_drain(in, evbuffer_get_length(in));
			start_tls(c);
		} else
			stream_open(c);
	}
}

static const char *
socket_reason(struct conn *c)
{
	int	e = EVUTIL_SOCKET_ERROR();

	if (c->tls && bufferevent_get_openssl_error(c->bev) != 0)
		return c->state == CS_CONNECT ? "tls-handshake" : "tls-error";
	switch (e) {
	case ECONNREFUSED:
		return "connection-refused";
	case ECONNRESET:
		return "connection-reset";
	case ETIMEDOUT:
		return "connect-timeout";
	case EADDRNOTAVAIL:
		return "no-free-source-port";
	case EPIPE:
		return "broken-pipe";
	default:
		return c->state == CS_CONNECT && !c->tls ? "connect" :
		    "socket-error";
	}
}

static void
eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (!c->connected)
			conn_nconnected++;
		c->connected = 1;
		if (!c->tls && opt.tls == TLSM_DIRECT)
			start_tls(c);
		else
			stream_open(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (c->state == CS_CLOSING)
			conn_fail(c, NULL);
		else
			conn_fail(c, c->tls && c->state == CS_CONNECT ?
			    "tls-handshake" : "closed-by-server");
	} else if (what & BEV_EVENT_ERROR)
		conn_fail(c, c->state == CS_CLOSING ? NULL : socket_reason(c));
}

/* --- the stream negotiation ------------------------------------------ */

void
account_name(long acct, char *buf, size_t len)
{
	const char	*p = strstr(opt.pattern, "%d");

	snprintf(buf, len, "%.*s%ld%s", (int)(p - opt.pattern), opt.pattern,
	    acct, p + 2);
}

/* The account number in a JID made from the pattern; -1 if none. */
long
account_of_jid(const char *jid)
{
	const char	*p = strstr(opt.pattern, "%d"), *at, *end;
	size_t		 pre = (size_t)(p - opt.pattern), suf = strlen(p + 2);
	char		*ep;
	long		 n;

	if ((at = strchr(jid, '@')) == NULL)
		return -1;
	if ((size_t)(at - jid) < pre + suf + 1 ||
	    strncasecmp(jid, opt.pattern, pre) != 0)
		return -1;
	end = at - suf;
	if (strncasecmp(end, p + 2, suf) != 0)
		return -1;
	n = strtol(jid + pre, &ep, 10);
	if (ep != end || n < 0)
		return -1;
	return n;
}

size_t
xml_escape(const char *s, char *out, size_t len)
{
	size_t		 o = 0, l;
	const char	*r;
	char		 one[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '\'': r = "&apos;"; break;
		case '"': r = "&quot;"; break;
		default: one[0] = *s; r = one; break;
		}
		l = strlen(r);
		if (o + l + 1 > len)
			break;
		memcpy(out + o, r, l);
		o += l;
	}
	out[o] = '\0';
	return o;
}

static void
send_auth(struct conn *c)
{
	char	 user[256];
	char	*p;

	account_name(c->acct, user, sizeof(user));
	if ((p = sasl_start(c, user)) == NULL) {
		conn_fail(c, "sasl-client");
		return;
	}
	conn_printf(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
	    "mechanism='%s'>%s</auth>", mech_name(opt.mech), p);
	free(p);
	c->state = CS_AUTH;
}

static void
send_register(struct conn *c)
{
	char	user[256], u[512], pw[1024];

	account_name(c->acct, user, sizeof(user));
	xml_escape(user, u, sizeof(u));
	xml_escape(opt.password, pw, sizeof(pw));
	conn_printf(c, "<iq type='set' id='reg'><query "
	    "xmlns='jabber:iq:register'><username>%s</username>"
	    "<password>%s</password></query></iq>", u, pw);
	c->state = CS_REGISTER;
}

static void
features(struct conn *c)
{
	unsigned	f = c->el.feat;

	if (c->authed) {
		if (!(f & F_BIND)) {
			conn_fail(c, "no-bind-feature");
			return;
		}
		conn_printf(c, "<iq type='set' id='bind'><bind xmlns='"
		    "urn:ietf:params:xml:ns:xmpp-bind'><resource>b%ld-%ld"
		    "</resource></bind></iq>", c->acct, c->slot);
		c->session = (f & F_SESSION) != 0;
		c->state = CS_BIND;
		return;
	}
	if (opt.tls == TLSM_STARTTLS && !c->tls) {
		if (!(f & F_STARTTLS)) {
			conn_fail(c, "no-starttls-feature");
			return;
		}
		SEND_LIT(c, "<starttls xmlns='urn:ietf:params:xml:ns:"
		    "xmpp-tls'/>");
		c->state = CS_STARTTLS;
		return;
	}
	if (c->reg) {
		send_register(c);
		return;
	}
	if (!(f & mech_feature(opt.mech))) {
		conn_fail(c, "mechanism-not-offered");
		return;
	}
	send_auth(c);
}

static void
set_reason(char *buf, size_t len, const char *what, const char *cond)
{
	snprintf(buf, len, "%s:%s", what, cond[0] != '\0' ? cond : "unknown");
}

static void
auth_stanza(struct conn *c)
{
	struct elem	*e = &c->el;
	const char	*err = NULL;
	char		*p;

	if (e->kind == EL_CHALLENGE) {
		if ((p = sasl_step(c, e->text, &err)) == NULL) {
			conn_fail(c, err);
			return;
		}
		conn_printf(c, "<response xmlns='urn:ietf:params:xml:ns:"
		    "xmpp-sasl'>%s</response>", p);
		free(p);
	} else if (e->kind == EL_SUCCESS) {
		if (sasl_verify(c, e->text) == -1) {
			conn_fail(c, "sasl-bad-server-signature");
			return;
		}
		sasl_free(c);
		c->authed = 1;
		c->restart = 1;
		XML_StopParser(c->xp, XML_FALSE);
	} else if (e->kind == EL_SASL_FAILURE) {
		set_reason(c->reason, sizeof(c->reason), "sasl", e->cond);
		conn_fail(c, c->reason);
	} else
		conn_fail(c, "unexpected-stanza-in-sasl");
}

/* Answers what a server may ask a client: ping, roster pushes. */
static void
answer_iq(struct conn *c)
{
	struct elem	*e = &c->el;
	char		 id[6 * ID_MAX], to[6 * ATTR_MAX];

	xml_escape(e->id, id, sizeof(id));
	xml_escape(e->from, to, sizeof(to));
	if (e->child == EL_PING || e->child == EL_ROSTER)
		conn_printf(c, "<iq type='result' id='%s'%s%s%s/>", id,
		    to[0] ? " to='" : "", to, to[0] ? "'" : "");
	else
		conn_printf(c, "<iq type='error' id='%s'%s%s%s><error "
		    "type='cancel'><service-unavailable xmlns='urn:ietf:params"
		    ":xml:ns:xmpp-stanzas'/></error></iq>", id,
		    to[0] ? " to='" : "", to, to[0] ? "'" : "");
}

static void
iq_negotiation(struct conn *c)
{
	struct elem	*e = &c->el;
	int		 ok = strcmp(e->type, "result") == 0;

	if (e->kind != EL_IQ || (!ok && strcmp(e->type, "error") != 0))
		return;
	if (c->state == CS_REGISTER) {
		if (ok) {
			run_registered(c, NULL);
			return;
		}
		set_reason(c->reason, sizeof(c->reason), "register", e->cond);
		run_registered(c, c->reason);
	} else if (!ok) {
		set_reason(c->reason, sizeof(c->reason),
		    c->state == CS_BIND ? "bind" : "session", e->cond);
		conn_fail(c, c->reason);
	} else if (c->state == CS_BIND && c->session) {
		SEND_LIT(c, "<iq type='set' id='sess'><session xmlns='"
		    "urn:ietf:params:xml:ns:xmpp-session'/></iq>");
		c->state = CS_SESSION;
	} else {
		c->state = CS_READY;
		c->deadline = 0;
		run_ready(c);
	}
}

static void
dispatch(struct conn *c)
{
	struct elem	*e = &c->el;

	if (e->kind == EL_STREAM_ERROR) {
		set_reason(c->reason, sizeof(c->reason), "stream-error",
		    e->cond);
		conn_fail(c, c->state == CS_CLOSING ? NULL : c->reason);
		return;
	}
	switch (c->state) {
	case CS_FEATURES:
		if (e->kind == EL_FEATURES)
			features(c);
		else
			conn_fail(c, "unexpected-stanza-before-features");
		break;
	case CS_STARTTLS:
		if (e->kind == EL_PROCEED) {
			c->restart = 1;
			XML_StopParser(c->xp, XML_FALSE);
		} else
			conn_fail(c, "starttls-failure");
		break;
	case CS_AUTH:
		auth_stanza(c);
		break;
	case CS_REGISTER:
	case CS_BIND:
	case CS_SESSION:
		iq_negotiation(c);
		break;
	case CS_READY:
		if (e->kind == EL_IQ && (strcmp(e->type, "get") == 0 ||
		    strcmp(e->type, "set") == 0))
			answer_iq(c);
		else
			run_stanza(c);
		break;
	case CS_CONNECT:
	case CS_CLOSING:
		break;
	}
}
