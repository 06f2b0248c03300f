/*
 * XEP-0077 In-Band Registration (jabber:iq:register).
 *
 * Account creation on a stream that is not authenticated yet is off
 * unless register_allow is set; the core only passes such iqs on over
 * TLS (or on the loopback with allow_plaintext_loopback).  When it is
 * on, the host advertises <register/> in the stream features, answers
 * the iq get with the fields (plain and as a XEP-0004 form) and creates
 * the account on the iq set, at most one per address (IPv6: per /64)
 * every register_interval.  When it is off, those iqs get
 * <service-unavailable/> (XEP-0077 3.1).
 *
 * Logged-in users may always change their password (3.3) and remove
 * their account (3.2): the result goes out first, then the account and
 * its module data are deleted and every session of the account ends
 * with a <not-authorized/> stream error, as 3.2 says.
 *
 * Ownership: the table of recent registrations lives in the host's conf
 * struct, allocated by init and freed by fini.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#define NS_REGISTER	"jabber:iq:register"
#define NS_FEATURE	"http://jabber.org/features/iq-register"
#define NS_DATA		"jabber:x:data"
#define ADDR_MAX	64	/* an address or "prefix/64" */

#define INSTRUCTIONS \
	"Choose a username and password for use with this service."
#define REGISTERED \
	"You are registered. Send a new password to change it, or " \
	"<remove/> to delete the account."

/* A registration an address made recently. */
struct recent {
	char		addr[ADDR_MAX];
	uint64_t	when;		/* 0: free slot */
};

struct register_conf {
	int		 allow;		/* register_allow */
	unsigned	 interval;	/* register_interval; 0: no limit */
	unsigned	 naddrs;	/* register_addresses */
	struct recent	*recent;	/* naddrs slots, not a directive */
};

/* What a jabber:iq:register set asks for. */
struct request {
	char	*username;	/* NULL when absent */
	char	*password;
	int	 remove;
	size_t	 nother;	/* other elements besides <remove/> */
};

static void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n, size)) == NULL) {
		tern_log(TERN_LOG_ERROR, "register: out of memory");
		abort();
	}
	return p;
}

/* Clears a secret before it is freed (volatile: not optimized away). */
static void
wipe_free(char *s)
{
	volatile char	*p = s;

	if (s == NULL)
		return;
	while (*p != '\0')
		*p++ = '\0';
	free(s);
}

static void
reply_result(struct tern_event *ev)
{
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_reply(ev, r);
	tern_stanza_unref(r);
}

/* The value of a submitted XEP-0004 form field, or NULL. */
static char *
form_value(const struct tern_stanza *x, const char *var)
{
	const struct tern_stanza	*f, *v;
	const char			*name;
	size_t				 i;

	for (i = 0; (f = tern_stanza_element(x, i)) != NULL; i++) {
		name = tern_stanza_attr(f, "var");
		if (strcmp(tern_stanza_name(f), "field") != 0 ||
		    name == NULL || strcmp(name, var) != 0)
			continue;
		if ((v = tern_stanza_child(f, NS_DATA, "value")) == NULL)
			return NULL;
		return tern_stanza_text(v);
	}
	return NULL;
}

/* The text of a child of the query, or NULL. */
static char *
field_text(const struct tern_stanza *q, const char *name)
{
	const struct tern_stanza	*el;

	if ((el = tern_stanza_child(q, NS_REGISTER, name)) == NULL)
		return NULL;
	return tern_stanza_text(el);
}

/* XEP-0077 5: a submitted form takes precedence over the plain fields. */
static void
parse_request(const struct tern_stanza *iq, struct request *rq)
{
	const struct tern_stanza	*q, *x;

	memset(rq, 0, sizeof(*rq));
	q = tern_stanza_child(iq, NS_REGISTER, "query");
	rq->remove = tern_stanza_child(q, NS_REGISTER, "remove") != NULL;
	rq->nother = tern_stanza_nelements(q) - (rq->remove ? 1 : 0);
	if ((x = tern_stanza_child(q, NS_DATA, "x")) != NULL) {
		rq->username = form_value(x, "username");
		rq->password = form_value(x, "password");
	} else {
		rq->username = field_text(q, "username");
		rq->password = field_text(q, "password");
	}
}

static void
request_free(struct request *rq)
{
	free(rq->username);
	wipe_free(rq->password);
}

/*
 * The prepared localpart of username on host, or NULL if it is not a
 * valid one (caller frees).
 */
