/*
 * Listening sockets.  "*" binds the IPv6 wildcard with IPV6_V6ONLY off
 * (both families), falling back to 0.0.0.0 where IPv6 is unavailable;
 * "localhost" binds 127.0.0.1 and ::1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "s2s.h"
#include "stream.h"
#include "xmalloc.h"

#define LISTEN_BACKLOG	1024
#define ACCEPT_PAUSE	1	/* seconds without accepting after EMFILE */

struct listener {
	struct evconnlistener	*lev;
	int			 kind;
	char			*name;
	struct event		*resume;
};

static struct listener	*ls;
static size_t		 nls;

static const char *const kind_names[] = {
	[LISTEN_C2S] = "c2s", [LISTEN_C2S_TLS] = "c2s_tls",
	[LISTEN_C2S_BIN] = "c2s_bin", [LISTEN_C2S_BIN_TLS] = "c2s_bin_tls",
	[LISTEN_S2S] = "s2s", [LISTEN_S2S_TLS] = "s2s_tls",
};

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*l = arg;

	if (l->kind == LISTEN_S2S || l->kind == LISTEN_S2S_TLS)
		s2s_accept(fd, sa, (socklen_t)salen, l->kind == LISTEN_S2S_TLS);
	else
		stream_accept(fd, sa, (socklen_t)salen,
		    (l->kind == LISTEN_C2S_TLS ||
		    l->kind == LISTEN_C2S_BIN_TLS ? STREAM_DIRECT_TLS : 0) |
		    (l->kind == LISTEN_C2S_BIN ||
		    l->kind == LISTEN_C2S_BIN_TLS ? STREAM_SNIFF : 0));
}

static void
resume_cb(int fd, short ev, void *arg)
{
	struct listener	*l = arg;

	evconnlistener_enable(l->lev);
}

static void
error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener	*l = arg;
	struct timeval	 tv = { ACCEPT_PAUSE, 0 };
	int		 e = EVUTIL_SOCKET_ERROR();

	/* Out of descriptors: stop accepting for a moment, do not spin. */
	log_warnx("listen %s %s: accept: %s%s", kind_names[l->kind], l->name,
	    evutil_socket_error_to_string(e), e == EMFILE || e == ENFILE ?
	    " (raise the descriptor limit)" : "");
	evconnlistener_disable(lev);
	evtimer_add(l->resume, &tv);
}

static int
bind_one(const struct conf_listen *cl, const char *host, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	struct evconnlistener	*lev;
	struct listener		*l;
	socklen_t		 len;
	int			 fd, off = 0, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)cl->port);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)cl->port);
		len = sizeof(*s6);
	} else {
		snprintf(err, errlen, "listen %s (line %d): bad address",
		    cl->addr, cl->line);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
		    strcmp(host, "::") == 0 ? &off : &one, sizeof(int));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    evutil_make_socket_closeonexec(fd) == -1) {
		close(fd);
		goto fail;
	}
	ls = xreallocarray(ls, nls + 1, sizeof(*ls));
	l = &ls[nls];
	l->kind = cl->kind;
	xasprintf(&l->name, "%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
	    strchr(host, ':') ? "]" : "", cl->port);
	lev = evconnlistener_new(loop_base(), accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG,
	    fd);
	if (lev == NULL) {
		free(l->name);
		close(fd);
		goto fail;
	}
	l->lev = lev;
	l->resume = evtimer_new(loop_base(), resume_cb, NULL);
	nls++;
	log_info("listening for %s on %s", kind_names[cl->kind], l->name);
	return 0;
 fail:
	snprintf(err, errlen, "listen %s %s (line %d): cannot listen on "
	    "%s port %d: %s", kind_names[cl->kind], cl->addr, cl->line, host,
	    cl->port, strerror(errno));
	return -1;
}

int
listen_start(const struct tern_conf *conf, char *err, size_t errlen)
{
	const struct conf_listen	*cl;
	size_t				 i;

	for (i = 0; i < conf->nlistens; i++) {
		cl = &conf->listens[i];
		if (strcmp(cl->host, "*") == 0) {
			if (bind_one(cl, "::", err, errlen) == 0)
				continue;
			if (bind_one(cl, "0.0.0.0", err, errlen) == -1)
				return -1;
		} else if (strcmp(cl->host, "localhost") == 0) {
			if (bind_one(cl, "127.0.0.1", err, errlen) == -1)
				return -1;
			if (bind_one(cl, "::1", err, errlen) == -1)
				log_warnx("%s (IPv6 loopback skipped)", err);
		} else if (bind_one(cl, cl->host, err, errlen) == -1)
			return -1;
	}
	/* The resume timers need their listener; ls moved while growing. */
	for (i = 0; i < nls; i++) {
		evconnlistener_set_cb(ls[i].lev, accept_cb, &ls[i]);
		evconnlistener_set_error_cb(ls[i].lev, error_cb);
		event_assign(ls[i].resume, loop_base(), -1, 0, resume_cb,
		    &ls[i]);
	}
	return 0;
}

void
listen_stop(void)
{
	size_t	i;

	for (i = 0; i < nls; i++) {
		evconnlistener_free(ls[i].lev);
		event_free(ls[i].resume);
		free(ls[i].name);
	}
	free(ls);
	ls = NULL;
	nls = 0;
}

void
listen_pause(int paused)
{
	size_t	i;

	for (i = 0; i < nls; i++) {
		if (paused)
			evconnlistener_disable(ls[i].lev);
		else
			evconnlistener_enable(ls[i].lev);
	}
}
