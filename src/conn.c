/*
 * Connections over libevent bufferevents.  The fd is owned by the conn
 * while it is plaintext, and by the bufferevent_openssl (with the SSL)
 * once TLS starts.  A STARTTLS switch waits until <proceed/> has left the
 * output buffer, then replaces the plain bufferevent with a TLS one on
 * the same socket; reading is paused in between so the ClientHello stays
 * in the kernel for OpenSSL to read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "tls.h"
#include "xmalloc.h"

#define CLOSE_TIMEOUT	5	/* seconds to flush before a hard close */

static uint64_t	next_id = 1;

static void	read_cb(struct bufferevent *, void *);
static void	write_cb(struct bufferevent *, void *);
static void	event_cb(struct bufferevent *, short, void *);

void
conn_log(const struct conn *c, int level, const char *fmt, ...)
{
	char	 buf[1024], *p;
	va_list	 ap;

	if (level > log_getlevel())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Peer-controlled text must not forge log lines. */
	for (p = buf; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (c->label != NULL)
		log_msg(level, "c%llu %s %s: %s",
		    (unsigned long long)c->id, c->addr, c->label, buf);
	else
		log_msg(level, "c%llu %s: %s",
		    (unsigned long long)c->id, c->addr, buf);
}

static void
format_addr(struct conn *c, const struct sockaddr *sa)
{
	char	host[INET6_ADDRSTRLEN] = "?";

	snprintf(c->ip, sizeof(c->ip), "?");
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(c->ip, sizeof(c->ip), "%s", host);
		snprintf(c->addr, sizeof(c->addr), "%s:%u", host,
		    ntohs(s4->sin_port));
		c->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(c->ip, sizeof(c->ip), "%s", host);
		snprintf(c->addr, sizeof(c->addr), "[%s]:%u", host,
		    ntohs(s6->sin6_port));
		c->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
	} else
		snprintf(c->addr, sizeof(c->addr), "unix");
}

static void
setup_bev(struct conn *c)
{
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static struct bufferevent *
tls_bev(struct conn *c, SSL *ssl)
{
	struct bufferevent	*bev;

	bev = bufferevent_openssl_socket_new(loop_base(), c->fd, ssl,
	    c->client ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("conn: bufferevent_openssl_socket_new");
	/* We close cleanly ourselves; do not wait for a close_notify. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static struct conn *
conn_make(int fd, const struct sockaddr *sa, socklen_t salen, SSL *ssl,
    int client, void (*cb)(struct conn *, int, void *), void *arg)
{
	struct conn	*c;
	int		 one = 1;

	c = xcalloc(1, sizeof(*c));
	c->id = next_id++;
	c->client = client;
	c->fd = fd;
	c->cb = cb;
	c->arg = arg;
	format_addr(c, sa);
	evutil_make_socket_nonblocking(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ssl != NULL) {
		c->ssl = ssl;
		c->bev = tls_bev(c, ssl);
	} else if ((c->bev = bufferevent_socket_new(loop_base(), fd, 0)) ==
	    NULL)
		fatalx("conn: bufferevent_socket_new");
	setup_bev(c);
	return c;
}

struct conn *
conn_new(int fd, const struct sockaddr *sa, socklen_t salen, SSL *ssl,
    void (*cb)(struct conn *, int, void *), void *arg)
{
	return conn_make(fd, sa, salen, ssl, 0, cb, arg);
}

struct conn *
conn_new_client(int fd, const struct sockaddr *sa, socklen_t salen,
    SSL *ssl, void (*cb)(struct conn *, int, void *), void *arg)
{
	return conn_make(fd, sa, salen, ssl, 1, cb, arg);
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL)
		bufferevent_free(c->bev);	/* TLS: frees SSL, closes fd */
	if (c->ssl == NULL || c->starttls) {
		if (c->starttls && c->ssl != NULL)
			SSL_free(c->ssl);
		close(c->fd);
	}
	free(c->label);
	free(c->tls_err);
	free(c);
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

struct evbuffer *
conn_output(struct conn *c)
{
	return bufferevent_get_output(c->bev);
}

size_t
conn_pending(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
conn_pause(struct conn *c, int paused)
{
	if (c->closing || c->dead)
		return;
	if (paused)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

void
conn_set_label(struct conn *c, const char *label)
{
	free(c->label);
	c->label = label != NULL ? xstrdup(label) : NULL;
}

/* Tells the owner once that the connection is over. */
static void
dead(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->cb(c, CONN_EV_CLOSED, c->arg);
}

/* The plain bufferevent has sent <proceed/>: switch to TLS. */
static void
switch_tls(struct conn *c)
{
	bufferevent_free(c->bev);
	c->starttls = 0;
	c->bev = tls_bev(c, c->ssl);
	setup_bev(c);
}

void
conn_starttls(struct conn *c, SSL *ssl)
{
	c->ssl = ssl;
	c->starttls = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_pending(c) == 0)
		switch_tls(c);
}

void
conn_close(struct conn *c)
{
	struct timeval	tv = { CLOSE_TIMEOUT, 0 };

	if (c->closing || c->dead)
		return;
	c->closing = 1;
	/*
	 * Mid-handshake (or before it started) there is nothing to flush,
	 * and bufferevent_openssl would arm no timeout: close at once.
	 */
	if (c->starttls || (c->ssl != NULL && !SSL_is_init_finished(c->ssl))) {
		dead(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	if (conn_pending(c) == 0) {
		dead(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (!c->closing && !c->dead)
		c->cb(c, CONN_EV_DATA, c->arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (conn_pending(c) != 0)
		return;
	if (c->closing)
		dead(c);
	else if (c->starttls)
		switch_tls(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	unsigned long	 e;

	if (what & BEV_EVENT_CONNECTED) {
		c->tls_ready = 1;
		conn_log(c, LOG_LVL_DEBUG, "TLS established: %s",
		    tls_describe(c->ssl));
		c->cb(c, CONN_EV_TLS_READY, c->arg);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_log(c, LOG_LVL_INFO, "timed out flushing output");
	else if ((what & BEV_EVENT_ERROR) && c->ssl != NULL &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		char	buf[256];

		ERR_error_string_n(e, buf, sizeof(buf));
		conn_log(c, LOG_LVL_INFO, "TLS error%s: %s",
		    c->tls_ready ? "" : " during handshake", buf);
		free(c->tls_err);
		c->tls_err = xstrdup(buf);
	} else if (what & BEV_EVENT_ERROR)
		conn_log(c, LOG_LVL_DEBUG, "connection error: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else if (what & BEV_EVENT_EOF)
		conn_log(c, LOG_LVL_DEBUG, "peer closed the connection");
	dead(c);
}
