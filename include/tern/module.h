/*
 * The tern module API: the only header a module includes.
 *
 * A module is one `const struct tern_module mod_<name>` (built in and
 * listed in modules/modules.c, or a shared object loaded with
 * `load_module "path/mod_<name>.so";`).  It is enabled per virtual host
 * with `modules <name> ...;` in a host block.  For every host that
 * enables it, tern allocates conf_size bytes of configuration, fills them
 * from the module's directive table, calls init(), and registers its
 * hooks on that host.  A module calls no other module's functions: it
 * fires events or uses a service another module provides.
 *
 * Ownership: arguments are borrowed for the call.  Functions named
 * _new/_copy/_ref return a reference the caller releases with
 * tern_stanza_unref.  A stanza in an event is borrowed: a handler that
 * keeps it takes a reference, and one that changes a stanza it did not
 * make copies it first.
 *
 * Hooks never block: point reads and writes of the store are fine; long
 * scans are bounded and paged.
 */
#ifndef TERN_MODULE_H
#define TERN_MODULE_H

#include <stddef.h>
#include <stdint.h>

#define TERN_MODULE_ABI		1	/* bumped on any incompatible change */

/* Hook results. */
#define TERN_PASS		0	/* not handled: later handlers run */
#define TERN_DONE		1	/* handled: stop here */

/* Hook priorities: higher runs first. */
#define TERN_PRIO_HIGH		1000
#define TERN_PRIO_DEFAULT	0
#define TERN_PRIO_LOW		(-1000)

struct tern_stanza;
struct tern_session;
struct tern_host;

/* Namespaces the core uses. */
#define TERN_NS_CLIENT		"jabber:client"
#define TERN_NS_STANZAS		"urn:ietf:params:xml:ns:xmpp-stanzas"
#define TERN_NS_XML		"http://www.w3.org/XML/1998/namespace"

/*
 * An event.  Stanza events are named as Prosody names them:
 *
 *   pre-message/bare  pre-presence/full  pre-iq/host ...
 *	a stanza a local session sent, before it is routed (from is
 *	stamped; origin is the sender)
 *   message/bare  presence/full  iq/host ...
 *	a stanza for a local destination: the server (host), an account
 *	(bare) or a resource (full); origin may be NULL
 *   iq-get/host/urn:xmpp:ping:ping  iq-set/bare/jabber:iq:roster:query
 *	iq get/set by payload, fired before iq/<dest>
 *   presence/self
 *	presence without 'to' from a local session (its own availability)
 *   message/offline
 *	a message the router would bounce because no resource is
 *	available; a handler that stores it returns TERN_DONE
 *   filter/bare  filter/full  filter/host
 *	fired first for every stanza to a local destination (blocking);
 *	TERN_DONE stops it
 *   iq-get/unauthenticated/jabber:iq:register:query ...
 *	iq on a stream that is not authenticated yet (origin NULL; answer
 *	with tern_reply)
 * Other events: resource-bind, resource-unbind (session set),
 * stream-features (features set: add children to it; authenticated
 * says which features list), user-deleted (user set, after the
 * account and every store the modules declare were deleted).
 * Queries between modules (TERN_DONE means yes):
 *   presence-subscriber	user = node, to = a contact's bare JID: does
 *				the contact see the user's presence (roster)
 *   jid-blocked		user = node, to = a JID: has the user
 *				blocked it (blocking)
 *   roster-push, roster-full	used by presence to ask roster
 */
struct tern_event {
	const char		*name;
	struct tern_host	*host;
	struct tern_session	*origin;	/* local sender, or NULL */
	struct tern_stanza	*stanza;	/* NULL for non-stanza events */
	struct tern_session	*session;	/* bind/unbind: the session */
	struct tern_stanza	*features;	/* stream-features */
	const char		*user;		/* user-deleted: the node */
	const char		*to;		/* prepared 'to' (or NULL) */
	const char		*to_node;	/* its parts; NULL if absent */
	const char		*to_domain;
	const char		*to_resource;
	int			 authenticated;	/* stream-features */
	void			*priv;		/* the core's; do not touch */
};

struct tern_hook {
	const char	*event;
	int		 priority;
	int		(*fn)(struct tern_event *, void *conf);
};

/* Config directive types (as in tern.conf.5). */
enum tern_conf_type {
	TERN_CONF_STR,		/* char * */
	TERN_CONF_INT,		/* unsigned, min..max */
	TERN_CONF_SIZE,		/* size_t, k/m/g suffix, min..max */
	TERN_CONF_TIME,		/* unsigned seconds, s/m/h/d, min..max */
	TERN_CONF_BOOL,		/* int */
	TERN_CONF_ENUM,		/* int index into values */
};

struct tern_directive {
	const char		*name;
	enum tern_conf_type	 type;
	size_t			 offset;	/* into the module's conf */
	long long		 min;
	long long		 max;
	const char		*defval;	/* as written in the file */
	const char *const	*values;	/* TERN_CONF_ENUM, NULL-ended */
};

struct tern_identity {
	const char	*category;
	const char	*type;
	const char	*name;
};

