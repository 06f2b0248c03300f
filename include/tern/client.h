/*
 * ternclient: a small blocking XMPP client for tools, tests and load
 * generators (doc/binary.md 9).  One connection, one thread: connect
 * (TCP, STARTTLS or direct TLS, SASL PLAIN, optionally the binary wire
 * mode, resource binding), then exchange stanza trees.  The stanzas are
 * tern's own trees (src/stanza.h) and the wire formats tern's own codecs,
 * so client and server never disagree about an encoding.
 *
 * Ownership: ternclient_recv returns a reference the caller releases
 * with stanza_unref; ternclient_send borrows its argument.
 */
#ifndef TERN_CLIENT_H
#define TERN_CLIENT_H

#include <stddef.h>

struct stanza;
struct ternclient;

enum ternclient_mode {
	TERNCLIENT_XML = 0,	/* plain XML all along */
	TERNCLIENT_NEGOTIATE,	/* XML, then <select/> binary after SASL */
	TERNCLIENT_DEDICATED,	/* binary from the first byte (c2s_bin) */
};

struct ternclient_opts {
	const char	*host;		/* address to connect to */
	int		 port;
	const char	*domain;	/* stream to=, SNI */
	const char	*user;		/* node of the account */
	const char	*password;
	const char	*resource;	/* NULL: the server picks one */
	int		 mode;		/* enum ternclient_mode */
	int		 direct_tls;	/* XEP-0368: TLS from the first byte */
	int		 plaintext;	/* skip STARTTLS (loopback tests) */
	const char	*ca_file;	/* verify the server against it; NULL:
					   no certificate check (tests only) */
	int		 timeout_ms;	/* bound of every negotiation step */
};

/*
 * Connects, negotiates and binds.  NULL with the reason in err on any
 * failure (refused connection, TLS, SASL failure, stream error, binary
 * refused, timeout).
 */
struct ternclient	*ternclient_connect(const struct ternclient_opts *,
			    char *err, size_t errlen);
/* Sends one stanza: 0, or -1 (see ternclient_error). */
int			 ternclient_send(struct ternclient *,
			    const struct stanza *);
/*
 * The next stanza, waiting at most timeout_ms (0: only what is already
 * here; -1: no bound).  NULL on timeout (ternclient_error() is NULL) or
 * when the stream ended or broke (ternclient_error() says why).  A stream
 * error from the server arrives as its <stream:error/> element first.
 */
struct stanza		*ternclient_recv(struct ternclient *, int timeout_ms);
/* 1 if a stanza can be read without waiting for the network. */
int			 ternclient_pending(struct ternclient *);
/* The socket, for poll(2) beside other descriptors. */
int			 ternclient_fd(const struct ternclient *);
const char		*ternclient_jid(const struct ternclient *);
/* "xml" or "binary": the wire format in use now. */
const char		*ternclient_wire(const struct ternclient *);
/* Why the last call failed, or NULL. */
const char		*ternclient_error(const struct ternclient *);
/* Bytes written and read on the wire (after TLS) since connect. */
void			 ternclient_bytes(const struct ternclient *,
			    unsigned long long *out, unsigned long long *in);
/* Closes the stream politely and frees everything. */
void			 ternclient_close(struct ternclient *);

#endif
