/*
 * Internals shared by s2s.c (stream I/O, keys, routing entry),
 * s2s_in.c (streams other servers open to us) and s2s_out.c (streams
 * we open).  One struct s2s per connection, either direction.  A
 * stream is retired (out of the lists, conn closed) and freed by the
 * reaper, never inside its own callbacks.
 */
#ifndef TERN_S2S_INT_H
#define TERN_S2S_INT_H

#include <stdint.h>
#include <time.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "peer.h"

#define NS_DB		"jabber:server:dialback"
#define NS_DB_FEAT	"urn:xmpp:features:dialback"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define S2S_KEY_LEN	64	/* hex HMAC-SHA256 */

enum s2s_dir { S2S_IN, S2S_OUT };

enum s2s_state {
	SS_CONNECT,	/* out: resolving and connecting */
	SS_HEADER,	/* waiting for the peer's stream header */
	SS_NEGOTIATE,	/* features sent (in) or awaited (out) */
	SS_TLS,		/* TLS handshake */
	SS_AUTH,	/* out: dialback key or EXTERNAL sent */
	SS_READY,	/* out: authenticated, stanzas flow */
	SS_CLOSING,
	SS_DEAD,
};

/* in: a domain pair the peer asked to authenticate on this stream. */
struct s2s_pair {
	char	*from;		/* remote domain */
	char	*to;		/* local domain */
	int	 valid;
};

/* out: a dialback key to check with the remote (authoritative) server. */
struct s2s_verify {
	char		*id;		/* the incoming stream's id */
	char		*key;
	uint64_t	 in;		/* the incoming stream's conn id */
	int		 sent;
};

struct s2s_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			tls;	/* direct TLS (xmpps-server) */
};

struct s2s {
	enum s2s_dir		 dir;
	int			 state;
	struct conn		*conn;		/* NULL while connecting */
	void			*cctx;
	int			 tls;		/* TLS established */
	int			 direct;	/* direct TLS */
	int			 header_sent;
	int			 features;	/* out: features after TLS */
	int			 sasl_ok;	/* out: EXTERNAL succeeded */
	char			*local;		/* our domain */
	char			*remote;	/* theirs (in: may be NULL) */
	char			 id[129];	/* in: ours; out: the peer's */
	struct event		*timer;		/* setup deadline, then idle */
	time_t			 last;		/* last stanza either way */
	int			 cert_ok;	/* peer certificate verified */
	char			*auth;		/* "dialback", "EXTERNAL" */

	/* in */
	char			 peer[PEER_KEY_LEN];	/* peer.c key */
	struct s2s_pair		*pairs;
	size_t			 npairs;

	/* out */
	struct stanza		**q;		/* waiting for READY */
	size_t			 nq;
	struct s2s_verify	*vq;
	size_t			 nvq;
	struct s2s_addr		*addrs;
	size_t			 naddrs, next;
	int			 cfd;		/* connecting socket or -1 */
	struct event		*cev;
	struct evdns_getaddrinfo_request *dnsreq;
	void			*srv;		/* s2s_dns.c: SRV lookup */
	int			 dns_pending;
	int			 timedout;	/* last connect timed out */
	char			 target[300];	/* host:port tried last */
	char			*why;		/* last failure, for logs */

	LIST_ENTRY(s2s)		 entry;
};

LIST_HEAD(s2s_list, s2s);
extern struct s2s_list	s2s_ins, s2s_outs;

/* s2s.c */
struct evdns_base *s2s_dns(void);
/* The dialback secret (s2s_init draws one; tests set a known one). */
void	s2s_set_secret(const void *, size_t);
/* XEP-0185 key of recv(eiving), orig(inating) domain and stream id. */
void	s2s_key(const char *recv, const char *orig, const char *id,
	    char out[S2S_KEY_LEN + 1]);
int	s2s_key_check(const char *recv, const char *orig, const char *id,
	    const char *key);
void	s2s_start_io(struct s2s *, int fd, const struct sockaddr *,
	    socklen_t, SSL *);
void	s2s_send_header(struct s2s *);
/* A new stream after TLS or SASL: the peer's header comes next. */
void	s2s_restart(struct s2s *);
void	s2s_write(struct s2s *, const struct stanza *);
void	s2s_write_take(struct s2s *, struct stanza *);
void	s2s_error(struct s2s *, const char *cond, const char *text);
void	s2s_close(struct s2s *);
void	s2s_retire(struct s2s *);
void	s2s_arm(struct s2s *, unsigned seconds);
void	s2s_idle_check(struct s2s *);
struct stanza *s2s_ns_copy(const struct stanza *, const char *from,
	    const char *to);
void	s2s_bounce(const struct stanza *, const char *etype,
	    const char *cond, const char *text);
int	s2s_is(const struct stanza *, const char *ns, const char *name);
/* Checks the peer's certificate for domain; sets s->cert_ok. */
int	s2s_cert_check(struct s2s *, const char *domain, const char **why);
SSL	*s2s_client_ssl(const char *local, const char *remote);
void	s2s_server_ssl(SSL *);
void	s2s_tls_free(void);

/* s2s_in.c */
void	s2s_in_open(struct s2s *, const struct stanza *hdr);
void	s2s_in_stanza(struct s2s *, struct stanza *);
void	s2s_in_tls(struct s2s *);
void	s2s_in_timeout(struct s2s *);
/* The authoritative server's answer for the key on stream conn id in. */
void	s2s_in_verified(uint64_t in, const char *remote, const char *local,
	    int valid, const char *why);

/* s2s_out.c */
void	s2s_out_open(struct s2s *, const struct stanza *hdr);
void	s2s_out_stanza(struct s2s *, struct stanza *);
void	s2s_out_tls(struct s2s *);
void	s2s_out_timeout(struct s2s *);
void	s2s_out_closed(struct s2s *);
void	s2s_out_free(struct s2s *);
/* Asks remote whether key is its key for the incoming stream in. */
void	s2s_out_verify(const char *local, const char *remote, const char *id,
	    const char *key, uint64_t in);
/* s2s_dns.c has filled s->addrs, or failed with why. */
void	s2s_out_resolved(struct s2s *, const char *why);
void	s2s_out_route(const struct stanza *, const char *local,
	    const char *remote);

#endif
