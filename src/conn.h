/*
 * A connection: a socket in a bufferevent, plain or TLS, with STARTTLS
 * upgrade, flush-then-close, and one callback taking an event enum (the
 * OpenSMTPD io pattern).  The owner (a stream) frees it through the
 * reaper, never from inside its own callback.
 */
#ifndef TERN_CONN_H
#define TERN_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct bufferevent;
struct evbuffer;

enum conn_event {
	CONN_EV_DATA,		/* input available: conn_input() */
	CONN_EV_TLS_READY,	/* TLS handshake done */
	CONN_EV_CLOSED,		/* peer closed, error, or our close done */
};

struct conn {
	uint64_t		 id;
	int			 fd;
	struct bufferevent	*bev;
	SSL			*ssl;		/* NULL: plaintext so far */
	int			 tls_ready;
	int			 loopback;	/* peer on 127/8 or ::1 */
	int			 closing;
	int			 dead;		/* CONN_EV_CLOSED was sent */
	int			 starttls;	/* waiting to flush <proceed/> */
	int			 client;	/* we connected: TLS client side */
	char			 addr[64];	/* "[::1]:4242" */
	char			 ip[48];	/* "::1" */
	char			*label;		/* JID once known, or NULL */
	char			*tls_err;	/* why TLS failed, or NULL */
	void			(*cb)(struct conn *, int, void *);
	void			*arg;
};

/*
 * Wraps an accepted socket.  ssl: direct TLS (handshake starts now), or
 * NULL.  Takes ownership of fd and ssl.
 */
struct conn	*conn_new(int fd, const struct sockaddr *, socklen_t, SSL *ssl,
		    void (*cb)(struct conn *, int, void *), void *arg);
/* The same for a socket we connected (TLS client side). */
struct conn	*conn_new_client(int fd, const struct sockaddr *, socklen_t,
		    SSL *ssl, void (*cb)(struct conn *, int, void *),
		    void *arg);
/* Closes the socket and frees; only from the reaper or at shutdown. */
void		 conn_free(struct conn *);

struct evbuffer	*conn_input(struct conn *);
struct evbuffer	*conn_output(struct conn *);
size_t		 conn_pending(struct conn *);	/* bytes not yet sent */
/* Stop/resume reading (backpressure, or before a TLS switch). */
void		 conn_pause(struct conn *, int paused);
/*
 * Switches to TLS with ssl once what is in the output buffer is sent
 * (the <proceed/>).  Takes ownership of ssl.  CONN_EV_TLS_READY follows.
 */
void		 conn_starttls(struct conn *, SSL *ssl);
/* Sends what is queued, then closes; CONN_EV_CLOSED follows. */
void		 conn_close(struct conn *);
/* Sets the JID shown in log lines. */
void		 conn_set_label(struct conn *, const char *);

/* Log lines about a connection start with its id and peer. */
void		 conn_log(const struct conn *, int level, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

#endif