static char *
prep_username(const char *username, const char *host)
{
	char	*jid, *prep, *node = NULL, *domain = NULL, *res = NULL;
	int	 ok;

	if (username == NULL || *username == '\0')
		return NULL;
	if (asprintf(&jid, "%s@%s", username, host) == -1) {
		tern_log(TERN_LOG_ERROR, "register: out of memory");
		abort();
	}
	prep = tern_jid_prep(jid);
	free(jid);
	if (prep == NULL)
		return NULL;
	ok = tern_jid_split(prep, &node, &domain, &res) == 0 &&
	    node != NULL && res == NULL && strcmp(domain, host) == 0;
	free(prep);
	free(domain);
	free(res);
	if (!ok) {
		free(node);
		return NULL;
	}
	return node;
}

/*
 * The throttling key of an address: IPv4 as is (also when mapped into
 * IPv6), IPv6 by its /64, which one subscriber usually holds whole.
 */
static void
addr_key(const char *addr, char *key, size_t size)
{
	struct in6_addr	a6;
	char		buf[INET6_ADDRSTRLEN];

	snprintf(key, size, "%s", addr);
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof(buf)) !=
		    NULL)
			snprintf(key, size, "%s", buf);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	if (inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) != NULL)
		snprintf(key, size, "%s/64", buf);
}

/* Whether key registered an account less than interval seconds ago. */
static int
throttled(const struct register_conf *c, const char *key, uint64_t now)
{
	unsigned	i;

	if (c->interval == 0)
		return 0;
	for (i = 0; i < c->naddrs; i++)
		if (c->recent[i].when != 0 &&
		    now - c->recent[i].when < c->interval &&
		    strcmp(c->recent[i].addr, key) == 0)
			return 1;
	return 0;
}

/* Notes a registration: reuses key's slot, else a free or the oldest. */
static void
remember(struct register_conf *c, const char *key, uint64_t now)
{
	struct recent	*slot = &c->recent[0];
	unsigned	 i;

	if (c->interval == 0)
		return;
	for (i = 0; i < c->naddrs; i++) {
		if (strcmp(c->recent[i].addr, key) == 0) {
			slot = &c->recent[i];
			break;
		}
		if (c->recent[i].when < slot->when)
			slot = &c->recent[i];
	}
	snprintf(slot->addr, sizeof(slot->addr), "%s", key);
	slot->when = now != 0 ? now : 1;
}

/*
 * Answers a failed account write: rc 2 from tern_user_create/_set_password
 * is a password SASLprep refuses, -1 a storage error.
 */
static void
reply_write_failed(struct tern_event *ev, int rc)
{
	if (rc == 2)
		tern_reply_error(ev, "modify", "not-acceptable",
		    "The password is not acceptable (characters that "
		    "RFC 4013 prohibits)");
	else
		tern_reply_error(ev, "wait", "internal-server-error",
		    "Storage error");
}

static int
stream_features(struct tern_event *ev, void *conf)
{
	const struct register_conf	*c = conf;

	if (c->allow && !ev->authenticated)
		tern_stanza_add_child(ev->features, NS_FEATURE, "register");
	return TERN_PASS;
}

/* Adds a XEP-0004 text field to a form. */
static void
form_field(struct tern_stanza *x, const char *type, const char *var,
    const char *label, const char *value)
{
	struct tern_stanza	*f = tern_stanza_add_child(x, NS_DATA,
	    "field");

	tern_stanza_set_attr(f, "type", type);
	tern_stanza_set_attr(f, "var", var);
	if (label != NULL)
		tern_stanza_set_attr(f, "label", label);
	if (value != NULL)
		tern_stanza_add_text_child(f, NS_DATA, "value", value);
	else
		tern_stanza_add_child(f, NS_DATA, "required");
}

