/*
 * The public module API (include/tern/module.h) over the core.  Each
 * tern_* function is a thin, checked wrapper: struct tern_stanza is
 * struct stanza, struct tern_session is struct session, struct tern_host
 * is module.c's host.  Modules never see core headers.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tern/module.h"

#include "account.h"
#include "codec.h"
#include "conf.h"
#include "jid.h"
#include "log.h"
#include "loop.h"
#include "module.h"
#include "router.h"
#include "session.h"
#include "stanza.h"
#include "store.h"
#include "stream.h"
#include "xmalloc.h"

#define ST(x)	((struct stanza *)(x))
#define CST(x)	((const struct stanza *)(x))
#define TS(x)	((struct tern_stanza *)(x))
#define SE(x)	((struct session *)(x))
#define CSE(x)	((const struct session *)(x))

struct tern_stanza *
tern_stanza_new(const char *ns, const char *name)
{
	return TS(stanza_new(ns, name));
}

struct tern_stanza *
tern_stanza_ref(struct tern_stanza *st)
{
	return TS(stanza_ref(ST(st)));
}

void
tern_stanza_unref(struct tern_stanza *st)
{
	if (st != NULL)
		stanza_unref(ST(st));
}

struct tern_stanza *
tern_stanza_copy(const struct tern_stanza *st)
{
	return TS(stanza_copy(CST(st)));
}

const char *
tern_stanza_name(const struct tern_stanza *st)
{
	return CST(st)->name;
}

const char *
tern_stanza_ns(const struct tern_stanza *st)
{
	return CST(st)->ns;
}

const char *
tern_stanza_attr(const struct tern_stanza *st, const char *name)
{
	return stanza_attr(CST(st), name);
}

void
tern_stanza_set_attr(struct tern_stanza *st, const char *name,
    const char *value)
{
	stanza_set_attr(ST(st), name, value);
}

struct tern_stanza *
tern_stanza_add_child(struct tern_stanza *st, const char *ns,
    const char *name)
{
	return TS(stanza_add_child(ST(st), ns, name));
}

void
tern_stanza_add_child_take(struct tern_stanza *st, struct tern_stanza *c)
{
	stanza_add_child_take(ST(st), ST(c));
}

struct tern_stanza *
tern_stanza_add_text_child(struct tern_stanza *st, const char *ns,
    const char *name, const char *text)
{
	return TS(stanza_add_text_child(ST(st), ns, name, text));
}

void
tern_stanza_add_text(struct tern_stanza *st, const char *text, size_t len)
{
	stanza_add_text(ST(st), text, len);
}

void
tern_stanza_remove_children(struct tern_stanza *st, const char *ns,
    const char *name)
{
	stanza_remove_children(ST(st), ns, name);
}

struct tern_stanza *
tern_stanza_child(const struct tern_stanza *st, const char *ns,
    const char *name)
{
	return TS(stanza_child(CST(st), ns, name));
}

struct tern_stanza *
tern_stanza_element(const struct tern_stanza *st, size_t i)
{
	const struct stanza	*s = CST(st);
	size_t			 k;

	for (k = 0; k < s->nkids; k++)
		if (s->kids[k].el != NULL && i-- == 0)
			return TS(s->kids[k].el);
	return NULL;
}

size_t
tern_stanza_nelements(const struct tern_stanza *st)
{
	return stanza_nelements(CST(st));
}

char *
tern_stanza_text(const struct tern_stanza *st)
{
	return stanza_text(CST(st));
}

struct tern_stanza *
tern_stanza_reply(const struct tern_stanza *st)
{
	return TS(stanza_reply(CST(st)));
}

struct tern_stanza *
tern_stanza_error_reply(const struct tern_stanza *st, const char *type,
    const char *cond, const char *text)
{
	return TS(stanza_error_reply(CST(st), type, cond, text));
}

char *
tern_stanza_to_xml(const struct tern_stanza *st)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*out;

	if (b == NULL)
		fatalx("evbuffer_new");
	codec_xml_serialize(CST(st), b, STANZA_NS_CLIENT);
	len = evbuffer_get_length(b);
	out = xmalloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}

size_t
tern_stanza_size(const struct tern_stanza *st)
{
	char	*x = tern_stanza_to_xml(st);
	size_t	 n = strlen(x);

	free(x);
	return n;
}

struct tern_stanza *
tern_stanza_from_xml(const char *xml, size_t len)
{
	return TS(codec_xml_parse_one(xml, len));
}

char *
tern_jid_prep(const char *s)
{
	struct jid	*j = jid_parse(s);
	char		*out;

	if (j == NULL)
		return NULL;
	out = xstrdup(j->full);
	jid_free(j);
	return out;
}

char *
tern_jid_bare(const char *s)
{
	struct jid	*j = jid_parse(s);
	char		*out;

	if (j == NULL)
		return NULL;
	out = xstrdup(j->bare);
	jid_free(j);
	return out;
}

int
tern_jid_split(const char *s, char **node, char **domain, char **resource)
{
	struct jid	*j = jid_parse(s);

	if (j == NULL)
		return -1;
	if (node != NULL)
		*node = j->node ? xstrdup(j->node) : NULL;
	if (domain != NULL)
		*domain = xstrdup(j->domain);
	if (resource != NULL)
		*resource = j->resource ? xstrdup(j->resource) : NULL;
	jid_free(j);
	return 0;
}

void
tern_route(struct tern_stanza *st)
{
	router_route(ST(st));
}

void
tern_session_send(struct tern_session *s, const struct tern_stanza *st)
{
	session_send(SE(s), CST(st));
}

void
tern_reply(struct tern_event *ev, const struct tern_stanza *st)
{
	if (ev->priv != NULL)		/* a stream not yet authenticated */
		stream_send(ev->priv, CST(st));
	else
		router_route(ST(st));
}

