/*
 * tern-bench: declarations shared by the load generator's files.
 *
 * tern-bench.c parses the options and coordinates: it forks one or more
 * worker processes, tells them when to start each phase and aggregates
 * what they report.  A worker (bench_run.c) runs one libevent loop that
 * holds its share of the client connections (bench_conn.c: TCP, TLS,
 * XML, SASL with bench_sasl.c, bind).  Workers talk to the parent over a
 * pipe in text lines.  Nothing here links the server core: tern-bench
 * is an ordinary XMPP client and works against any server.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <expat.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

enum scenario { SC_REGISTER, SC_LOGIN, SC_IDLE, SC_MESSAGES, SC_PRESENCE };
enum tls_mode { TLSM_NONE, TLSM_STARTTLS, TLSM_DIRECT };
enum mech { MECH_PLAIN, MECH_SCRAM_SHA1, MECH_SCRAM_SHA256 };

struct opts {
	enum scenario	 sc;
	const char	*host;
	int		 port;
	const char	*domain;
	const char	*label;
	enum tls_mode	 tls;
	enum mech	 mech;
	const char	*pattern;
	long		 first;
	const char	*password;
	long		 accounts;
	long		 concurrency;
	double		 duration;
	long		 pairs;
	double		 rate;
	long		 window;
	long		 contacts;
	long		 wave;
	pid_t		 server_pid;
	int		 processes;
	int		 sources;
	double		 deadline;
	double		 drain;
	int		 allow_remote;
	int		 json;
	const char	*scram_cache;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
};

extern struct opts	 opt;

/* Connection states, in the order a login goes through them. */
enum cstate {
	CS_CONNECT,	/* TCP (and direct TLS) under way */
	CS_FEATURES,	/* stream header sent, waiting for <features/> */
	CS_STARTTLS,	/* <starttls/> sent, waiting for <proceed/> */
	CS_REGISTER,	/* XEP-0077 set sent */
	CS_AUTH,	/* <auth/> sent, SASL exchange */
	CS_BIND,	/* bind iq sent */
	CS_SESSION,	/* legacy session iq sent */
	CS_READY,	/* bound: the scenario owns the stream */
	CS_CLOSING	/* </stream:stream> sent */
};

/* Elements tern-bench cares about, by (namespace, local name). */
enum el {
	EL_OTHER, EL_STREAM, EL_FEATURES, EL_STREAM_ERROR, EL_STARTTLS,
	EL_PROCEED, EL_TLS_FAILURE, EL_MECHANISMS, EL_MECHANISM,
	EL_CHALLENGE, EL_SUCCESS, EL_SASL_FAILURE, EL_BIND, EL_SESSION,
	EL_OPTIONAL, EL_REGISTER, EL_MESSAGE, EL_PRESENCE, EL_IQ, EL_BODY,
	EL_ERROR, EL_PING, EL_ROSTER, EL_ITEM, EL_STREAM_COND, EL_STANZA_COND,
	EL_SASL_COND
};

/* Feature bits of one <stream:features/>. */
#define F_STARTTLS	0x01
#define F_BIND		0x02
#define F_SESSION	0x04	/* session required (not <optional/>) */
#define F_REGISTER	0x08
#define F_PLAIN		0x10
#define F_SCRAM_SHA1	0x20
#define F_SCRAM_SHA256	0x40

#define TEXT_MAX	768
#define ATTR_MAX	96
#define ID_MAX		128	/* longer ids are answered as the longest */
#define RITEM_MAX	64	/* roster items kept from one roster result */

/* A roster item of a bench account (presence setup). */
struct ritem {
	int32_t		 acct;
	uint8_t		 sub;		/* RS_TO | RS_FROM */
};
#define RS_TO		0x01
#define RS_FROM		0x02

/* The top-level element being parsed (or just parsed) on a stream. */
struct elem {
	enum el		 kind;
	enum el		 child;		/* first child element */
	enum el		 cur3;		/* the child being parsed */
	int		 optional;	/* <session><optional/> seen */
	char		 type[16];
	char		 id[ID_MAX];
	char		 from[ATTR_MAX];
	char		 cond[32];	/* error condition (stream, stanza, SASL) */
	char		 text[TEXT_MAX];/* SASL payload or message body */
	size_t		 textlen;
	int		 collect;	/* collecting character data */
	unsigned	 feat;		/* F_* for <features/> */
	int		 items_both;	/* roster items with subscription both */
	int		 nritems;	/* ritems[] kept (bench accounts only) */
	struct ritem	 ritems[RITEM_MAX];
};

struct scram;

struct conn {
	struct bufferevent	*bev;
	XML_Parser		 xp;
	struct scram		*scram;
	long			 acct;		/* account number (pattern %d) */
	long			 slot;		/* the worker's index */
	enum cstate		 state;
	unsigned		 tls:1, authed:1, dead:1, in_parse:1,
				 restart:1, up:1, reg:1, connected:1,
				 session:1, closing_by_us:1;
	int			 depth;
	int			 fd;
	uint64_t		 t_start;	/* ns, connect started */
	uint64_t		 deadline;	/* ns; 0: none */
	struct elem		 el;
	const char		*why;		/* reason of a pending finish */
	char			 reason[64];	/* storage for composed reasons */
	/* scenario data */
	int			 pending;	/* an iq the scenario waits for */
	long			 pair;		/* messages: pair; -1 none */
	uint64_t		 seq;		/* messages: next to send / expect */
	long			 nboth;		/* presence: contacts confirmed */
	uint64_t		 redrive;	/* presence: next repair, ns */
};

/* bench_conn.c */
#define SEND_LIT(c, s)	conn_send((c), (s), sizeof(s) - 1)
extern int	 conn_worker;
extern long	 conn_nconnected;
uint64_t	 now_ns(void);
int		 conn_init(struct event_base *);
struct conn	*conn_start(long acct, long slot, int want_register);
void		 conn_send(struct conn *, const char *, size_t);
void		 conn_printf(struct conn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 conn_fail(struct conn *, const char *reason);
void		 conn_close(struct conn *);
size_t		 conn_backlog(struct conn *);
void		 account_name(long acct, char *buf, size_t len);
long		 account_of_jid(const char *jid);
size_t		 xml_escape(const char *, char *, size_t);

/* bench_sasl.c: client side of PLAIN and SCRAM-SHA-1/-256. */
const char	*mech_name(enum mech);
unsigned	 mech_feature(enum mech);
char		*sasl_start(struct conn *, const char *user);
char		*sasl_step(struct conn *, const char *b64, const char **err);
int		 sasl_verify(struct conn *, const char *b64);
void		 sasl_free(struct conn *);
void		 sasl_cache_load(const char *path);
void		 sasl_cache_save(const char *path);

/* bench_run.c: the worker side, callbacks from bench_conn.c. */
void		 run_ready(struct conn *);
void		 run_stanza(struct conn *);
void		 run_registered(struct conn *, const char *err);
void		 run_closed(struct conn *, const char *reason);
void		 count_error(const char *reason);
int		 worker_main(int id, int rfd, int wfd);

#endif