struct tern_module {
	int				 abi;	/* TERN_MODULE_ABI */
	const char			*name;
	const char *const		*depends;	/* NULL-ended or NULL */
	const char *const		*features;	/* disco, NULL-ended */
	const char *const		*account_features; /* on accounts */
	const struct tern_identity	*identities;	/* {NULL} ended */
	const struct tern_directive	*directives;	/* {NULL} ended */
	size_t				 conf_size;
	const struct tern_hook		*hooks;		/* {NULL} ended */
	/* Stores holding per-user data, deleted with the account. */
	const char *const		*stores;	/* NULL-ended */
	/* Per host; 0 or -1 (the host then fails to start, logged). */
	int	(*init)(struct tern_host *, void *conf);
	void	(*fini)(struct tern_host *, void *conf);
	/* Frees a session's data slot (may be NULL if none is used). */
	void	(*session_free)(void *data);
};

/* Stanzas (see src/stanza.h for the model: names with namespaces). */
struct tern_stanza	*tern_stanza_new(const char *ns, const char *name);
struct tern_stanza	*tern_stanza_ref(struct tern_stanza *);
void			 tern_stanza_unref(struct tern_stanza *);
struct tern_stanza	*tern_stanza_copy(const struct tern_stanza *);
const char		*tern_stanza_name(const struct tern_stanza *);
const char		*tern_stanza_ns(const struct tern_stanza *);
const char		*tern_stanza_attr(const struct tern_stanza *,
			    const char *);
void			 tern_stanza_set_attr(struct tern_stanza *,
			    const char *, const char *);
struct tern_stanza	*tern_stanza_add_child(struct tern_stanza *,
			    const char *ns, const char *name);
void			 tern_stanza_add_child_take(struct tern_stanza *,
			    struct tern_stanza *);
struct tern_stanza	*tern_stanza_add_text_child(struct tern_stanza *,
			    const char *ns, const char *name, const char *);
void			 tern_stanza_add_text(struct tern_stanza *,
			    const char *, size_t);
void			 tern_stanza_remove_children(struct tern_stanza *,
			    const char *ns, const char *name);
struct tern_stanza	*tern_stanza_child(const struct tern_stanza *,
			    const char *ns, const char *name);
/* i-th child element (text skipped), or NULL. Borrowed. */
struct tern_stanza	*tern_stanza_element(const struct tern_stanza *,
			    size_t i);
size_t			 tern_stanza_nelements(const struct tern_stanza *);
char			*tern_stanza_text(const struct tern_stanza *);
struct tern_stanza	*tern_stanza_reply(const struct tern_stanza *);
struct tern_stanza	*tern_stanza_error_reply(const struct tern_stanza *,
			    const char *type, const char *condition,
			    const char *text);
/* Serialized size in bytes (XML), for quotas. */
size_t			 tern_stanza_size(const struct tern_stanza *);
/* XML text of the stanza (caller frees), and back; NULL if invalid. */
char			*tern_stanza_to_xml(const struct tern_stanza *);
struct tern_stanza	*tern_stanza_from_xml(const char *, size_t);

/* JIDs: prepared strings; NULL when invalid.  Caller frees. */
char		*tern_jid_prep(const char *jid);	/* full, prepared */
char		*tern_jid_bare(const char *jid);	/* bare, prepared */
/* Splits a prepared JID into freshly allocated parts (NULL if absent). */
int		 tern_jid_split(const char *jid, char **node, char **domain,
		    char **resource);

/* Routing. */
/* Routes st (borrowed) as the router would: from/to must be set. */
void		 tern_route(struct tern_stanza *);
/* Sends st (borrowed) to one session as is. */
void		 tern_session_send(struct tern_session *,
		    const struct tern_stanza *);
/* Sends st (borrowed) back to whoever sent the event's stanza. */
void		 tern_reply(struct tern_event *, const struct tern_stanza *);
/*
 * Answers the event's stanza with an error (never an error to an error).
 * internal-server-error right after a store write failed for lack of
 * space (store_map_size reached, disk full) goes out as
 * resource-constraint, type wait, saying the storage is full.
 */
void		 tern_reply_error(struct tern_event *, const char *type,
		    const char *condition, const char *text);
/* Fires an event on a host; TERN_DONE if a handler took it. */
int		 tern_fire(struct tern_host *, const char *name,
		    struct tern_event *);

/* Hosts and sessions. */
const char	*tern_host_name(const struct tern_host *);
struct tern_host *tern_host_find(const char *domain);
/* The disco features (account: those on accounts) of enabled modules. */
void		 tern_host_features(const struct tern_host *, int account,
		    void (*fn)(const char *, void *), void *arg);
void		 tern_host_identities(const struct tern_host *,
		    void (*fn)(const struct tern_identity *, void *),
		    void *arg);
/* Whether a module is enabled on the host. */
int		 tern_host_has_module(const struct tern_host *,
		    const char *module);