void
tern_reply_error(struct tern_event *ev, const char *type, const char *cond,
    const char *text)
{
	struct stanza	*e;

	/* A store that ran out of space is a resource, not a bug. */
	if (strcmp(cond, "internal-server-error") == 0 && store_full()) {
		type = "wait";
		cond = "resource-constraint";
		text = "The server's storage is full; try again later";
	}
	if (ev->stanza == NULL ||
	    (e = stanza_error_reply(CST(ev->stanza), type, cond, text)) ==
	    NULL)
		return;
	tern_reply(ev, (struct tern_stanza *)e);
	stanza_unref(e);
}

int
tern_fire(struct tern_host *h, const char *name, struct tern_event *ev)
{
	ev->host = h;
	return hook_fire(&h->hooks, name, ev);
}

const char *
tern_host_name(const struct tern_host *h)
{
	return h->name;
}

struct tern_host *
tern_host_find(const char *domain)
{
	return module_host(domain);
}

int
tern_host_has_module(const struct tern_host *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->nmods; i++)
		if (strcmp(h->mods[i].mod->name, name) == 0)
			return 1;
	return 0;
}

void
tern_host_features(const struct tern_host *h, int account,
    void (*fn)(const char *, void *), void *arg)
{
	const char *const	*f;
	size_t			 i;

	for (i = 0; i < h->nmods; i++)
		for (f = account ? h->mods[i].mod->account_features :
		    h->mods[i].mod->features; f != NULL && *f != NULL; f++)
			fn(*f, arg);
}

void
tern_host_identities(const struct tern_host *h,
    void (*fn)(const struct tern_identity *, void *), void *arg)
{
	const struct tern_identity	*id;
	size_t				 i;

	for (i = 0; i < h->nmods; i++)
		for (id = h->mods[i].mod->identities;
		    id != NULL && id->category != NULL; id++)
			fn(id, arg);
}

const char *
tern_session_jid(const struct tern_session *s)
{
	return CSE(s)->jid->full;
}

const char *
tern_session_bare(const struct tern_session *s)
{
	return CSE(s)->jid->bare;
}

const char *
tern_session_user(const struct tern_session *s)
{
	return CSE(s)->jid->node;
}

const char *
tern_session_resource(const struct tern_session *s)
{
	return CSE(s)->jid->resource;
}

struct tern_host *
tern_session_host(const struct tern_session *s)
{
	return module_host(CSE(s)->jid->domain);
}

int
tern_session_available(const struct tern_session *s)
{
	return CSE(s)->available;
}

int
tern_session_priority(const struct tern_session *s)
{
	return CSE(s)->priority;
}

unsigned
tern_session_idle(const struct tern_session *s)
{
	long long	d = (long long)time(NULL) - CSE(s)->last_active;

	return d > 0 ? (unsigned)d : 0;
}

void *
tern_session_data(const struct tern_session *s, const struct tern_module *m)
{
	int	i = module_index(m);

	if (i < 0 || (size_t)i >= CSE(s)->nslots)
		return NULL;
	return CSE(s)->slots[i];
}

void
tern_session_set_data(struct tern_session *ts, const struct tern_module *m,
    void *data)
{
	struct session	*s = SE(ts);
	int		 i = module_index(m);

	if (i < 0)
		fatalx("tern_session_set_data: module %s is not registered",
		    m->name);
	if ((size_t)i >= s->nslots) {
		s->slots = xreallocarray(s->slots, module_count(),
		    sizeof(*s->slots));
		memset(s->slots + s->nslots, 0,
		    (module_count() - s->nslots) * sizeof(*s->slots));
		s->nslots = module_count();
	}
	s->slots[i] = data;
}

struct each_arg {
	const char	*domain;
	void		(*fn)(struct tern_session *, void *);
	void		*arg;
};

static void
each_cb(struct session *s, void *arg)
{
	struct each_arg	*ea = arg;

	if (strcmp(s->jid->domain, ea->domain) == 0)
		ea->fn((struct tern_session *)s, ea->arg);
}

void
tern_host_each_session(struct tern_host *h,
    void (*fn)(struct tern_session *, void *), void *arg)
{
	struct each_arg	ea = { h->name, fn, arg };

	session_each(each_cb, &ea);
}

