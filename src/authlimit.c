/*
 * Failed logins per client address and per account (SASL brute force).
 *
 * Each key (an address as peer.c counts it, or "user@domain") has a
 * fixed window of auth_failure_window seconds.  Once its failures in a
 * window reach the limit, the key is throttled for one window: every
 * attempt is refused with temporary-auth-failure before any password is
 * checked (per address) or whatever the password was (per account, so
 * that a guess that happens to be right tells the attacker nothing).
 *
 * The log gets one line when a burst starts and one when it is over,
 * with the count refused meanwhile, never a line per attempt.  Entries
 * exist only for keys that failed recently; a sweep every few seconds
 * drops expired ones, and the table is capped (an attacker with many
 * addresses cannot grow it without bound: beyond the cap, new keys are
 * simply not tracked and the log says so once a minute).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "authlimit.h"
#include "conf.h"
#include "htab.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

#define SWEEP_EVERY	5	/* seconds */

struct authlimit {
	char		*key;
	int		 account;	/* key names an account */
	unsigned	 fails;		/* in the current window */
	time_t		 window;	/* its start */
	time_t		 until;		/* throttled until, or 0 */
	unsigned long	 refused;	/* attempts refused meanwhile */
};

static struct htab	 table;
static size_t		 nentries;
static struct event	*sweeper;
static time_t		 full_logged;

static time_t
now(void)
{
	return (time_t)(loop_now_ms() / 1000);
}

static const char *
what(const struct authlimit *a)
{
	return a->account ? "account" : "address";
}

static void
entry_free(struct authlimit *a)
{
	htab_del(&table, a->key);
	nentries--;
	free(a->key);
	free(a);
}

/* Ends a throttle whose time is up; logs the burst's summary. */
static void
lift(struct authlimit *a, time_t t)
{
	if (a->until == 0 || t < a->until)
		return;
	log_msg(LOG_LVL_WARN, "auth: %s %s: throttle lifted; %lu login "
	    "attempts refused meanwhile", what(a), a->key, a->refused);
	a->until = 0;
	a->refused = 0;
	a->fails = 0;
	a->window = t;
}

struct sweep {
	struct authlimit	**dead;
	size_t			  n, cap;
	time_t			  t;
	unsigned		  window;
};

static void
sweep_one(void *val, void *arg)
{
	struct authlimit	*a = val;
	struct sweep		*sw = arg;

	lift(a, sw->t);
	if (a->until == 0 && sw->t - a->window >= (time_t)sw->window) {
		if (sw->n == sw->cap) {
			sw->cap = sw->cap ? sw->cap * 2 : 64;
			sw->dead = xreallocarray(sw->dead, sw->cap,
			    sizeof(*sw->dead));
		}
		sw->dead[sw->n++] = a;
	}
}

static void
sweep(int fd, short ev, void *arg)
{
	struct sweep	sw = { .t = now(),
			    .window = loop_limits()->auth_fail_window };
	size_t		i;

	(void)fd;
	(void)ev;
	(void)arg;
	htab_each(&table, sweep_one, &sw);
	for (i = 0; i < sw.n; i++)
		entry_free(sw.dead[i]);
	free(sw.dead);
}

static void
start_sweeper(void)
{
	struct timeval	tv = { SWEEP_EVERY, 0 };

	if (sweeper != NULL)
		return;
	htab_init(&table);
	sweeper = event_new(loop_base(), -1, EV_PERSIST, sweep, NULL);
	event_add(sweeper, &tv);
}

static struct authlimit *
find(const char *key, int account, int create)
{
	struct authlimit	*a;
	time_t			 t;

	if (key == NULL || *key == '\0')
		return NULL;
	start_sweeper();
	if ((a = htab_get(&table, key)) != NULL || !create)
		return a;
	if (nentries >= AUTHLIMIT_MAX_ENTRIES) {
		t = now();
		if (t - full_logged >= 60) {
			log_msg(LOG_LVL_WARN, "auth: %zu addresses and "
			    "accounts with failed logins tracked; not "
			    "tracking more until some expire", nentries);
			full_logged = t;
		}
		return NULL;
	}
	a = xcalloc(1, sizeof(*a));
	a->key = xstrdup(key);
	a->account = account;
	a->window = now();
	htab_put(&table, a->key, a);
	nentries++;
	return a;
}

static unsigned
blocked(const char *key, int account)
{
	struct authlimit	*a;
	time_t			 t;

	if ((a = find(key, account, 0)) == NULL)
		return 0;
	t = now();
	lift(a, t);
	if (a->until == 0)
		return 0;
	a->refused++;
	return (unsigned)(a->until - t);
}

unsigned
authlimit_address_blocked(const char *address)
{
	if (loop_limits()->auth_fail_address == 0)
		return 0;
	return blocked(address, 0);
}

unsigned
authlimit_account_blocked(const char *account)
{
	if (loop_limits()->auth_fail_account == 0)
		return 0;
	return blocked(account, 1);
}

static void
failed(const char *key, int account, unsigned limit)
{
	unsigned		 window = loop_limits()->auth_fail_window;
	struct authlimit	*a;
	time_t			 t;

	if (limit == 0 || (a = find(key, account, 1)) == NULL)
		return;
	t = now();
	lift(a, t);
	if (a->until != 0)
		return;
	if (t - a->window >= (time_t)window) {
		a->window = t;
		a->fails = 0;
	}
	if (++a->fails < limit)
		return;
	a->until = t + window;
	log_msg(LOG_LVL_WARN, "auth: %s %s: %u failed logins within %us; "
	    "refusing its logins for %us (auth_failures_per_%s)", what(a),
	    a->key, a->fails, window, window, what(a));
}

void
authlimit_failed(const char *address, const char *account)
{
	const struct tern_limits *l = loop_limits();

	failed(address, 0, l->auth_fail_address);
	failed(account, 1, l->auth_fail_account);
}

size_t
authlimit_count(void)
{
	return nentries;
}

static void
free_one(void *val, void *arg)
{
	struct authlimit	*a = val;

	(void)arg;
	free(a->key);
	free(a);
}

void
authlimit_free(void)
{
	if (sweeper == NULL)
		return;
	event_free(sweeper);
	sweeper = NULL;
	htab_each(&table, free_one, NULL);
	htab_clear(&table);
	nentries = 0;
}