const char	*tern_session_jid(const struct tern_session *);	/* full */
const char	*tern_session_bare(const struct tern_session *);
const char	*tern_session_user(const struct tern_session *);
const char	*tern_session_resource(const struct tern_session *);
struct tern_host *tern_session_host(const struct tern_session *);
int		 tern_session_available(const struct tern_session *);
int		 tern_session_priority(const struct tern_session *);
/* Seconds since the session last sent anything. */
unsigned	 tern_session_idle(const struct tern_session *);
/* The module's data slot on a session (freed by session_free). */
void		*tern_session_data(const struct tern_session *,
		    const struct tern_module *);
void		 tern_session_set_data(struct tern_session *,
		    const struct tern_module *, void *);
/* Calls fn for every bound session of the host (fn may close it). */
void		 tern_host_each_session(struct tern_host *,
		    void (*fn)(struct tern_session *, void *), void *arg);
/*
 * The IP address of whoever sent the event's stanza (a local session or
 * a stream not yet authenticated), or NULL if unknown.
 */
const char	*tern_event_address(const struct tern_event *);
/* The sessions of an account, first resource or NULL; then _next. */
struct tern_session *tern_sessions_first(const char *host, const char *user);
struct tern_session *tern_sessions_next(struct tern_session *);
/* Whether an account exists: 1, 0, or -1 on a storage error. */
int		 tern_user_exists(const char *host, const char *user);
/*
 * Account changes (XEP-0077): 0, 1 (exists / no such user), 2 (the
 * password is refused by SASLprep, RFC 4013), -1 (storage error).
 */
int		 tern_user_create(const char *host, const char *user,
		    const char *password);
int		 tern_user_set_password(const char *host, const char *user,
		    const char *password);
/* Deletes the account and all module data, fires user-deleted. */
int		 tern_user_delete(const char *host, const char *user);
/* Closes a session with a stream error (e.g. connection-timeout). */
void		 tern_session_close(struct tern_session *, const char *cond,
		    const char *text);

/*
 * Storage: keyval, one value per (store, host, user, key).  get: 0 and a
 * copy (NUL-terminated, caller frees), 1 absent, -1 error.  put/del: 0,
 * or -1 after logging; del returns 1 if absent.  Writes are durable when
 * they return 0.
 */
int	tern_kv_get(const char *store, const char *host, const char *user,
	    const char *key, void **val, size_t *len);
int	tern_kv_put(const char *store, const char *host, const char *user,
	    const char *key, const void *val, size_t len);
int	tern_kv_del(const char *store, const char *host, const char *user,
	    const char *key);
/*
 * Several values in one transaction, so one disk sync: for records a
 * module gathers in memory and writes together (all or none; 0 or -1).
 */
struct tern_kv {
	const char	*host;
	const char	*user;
	const char	*key;
	const void	*val;
	size_t		 len;
};
int	tern_kv_put_many(const char *store, const struct tern_kv *items,
	    size_t n);
/* Every key of one user, in key order: fn returns 0 to go on. */
int	tern_kv_each(const char *store, const char *host, const char *user,
	    int (*fn)(const char *key, const void *val, size_t len,
	    void *arg), void *arg);
int	tern_kv_del_user(const char *store, const char *host,
	    const char *user);

/*
 * Storage: archives, entries in time order per (store, host, user), for
 * histories and queues.  when: microseconds since the epoch (tern_now_us).
 * An id (TERN_ARCHIVE_ID_LEN with its NUL) names one entry and orders
 * like it.  Account deletion removes archives listed in .stores too.
 */
#define TERN_ARCHIVE_ID_LEN	25

struct tern_archive_range {
	uint64_t	 start;		/* first time, inclusive (0: any) */
	uint64_t	 end;		/* last time, inclusive (0: any) */
	const char	*after;		/* only entries after this id */
	const char	*before;	/* only entries before this id */
	size_t		 limit;		/* at most this many (0: all) */
	int		 reverse;	/* newest first */
};

int	tern_archive_append(const char *store, const char *host,
	    const char *user, uint64_t when, const void *val, size_t len,
	    char id[TERN_ARCHIVE_ID_LEN]);
/* fn per entry in range order; fn returns 1 to stop.  0 or -1. */
int	tern_archive_query(const char *store, const char *host,
	    const char *user, const struct tern_archive_range *,
	    int (*fn)(const char *id, uint64_t when, const void *val,
	    size_t len, void *arg), void *arg);
/* 0 deleted, 1 absent, -1 error. */
int	tern_archive_delete(const char *store, const char *host,
	    const char *user, const char *id);
uint64_t tern_now_us(void);

/* Timers: fn(arg) after sec seconds (repeat: every sec seconds). */
struct tern_timer;
struct tern_timer *tern_timer_add(unsigned sec, int repeat,
		    void (*fn)(void *), void *arg);
void		 tern_timer_cancel(struct tern_timer *);
uint64_t	 tern_now(void);		/* seconds since the epoch */

/* Logging (levels as in tern.conf: 0 error .. 3 debug). */
#define TERN_LOG_ERROR	0
#define TERN_LOG_WARN	1
#define TERN_LOG_INFO	2
#define TERN_LOG_DEBUG	3
void	tern_log(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