const char *
tern_event_address(const struct tern_event *ev)
{
	const struct session	*s = CSE(ev->origin);

	if (ev->priv != NULL)
		return stream_address(ev->priv);
	if (s != NULL && s->stream != NULL)
		return stream_address(s->stream);
	return NULL;
}

struct tern_session *
tern_sessions_first(const char *host, const char *user)
{
	char		*bare;
	struct session	*s;

	xasprintf(&bare, "%s@%s", user, host);
	s = session_find_bare(bare);
	free(bare);
	return (struct tern_session *)s;
}

struct tern_session *
tern_sessions_next(struct tern_session *s)
{
	return (struct tern_session *)SE(s)->next;
}

int
tern_user_exists(const char *host, const char *user)
{
	return account_exists(host, user);
}

int
tern_user_create(const char *host, const char *user, const char *password)
{
	if (!account_password_ok(password))
		return 2;
	return account_create(host, user, password,
	    loop_conf()->scram_iterations);
}

int
tern_user_set_password(const char *host, const char *user,
    const char *password)
{
	if (!account_password_ok(password))
		return 2;
	return account_set_password(host, user, password,
	    loop_conf()->scram_iterations);
}

int
tern_user_delete(const char *host, const char *user)
{
	struct tern_event	ev;
	int			rc;

	if ((rc = module_delete_user(host, user)) != 0)
		return rc;
	memset(&ev, 0, sizeof(ev));
	ev.user = user;
	module_fire(host, "user-deleted", &ev);
	return 0;
}

void
tern_session_close(struct tern_session *s, const char *cond,
    const char *text)
{
	if (SE(s)->stream != NULL)
		stream_error(SE(s)->stream, cond, text);
	else if (session_close_capture != NULL)	/* the module harness */
		session_close_capture(SE(s), cond);
}

int
tern_kv_get(const char *store, const char *host, const char *user,
    const char *key, void **val, size_t *len)
{
	return store_kv_get(store, host, user, key, val, len);
}

int
tern_kv_put(const char *store, const char *host, const char *user,
    const char *key, const void *val, size_t len)
{
	return store_kv_put(store, host, user, key, val, len);
}

/* Same layout: the public struct is the store's, field for field. */
_Static_assert(sizeof(struct tern_kv) == sizeof(struct store_kv),
    "struct tern_kv and struct store_kv differ");

int
tern_kv_put_many(const char *store, const struct tern_kv *items, size_t n)
{
	return store_kv_put_many(store, (const struct store_kv *)items, n);
}

int
tern_kv_del(const char *store, const char *host, const char *user,
    const char *key)
{
	return store_kv_del(store, host, user, key);
}

int
tern_kv_each(const char *store, const char *host, const char *user,
    int (*fn)(const char *, const void *, size_t, void *), void *arg)
{
	return store_kv_each_user(store, host, user, fn, arg);
}

int
tern_kv_del_user(const char *store, const char *host, const char *user)
{
	return store_kv_del_user(store, host, user);
}

int
tern_archive_append(const char *store, const char *host, const char *user,
    uint64_t when, const void *val, size_t len, char id[TERN_ARCHIVE_ID_LEN])
{
	return store_archive_append(store, host, user, when, val, len, id);
}

int
tern_archive_query(const char *store, const char *host, const char *user,
    const struct tern_archive_range *r,
    int (*fn)(const char *, uint64_t, const void *, size_t, void *),
    void *arg)
{
	struct store_range	q;

	q.start = r->start;
	q.end = r->end;
	q.after = r->after;
	q.before = r->before;
	q.limit = r->limit;
	q.reverse = r->reverse;
	return store_archive_query(store, host, user, &q, fn, arg);
}

int
tern_archive_delete(const char *store, const char *host, const char *user,
    const char *id)
{
	return store_archive_delete(store, host, user, id);
}

uint64_t
tern_now_us(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

struct tern_timer {
	struct event	*ev;
	void		(*fn)(void *);
	void		*arg;
	int		 repeat;
};

static void
timer_cb(int fd, short what, void *arg)
{
	struct tern_timer	*t = arg;

	t->fn(t->arg);
	if (!t->repeat) {
		event_free(t->ev);
		free(t);
	}
}

struct tern_timer *
tern_timer_add(unsigned sec, int repeat, void (*fn)(void *), void *arg)
{
	struct tern_timer	*t = xcalloc(1, sizeof(*t));
	struct timeval		 tv = { sec, 0 };

	t->fn = fn;
	t->arg = arg;
	t->repeat = repeat;
	t->ev = event_new(loop_base(), -1, repeat ? EV_PERSIST : 0, timer_cb,
	    t);
	if (t->ev == NULL)
		fatalx("tern_timer_add: event_new");
	evtimer_add(t->ev, &tv);
	return t;
}

void
tern_timer_cancel(struct tern_timer *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}

uint64_t
tern_now(void)
{
	return (uint64_t)time(NULL);
}

void
tern_log(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}