static int
unauth_get(struct tern_event *ev, void *conf)
{
	const struct register_conf	*c = conf;
	struct tern_stanza		*r, *q, *x;

	if (!c->allow) {
		tern_reply_error(ev, "cancel", "service-unavailable",
		    "In-band registration is disabled on this server");
		return TERN_DONE;
	}
	r = tern_stanza_reply(ev->stanza);
	q = tern_stanza_add_child(r, NS_REGISTER, "query");
	tern_stanza_add_text_child(q, NS_REGISTER, "instructions",
	    INSTRUCTIONS);
	tern_stanza_add_child(q, NS_REGISTER, "username");
	tern_stanza_add_child(q, NS_REGISTER, "password");
	x = tern_stanza_add_child(q, NS_DATA, "x");
	tern_stanza_set_attr(x, "type", "form");
	tern_stanza_add_text_child(x, NS_DATA, "instructions", INSTRUCTIONS);
	form_field(x, "hidden", "FORM_TYPE", NULL, NS_REGISTER);
	form_field(x, "text-single", "username", "Username", NULL);
	form_field(x, "text-private", "password", "Password", NULL);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

/* Creates the account of a valid request; answers either way. */
static void
create_account(struct tern_event *ev, struct register_conf *c,
    const char *user, const char *password)
{
	const char	*host = tern_host_name(ev->host);
	const char	*addr = tern_event_address(ev);
	char		 key[ADDR_MAX];
	uint64_t	 now = tern_now();
	int		 rc;

	addr_key(addr != NULL ? addr : "", key, sizeof(key));
	if (addr != NULL && throttled(c, key, now)) {
		tern_log(TERN_LOG_INFO, "register: %s may not register %s@%s "
		    "yet (register_interval)", addr, user, host);
		tern_reply_error(ev, "wait", "policy-violation",
		    "Too many registrations from this address; try again "
		    "later");
		return;
	}
	if ((rc = tern_user_exists(host, user)) == 0)
		rc = tern_user_create(host, user, password);
	if (rc == 1) {
		tern_reply_error(ev, "cancel", "conflict",
		    "The requested username already exists");
		return;
	}
	if (rc == -1 || rc == 2) {
		reply_write_failed(ev, rc);
		return;
	}
	if (addr != NULL)
		remember(c, key, now);
	tern_log(TERN_LOG_INFO, "register: created %s@%s from %s", user,
	    host, addr != NULL ? addr : "an unknown address");
	reply_result(ev);
}

static int
unauth_set(struct tern_event *ev, void *conf)
{
	struct register_conf	*c = conf;
	struct request		 rq;
	char			*user;

	if (!c->allow) {
		tern_reply_error(ev, "cancel", "service-unavailable",
		    "In-band registration is disabled on this server");
		return TERN_DONE;
	}
	parse_request(ev->stanza, &rq);
	if (rq.remove)
		tern_reply_error(ev, "auth", "registration-required",
		    "Log in to remove an account");
	else if (rq.username == NULL || *rq.username == '\0' ||
	    rq.password == NULL || *rq.password == '\0')
		/* XEP-0077 3.1: missing or empty fields. */
		tern_reply_error(ev, "modify", "not-acceptable",
		    "A username and a password are required");
	else if ((user = prep_username(rq.username,
	    tern_host_name(ev->host))) == NULL)
		tern_reply_error(ev, "modify", "not-acceptable",
		    "The requested username is invalid");
	else {
		create_account(ev, c, user, rq.password);
		free(user);
	}
	request_free(&rq);
	return TERN_DONE;
}

/*
 * Whether the sender may manage the account the iq is about: a local
 * user of this host, writing to the host or to its own bare JID.  Else
 * answers (0).
 */
static int
check_account(struct tern_event *ev)
{
	if (ev->origin == NULL || tern_session_host(ev->origin) != ev->host) {
		tern_reply_error(ev, "cancel", "service-unavailable", NULL);
		return 0;
	}
	if (ev->to_node != NULL &&
	    strcmp(tern_session_user(ev->origin), ev->to_node) != 0) {
		tern_reply_error(ev, "auth", "forbidden",
		    "Only the account itself may manage its registration");
		return 0;
	}
	return 1;
}

static int
account_get(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r, *q;

	if (!check_account(ev))
		return TERN_DONE;
	r = tern_stanza_reply(ev->stanza);
	q = tern_stanza_add_child(r, NS_REGISTER, "query");
	tern_stanza_add_child(q, NS_REGISTER, "registered");
	tern_stanza_add_text_child(q, NS_REGISTER, "instructions",
	    REGISTERED);
	tern_stanza_add_text_child(q, NS_REGISTER, "username",
	    tern_session_user(ev->origin));
	tern_stanza_add_child(q, NS_REGISTER, "password");
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

/* Ends every session of an account (collected first: closing unbinds). */
static void
close_sessions(const char *host, const char *user)
{
	struct tern_session	*s, **v;
	size_t			 i, n = 0;

	for (s = tern_sessions_first(host, user); s != NULL;
	    s = tern_sessions_next(s))
		n++;
	if (n == 0)
		return;
	v = xcalloc(n, sizeof(*v));
	n = 0;
	for (s = tern_sessions_first(host, user); s != NULL;
	    s = tern_sessions_next(s))
		v[n++] = s;
	for (i = 0; i < n; i++)
		tern_session_close(v[i], "not-authorized",
		    "The account has been removed");
	free(v);
}

/* XEP-0077 3.2: remove the sender's account. */
static void
remove_account(struct tern_event *ev, const struct request *rq)
{
	const char	*host = tern_host_name(ev->host);
	char		*user;
	int		 rc;

	if (rq->nother != 0) {
		tern_reply_error(ev, "modify", "bad-request",
		    "<remove/> must be the only element of the query");
		return;
	}
	/* The session's strings go with it: keep a copy. */
	if ((user = strdup(tern_session_user(ev->origin))) == NULL) {
		tern_log(TERN_LOG_ERROR, "register: out of memory");
		abort();
	}
	if ((rc = tern_user_delete(host, user)) != 0)
		tern_reply_error(ev, rc == 1 ? "auth" : "wait", rc == 1 ?
		    "registration-required" : "internal-server-error",
		    rc == 1 ? NULL : "Storage error");
	else {
		tern_log(TERN_LOG_INFO, "register: %s@%s removed the account",
		    user, host);
		reply_result(ev);
		close_sessions(host, user);
	}
	free(user);
}

/* XEP-0077 3.3: change the sender's password. */
static void
change_password(struct tern_event *ev, const struct request *rq)
{
	const char	*host = tern_host_name(ev->host);
	const char	*own = tern_session_user(ev->origin);
	char		*user;
	int		 rc;

	if (rq->username == NULL || *rq->username == '\0' ||
	    rq->password == NULL || *rq->password == '\0') {
		/* An empty password keeps the old one (3.3). */
		tern_reply_error(ev, "modify", "bad-request",
		    "Send your username and the new password");
		return;
	}
	/* The localpart, or the bare JID as some clients send it. */
	if ((user = prep_username(rq->username, host)) == NULL &&
	    strchr(rq->username, '@') != NULL)
		user = tern_jid_bare(rq->username);
	if (user == NULL || (strcmp(user, own) != 0 &&
	    strcmp(user, tern_session_bare(ev->origin)) != 0)) {
		free(user);
		tern_reply_error(ev, "auth", "forbidden",
		    "The username is not the one of this account");
		return;
	}
	free(user);
	if ((rc = tern_user_set_password(host, own, rq->password)) == 0) {
		tern_log(TERN_LOG_INFO, "register: %s@%s changed the "
		    "password", own, host);
		reply_result(ev);
	} else if (rc == 1)
		tern_reply_error(ev, "auth", "registration-required", NULL);
	else
		reply_write_failed(ev, rc);
}

static int
account_set(struct tern_event *ev, void *conf)
{
	struct request	rq;

	if (!check_account(ev))
		return TERN_DONE;
	parse_request(ev->stanza, &rq);
	if (rq.remove)
		remove_account(ev, &rq);
	else if (rq.username == NULL && rq.password == NULL)
		tern_reply_error(ev, "modify", "bad-request",
		    "Send a new password or <remove/>");
	else
		change_password(ev, &rq);
	request_free(&rq);
	return TERN_DONE;
}

static int
register_init(struct tern_host *h, void *conf)
{
	struct register_conf	*c = conf;

	c->recent = xcalloc(c->naddrs, sizeof(*c->recent));
	return 0;
}

static void
register_fini(struct tern_host *h, void *conf)
{
	struct register_conf	*c = conf;

	free(c->recent);
	c->recent = NULL;
}

static const char *const features[] = { NS_REGISTER, NULL };

#define Q	NS_REGISTER ":query"
static const struct tern_hook hooks[] = {
	{ "stream-features", TERN_PRIO_DEFAULT, stream_features },
	{ "iq-get/unauthenticated/" Q, TERN_PRIO_DEFAULT, unauth_get },
	{ "iq-set/unauthenticated/" Q, TERN_PRIO_DEFAULT, unauth_set },
	{ "iq-get/host/" Q, TERN_PRIO_DEFAULT, account_get },
	{ "iq-get/bare/" Q, TERN_PRIO_DEFAULT, account_get },
	{ "iq-set/host/" Q, TERN_PRIO_DEFAULT, account_set },
	{ "iq-set/bare/" Q, TERN_PRIO_DEFAULT, account_set },
	{ NULL, 0, NULL }
};
#undef Q

static const struct tern_directive directives[] = {
	{ "register_allow", TERN_CONF_BOOL, offsetof(struct register_conf,
	    allow), 0, 1, "no", NULL },
	{ "register_interval", TERN_CONF_TIME, offsetof(struct register_conf,
	    interval), 0, 86400, "60s", NULL },
	{ "register_addresses", TERN_CONF_INT, offsetof(struct register_conf,
	    naddrs), 1, 65536, "1024", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_register = {
	.abi = TERN_MODULE_ABI,
	.name = "register",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct register_conf),
	.hooks = hooks,
	.init = register_init,
	.fini = register_fini,
};
