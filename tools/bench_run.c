/*
 * tern-bench: a worker process.  It owns the connections of its share of
 * the accounts (account i when i % processes == worker; for messages,
 * pair p when p % processes == worker), runs the scenario on them and
 * reports to the parent over a pipe:
 *	ready UP FAILED		setup done, waiting for 'g'
 *	progress OK FAILED UP N	every second
 *	stat NAME VALUE / err REASON COUNT / hist INDEX COUNT / end
 * The parent writes 'g' to start the measured phase (for idle: to end
 * the hold and check every session).  Every phase is bounded by the
 * overall deadline; connections by their own setup and ping deadlines.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define NS_PER_S	1000000000ull
#define CHECK_TIMEOUT	30	/* idle: seconds for every ping to return */
#define ROSTER_WAIT	30	/* presence: seconds for the subscriptions */
#define CLOSE_WAIT	15	/* the end: seconds to wait for the closes */
#define ERR_MAX		64
#define HIST_SIZE	3776
#define MAX_BACKLOG	(4u << 20) /* open loop: bytes queued per sender */

enum phase { PH_SETUP, PH_READY, PH_RUN, PH_FINAL, PH_DONE };

struct pair {
	struct conn	*s, *r;
	char		 to[300];
	uint64_t	 next;		/* sequence of the next message sent */
	uint64_t	 expect;	/* next sequence the receiver expects */
	long		 inflight;
};

static struct event_base *base;
static FILE		*out;
static enum phase	 phase;
static struct conn	**conns;	/* by slot */
static long		*slot_acct;		/* account number by slot */
static unsigned char	*relog;		/* presence: slot logs in again */
static long		 nslots;
static long		*queue;		/* slots waiting to connect */
static long		 qhead, qlen;
static long		 inflight, conc;
static long		 n_ok, n_failed, n_lost, n_up, n_done, n_check;
static uint64_t		 n_sent, n_delivered, n_presence;
static struct pair	*pairs;
static long		 npairs, next_pair;
static uint64_t		 t_go, t_end, t_last, t_stop;
static struct rusage	 ru_go;
static int		 reported_ready;
static uint64_t		 hist[HIST_SIZE];
static uint64_t		 lat_max;
static struct {
	char	name[48];
	long	n;
} errs[ERR_MAX];
static struct event	*ev_tick, *ev_send, *ev_cmd;
static long		 wave_left;
static long		 n_incomplete;	/* presence setup: rosters to finish */
static uint64_t		 t_rosters;	/* presence setup: logins done */
static long		 n_repairs;	/* presence setup: requests repeated */
static uint64_t		 closing_until;	/* the end: ns to wait for closes */

static void	 done(void);
static void	 launch(void);
static void	 close_wait(evutil_socket_t, short, void *);

void
count_error(const char *reason)
{
	int	i;

	for (i = 0; i < ERR_MAX && errs[i].name[0] != '\0'; i++)
		if (strcmp(errs[i].name, reason) == 0)
			break;
	if (i == ERR_MAX)
		i = ERR_MAX - 1;	/* the last row collects the rest */
	if (errs[i].name[0] == '\0')
		snprintf(errs[i].name, sizeof(errs[i].name), "%s", reason);
	errs[i].n++;
}

static void
hist_add(uint64_t v)
{
	int		msb;
	unsigned	idx;

	if (v > lat_max)
		lat_max = v;
	if (v < 128)
		idx = (unsigned)v;
	else {
		msb = 63 - __builtin_clzll(v);
		idx = (unsigned)(msb - 5) * 64 + (unsigned)((v >> (msb - 6)) -
		    64);
	}
	hist[idx < HIST_SIZE ? idx : HIST_SIZE - 1]++;
}

static void
push(long slot)
{
	queue[(qhead + qlen) % nslots] = slot;
	qlen++;
}

static void
launch(void)
{
	struct conn	*c;
	long		 slot;

	while (inflight < conc && qlen > 0 && phase != PH_DONE) {
		slot = queue[qhead];
		qhead = (qhead + 1) % nslots;
		qlen--;
		c = conn_start(slot_acct[slot], slot, opt.sc == SC_REGISTER);
		if (c == NULL) {
			n_failed++;
			continue;
		}
		conns[slot] = c;
		inflight++;
	}
}

static void
report_ready(void)
{
	if (reported_ready)
		return;
	reported_ready = 1;
	phase = PH_READY;
	fprintf(out, "ready %ld %ld\n", n_up, n_failed);
	fflush(out);
}

/* Setup (login of every slot) over: idle and messages are ready. */
static void
setup_check(void)
{
	if (phase != PH_SETUP || qlen > 0 || inflight > 0)
		return;
	if (opt.sc == SC_IDLE || opt.sc == SC_MESSAGES)
		report_ready();
}

static void
send_ping(struct conn *c, const char *id)
{
	conn_printf(c, "<iq type='get' id='%s' to='%s'><ping xmlns='"
	    "urn:xmpp:ping'/></iq>", id, opt.domain);
}

/* --- presence: rings of mutual subscriptions ---------------------------- */

static long
ring_dist(long from, long to)
{
	return ((to - from) % opt.accounts + opt.accounts) % opt.accounts;
}

static void
send_presence_to(struct conn *c, long acct_no, const char *type)
{
	char	name[256];

	account_name(acct_no, name, sizeof(name));
	conn_printf(c, "<presence to='%s@%s' type='%s'/>", name, opt.domain,
	    type);
}

static void
presence_subscribe(struct conn *c)
{
	long	i = slot_acct[c->slot] - opt.first, d;

	for (d = 1; d <= opt.contacts / 2; d++)
		send_presence_to(c, opt.first + (i + d) % opt.accounts,
		    "subscribe");
}

/* An error stanza counts as KIND-error:condition. */
static void
count_stanza_error(struct conn *c, const char *kind)
{
	struct elem	*e = &c->el;

	snprintf(c->reason, sizeof(c->reason), "%s-error:%s", kind,
	    e->cond[0] ? e->cond : "unknown");
	count_error(c->reason);
}

static void
roster_get(struct conn *c)
{
	if (c->pending)
		return;
	c->pending = 1;
	SEND_LIT(c, "<iq type='get' id='roster'><query xmlns='"
	    "jabber:iq:roster'/></iq>");
}

/*
 * A roster still short of its contacts some seconds after the logins:
 * asks again for what is missing, from the roster the server returned.
 * Servers may drop a request that crosses another (ejabberd 23.01 did
 * not deliver a subscribe sent right after the 'subscribed' that made
 * its target's item 'to', and left the sender's item pending, ask=
 * 'subscribe', for good).  A repeated request, which the user's server
 * routes again even while one is pending (RFC 6121 3.1.2), and approving
 * in advance (RFC 6121 3.4) bring every server to 'both'.
 */
#define REPAIR_AFTER	(3 * NS_PER_S)

static void
roster_repair(struct conn *c)
{
	struct elem	*e = &c->el;
	long		 me = slot_acct[c->slot] - opt.first, d, k, acct;
	uint64_t	 now = now_ns();
	uint8_t		 sub;
	int		 i;

	if (now < t_rosters + REPAIR_AFTER || now < c->redrive)
		return;
	c->redrive = now + REPAIR_AFTER;
	for (d = -opt.contacts / 2; d <= opt.contacts / 2; d++) {
		if (d == 0)
			continue;
		k = ((me + d) % opt.accounts + opt.accounts) % opt.accounts;
		acct = opt.first + k;
		sub = 0;
		for (i = 0; i < e->nritems; i++)
			if (e->ritems[i].acct == acct) {
				sub = e->ritems[i].sub;
				break;
			}
		if (!(sub & RS_TO)) {
			send_presence_to(c, acct, "subscribe");
			n_repairs++;
		}
		if (!(sub & RS_FROM)) {
			send_presence_to(c, acct, "subscribed");
			n_repairs++;
		}
	}
}

static void
presence_stanza(struct conn *c)
{
	struct elem	*e = &c->el;
	long		 from, me = slot_acct[c->slot] - opt.first;

	if (e->kind == EL_PRESENCE) {
		if (strcmp(e->type, "error") == 0) {
			/* a refused subscription says why rosters stall */
			count_stanza_error(c, "presence");
			return;
		}
		if (phase == PH_RUN && (e->type[0] == '\0' ||
		    strcmp(e->type, "unavailable") == 0))
			n_presence++;
		if (strcmp(e->type, "subscribe") != 0 ||
		    (from = account_of_jid(e->from)) < 0)
			return;
		from -= opt.first;
		send_presence_to(c, from + opt.first, "subscribed");
		/* a contact behind us in the ring asked first: ask back */
		if (ring_dist(from, me) >= 1 &&
		    ring_dist(from, me) <= opt.contacts / 2)
			send_presence_to(c, from + opt.first, "subscribe");
	} else if (e->kind == EL_IQ && strcmp(e->id, "roster") == 0) {
		c->pending = 0;
		if (strcmp(e->type, "result") != 0) {
			count_error("roster-get-failed");
			return;
		}
		c->nboth = e->items_both;
		if (c->nboth < opt.contacts)
			roster_repair(c);
	}
}

static void
wave_start(void)
{
	static long	 next;
	long		 w = opt.wave > 0 ? opt.wave : (nslots + 9) / 10;
	long		 i, slot;
	struct conn	*c;

	if (w > nslots)
		w = nslots;
	wave_left = 0;
	for (i = 0; i < w; i++) {
		slot = next;
		next = (next + 1) % nslots;
		if ((c = conns[slot]) == NULL || c->state != CS_READY)
			continue;
		relog[slot] = 1;
		wave_left++;
		SEND_LIT(c, "<presence type='unavailable'/>");
		conn_close(c);
	}
	if (wave_left == 0) {
		t_end = now_ns();
		done();
	}
}

static void
wave_member_back(void)
{
	if (--wave_left > 0)
		return;
	t_end = now_ns();
	if (t_end < t_go + (uint64_t)(opt.duration * NS_PER_S))
		wave_start();
	else {
		phase = PH_FINAL;
		t_stop = t_end + NS_PER_S / 2;	/* late presences */
	}
}

/* --- messages --------------------------------------------------------- */

static void
send_message(struct pair *p)
{
	conn_printf(p->s, "<message to='%s' type='chat'><body>%llu %llu"
	    "</body></message>", p->to, (unsigned long long)p->next,
	    (unsigned long long)now_ns());
	p->next++;
	p->inflight++;
	n_sent++;
}

static void
message_stanza(struct conn *c)
{
	struct elem	*e = &c->el;
	struct pair	*p;
	unsigned long long seq, ts;
	char		*ep;
	uint64_t	 now;

	if (e->kind != EL_MESSAGE || c->pair < 0)
		return;
	if (strcmp(e->type, "error") == 0) {
		count_stanza_error(c, "message");
		return;
	}
	p = &pairs[c->pair];
	if (c != p->r)
		return;
	seq = strtoull(e->text, &ep, 10);
	if (*ep != ' ') {
		count_error("message-bad-body");
		return;
	}
	ts = strtoull(ep + 1, NULL, 10);
	now = now_ns();
	if (now >= ts)
		hist_add(now - ts);
	n_delivered++;
	t_last = now;
	if (seq != p->expect)
		count_error(seq < p->expect ? "duplicate-or-reordered" :
		    "gap-in-sequence");
	p->expect = seq + 1;
	p->inflight--;
	if (phase == PH_RUN && opt.rate <= 0 && p->s != NULL &&
	    p->s->state == CS_READY)
		send_message(p);
	else if (phase == PH_FINAL && n_delivered >= n_sent)
		done();
}

/* Open loop: what is due since t_go goes out round-robin over the pairs. */
static void
send_tick(evutil_socket_t fd, short ev, void *arg)
{
	double		 share = opt.rate * (double)npairs / (double)opt.pairs;
	uint64_t	 due, now = now_ns(), guard;
	struct pair	*p;

	if (phase != PH_RUN)
		return;
	due = (uint64_t)((double)(now - t_go) / 1e9 * share);
	for (guard = 0; n_sent < due && guard < (uint64_t)npairs * 4 +
	    100000; guard++) {
		p = &pairs[next_pair];
		next_pair = (next_pair + 1) % npairs;
		if (p->s == NULL || p->r == NULL || p->s->state != CS_READY)
			continue;
		if (conn_backlog(p->s) > MAX_BACKLOG) {
			count_error("not-sent-client-backlog");
			due--;
			continue;
		}
		send_message(p);
	}
}

/* The sending time is over: drain, bounded by --drain. */
static void
stop_sending(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	now = now_ns();

	if (phase != PH_RUN)
		return;
	phase = PH_FINAL;
	t_end = now;
	t_stop = now + (uint64_t)(opt.drain * NS_PER_S);
	if (ev_send != NULL)
		event_del(ev_send);
	if (n_delivered >= n_sent)
		done();
}

static void
messages_go(void)
{
	struct timeval	 tv = { .tv_sec = 0, .tv_usec = 2000 }, dur;
	long		 i, w;

	dur.tv_sec = (time_t)opt.duration;
	dur.tv_usec = (suseconds_t)((opt.duration - (double)dur.tv_sec) *
	    1e6);
	event_base_once(base, -1, EV_TIMEOUT, stop_sending, NULL, &dur);

	if (opt.rate > 0) {
		ev_send = event_new(base, -1, EV_PERSIST, send_tick, NULL);
		event_add(ev_send, &tv);
		return;
	}
	for (i = 0; i < npairs; i++) {
		if (pairs[i].s == NULL || pairs[i].r == NULL)
			continue;
		for (w = 0; w < opt.window; w++)
			send_message(&pairs[i]);
	}
}

/* --- callbacks from bench_conn.c -------------------------------------- */

/*
 * Bound: initial presence, then a ping whose answer says the server has
 * handled the presence too (stanzas are processed in order).
 */
void
run_ready(struct conn *c)
{
	SEND_LIT(c, "<presence/>");
	send_ping(c, opt.sc == SC_LOGIN ? "ping" : "up");
	c->deadline = now_ns() + CHECK_TIMEOUT * NS_PER_S;
}

/* The session answered its first ping: it counts as up. */
static void
session_up(struct conn *c)
{
	if (strcmp(c->el.type, "result") != 0) {
		snprintf(c->reason, sizeof(c->reason), "ping:%s",
		    c->el.cond[0] ? c->el.cond : "unknown");
		conn_fail(c, c->reason);
		return;
	}
	c->deadline = 0;
	c->up = 1;
	n_up++;
	inflight--;
	if (opt.sc == SC_MESSAGES) {
		c->pair = c->slot / 2;
		if (c->slot % 2 == 0)
			pairs[c->pair].s = c;
		else
			pairs[c->pair].r = c;
	} else if (opt.sc == SC_PRESENCE) {
		if (relog[c->slot]) {
			relog[c->slot] = 0;
			n_ok++;
			wave_member_back();
		} else
			presence_subscribe(c);
	}
	launch();
	setup_check();
}

void
run_registered(struct conn *c, const char *err)
{
	if (err != NULL)
		count_error(err);
	else {
		c->up = 1;
		n_ok++;
	}
	conn_close(c);
}

void
run_stanza(struct conn *c)
{
	struct elem	*e = &c->el;

	if (!c->up && opt.sc != SC_LOGIN && e->kind == EL_IQ &&
	    strcmp(e->id, "up") == 0) {
		session_up(c);
		return;
	}
	switch (opt.sc) {
	case SC_LOGIN:
		if (e->kind != EL_IQ || strcmp(e->id, "ping") != 0)
			return;
		if (strcmp(e->type, "result") == 0) {
			c->up = 1;
			n_ok++;
			hist_add(now_ns() - c->t_start);
		} else {
			snprintf(c->reason, sizeof(c->reason), "ping:%s",
			    e->cond[0] ? e->cond : "unknown");
			count_error(c->reason);
		}
		conn_close(c);
		break;
	case SC_IDLE:
		if (e->kind == EL_IQ && strcmp(e->id, "chk") == 0 &&
		    c->pending) {
			c->pending = 0;
			c->deadline = 0;
			if (strcmp(e->type, "result") == 0)
				n_ok++;
			else {
				count_error("ping-error");
				n_lost++;
			}
			if (++n_done >= n_check)
				done();
		}
		break;
	case SC_MESSAGES:
		message_stanza(c);
		break;
	case SC_PRESENCE:
		presence_stanza(c);
		break;
	case SC_REGISTER:
		break;
	}
}

void
run_closed(struct conn *c, const char *reason)
{
	int	was_ready = c->state == CS_READY || c->up;

	if (reason != NULL)
		count_error(reason);
	if (conns[c->slot] == c)
		conns[c->slot] = NULL;
	if (c->pair >= 0) {
		if (pairs[c->pair].s == c)
			pairs[c->pair].s = NULL;
		if (pairs[c->pair].r == c)
			pairs[c->pair].r = NULL;
	}
	if (opt.sc == SC_LOGIN || opt.sc == SC_REGISTER) {
		inflight--;
		if (!c->up)
			n_failed++;
		n_done++;
		launch();
		if (n_done >= nslots)
			done();
		return;
	}
	if (!c->up) {		/* before the session was up */
		inflight--;
		n_failed++;
		if (opt.sc == SC_PRESENCE && relog[c->slot]) {
			relog[c->slot] = 0;
			wave_member_back();
		}
		launch();
		setup_check();
		return;
	}
	if (opt.sc == SC_PRESENCE && relog[c->slot] && phase != PH_DONE) {
		if (reason == NULL) {
			push(c->slot);	/* logs in again */
			launch();
			return;
		}
		relog[c->slot] = 0;	/* the logout went wrong: lost */
		n_lost++;
		wave_member_back();
		return;
	}
	if (!was_ready || phase == PH_DONE)
		return;
	n_lost++;
	if (opt.sc == SC_IDLE && phase == PH_FINAL && c->pending &&
	    ++n_done >= n_check)
		done();
}

/* --- phases ------------------------------------------------------------ */

static void
idle_check(void)
{
	long		 i;
	struct conn	*c;
	uint64_t	 dl = now_ns() + (CHECK_TIMEOUT + (uint64_t)nslots / 1000) *
	    NS_PER_S;

	phase = PH_FINAL;
	n_done = n_check = 0;
	for (i = 0; i < nslots; i++) {
		if ((c = conns[i]) == NULL || !c->up)
			continue;
		c->pending = 1;
		c->deadline = dl;
		send_ping(c, "chk");
		n_check++;
	}
	if (n_check == 0)
		done();
}

static void
go(void)
{
	getrusage(RUSAGE_SELF, &ru_go);
	t_go = now_ns();
	switch (opt.sc) {
	case SC_LOGIN:
	case SC_REGISTER:
		phase = PH_RUN;
		launch();
		if (nslots == 0)
			done();
		break;
	case SC_IDLE:
		idle_check();
		break;
	case SC_MESSAGES:
		phase = PH_RUN;
		t_stop = t_go + (uint64_t)(opt.duration * NS_PER_S);
		messages_go();
		break;
	case SC_PRESENCE:
		phase = PH_RUN;
		n_ok = 0;
		wave_start();
		break;
	}
}

static void
tick(evutil_socket_t fd, short ev, void *arg)
{
	uint64_t	 now = now_ns();
	long		 i, n;
	struct conn	*c;

	for (i = 0; i < nslots && phase != PH_DONE; i++) {
		if ((c = conns[i]) == NULL || c->deadline == 0 ||
		    now < c->deadline)
			continue;
		conn_fail(c, c->state == CS_CLOSING ? NULL :
		    c->state == CS_READY ? "ping-timeout" : "login-timeout");
	}
	if (phase == PH_DONE)
		return;
	if (opt.sc == SC_PRESENCE && phase == PH_SETUP && qlen == 0 &&
	    inflight == 0) {
		for (i = 0, n = 0; i < nslots; i++)
			if ((c = conns[i]) != NULL && c->up &&
			    c->nboth < opt.contacts) {
				roster_get(c);
				n++;
			}
		n_incomplete = n;
		if (t_rosters == 0)
			t_rosters = now;
		if (n > 0 && now > t_rosters + ROSTER_WAIT * NS_PER_S) {
			while (n-- > 0)
				count_error("roster-incomplete");
			n = 0;
		}
		if (n == 0)
			report_ready();
	}
	if (phase == PH_FINAL && now >= t_stop &&
	    (opt.sc == SC_MESSAGES || opt.sc == SC_PRESENCE))
		done();
	if (phase == PH_DONE)
		return;
	fprintf(out, "progress %ld %ld %ld %llu\n", n_ok, n_failed, n_up,
	    (unsigned long long)(opt.sc == SC_MESSAGES ? n_delivered :
	    opt.sc == SC_PRESENCE ? (phase == PH_SETUP ?
	    (uint64_t)n_incomplete : n_presence) : 0));
	fflush(out);
}

/* Time is up: what had not finished counts once per connection. */
static void
deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	long	i, n = inflight + qlen;

	for (i = 0; i < (n > 0 ? n : 1); i++)
		count_error("deadline");
	done();
}

static void
command_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	b[16];
	ssize_t	n = read(fd, b, sizeof(b)), i;

	if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
		if (phase != PH_DONE)
			_exit(1);	/* the parent is gone */
		event_del(ev_cmd);	/* results are in: close_wait ends */
		return;
	}
	for (i = 0; i < n; i++)
		if (b[i] == 'g' && phase == PH_READY)
			go();
}

static uint64_t
tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Writes the results, then closes what is open and leaves the loop. */
static void
done(void)
{
	struct rusage	ru;
	uint64_t	now = now_ns(), cpu, run_cpu;
	int		i;
	long		l;

	if (phase == PH_DONE)
		return;
	phase = PH_DONE;
	if (t_end == 0 || opt.sc == SC_LOGIN || opt.sc == SC_REGISTER ||
	    opt.sc == SC_IDLE)
		t_end = now;
	if (opt.sc == SC_MESSAGES && t_last > t_end)
		t_end = t_last;
	if (t_go == 0)
		t_go = now;
	getrusage(RUSAGE_SELF, &ru);
	cpu = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
	run_cpu = opt.sc == SC_IDLE ? cpu : cpu - tv_us(ru_go.ru_utime) -
	    tv_us(ru_go.ru_stime);
	if (opt.sc == SC_LOGIN || opt.sc == SC_REGISTER)
		n_failed = nslots - n_ok;
	fprintf(out, "stat ok %ld\nstat failed %ld\nstat lost %ld\n"
	    "stat up %ld\nstat sent %llu\nstat delivered %llu\n"
	    "stat presence %llu\nstat connected %ld\nstat slots %ld\n"
	    "stat elapsed_ns %llu\nstat cpu_us %llu\nstat run_cpu_us %llu\n"
	    "stat lat_max_ns %llu\nstat repairs %ld\n", n_ok, n_failed,
	    n_lost, n_up,
	    (unsigned long long)n_sent, (unsigned long long)n_delivered,
	    (unsigned long long)n_presence, conn_nconnected, nslots,
	    (unsigned long long)(t_end - t_go), (unsigned long long)cpu,
	    (unsigned long long)run_cpu, (unsigned long long)lat_max,
	    n_repairs);
	for (i = 0; i < ERR_MAX && errs[i].name[0] != '\0'; i++)
		fprintf(out, "err %s %ld\n", errs[i].name, errs[i].n);
	for (i = 0; i < HIST_SIZE; i++)
		if (hist[i] != 0)
			fprintf(out, "hist %d %llu\n", i,
			    (unsigned long long)hist[i]);
	fprintf(out, "end\n");
	fflush(out);
	for (l = 0; l < nslots; l++)
		if (conns[l] != NULL)
			conn_close(conns[l]);
	closing_until = now + CLOSE_WAIT * NS_PER_S;
	close_wait(-1, 0, NULL);
}

/*
 * The end: every session was sent </stream:stream>; wait for the
 * server's (or its close) before exiting, at most CLOSE_WAIT seconds.
 * A client that resets the connection instead is not what servers see
 * from real clients (Prosody 0.12 with opportunistic_writes then spins
 * at 100% CPU, and the next measurement of it suffers).
 */
static void
close_wait(evutil_socket_t fd, short ev, void *arg)
{
	static struct event	*ev_wait;
	struct timeval		 tv = { 0, 50000 };
	long			 l;

	for (l = 0; l < nslots; l++)
		if (conns[l] != NULL && !conns[l]->dead)
			break;
	if (l == nslots || now_ns() >= closing_until) {
		event_base_loopexit(base, NULL);
		return;
	}
	if (ev_wait == NULL)
		ev_wait = evtimer_new(base, close_wait, NULL);
	if (ev_wait != NULL)
		evtimer_add(ev_wait, &tv);
}

static void
assign_slots(int id)
{
	long	i, n = 0, p;

	if (opt.sc == SC_MESSAGES) {
		npairs = 0;
		for (p = id; p < opt.pairs; p += opt.processes)
			npairs++;
		nslots = 2 * npairs;
	} else
		for (i = id; i < opt.accounts; i += opt.processes)
			n++;
	if (opt.sc != SC_MESSAGES)
		nslots = n;
	conns = calloc((size_t)nslots + 1, sizeof(*conns));
	slot_acct = calloc((size_t)nslots + 1, sizeof(*slot_acct));
	relog = calloc((size_t)nslots + 1, 1);
	queue = calloc((size_t)nslots + 1, sizeof(*queue));
	pairs = calloc((size_t)npairs + 1, sizeof(*pairs));
	if (!conns || !slot_acct || !relog || !queue || !pairs) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	if (opt.sc == SC_MESSAGES) {
		for (i = 0, p = id; i < npairs; i++, p += opt.processes) {
			slot_acct[2 * i] = opt.first + 2 * p;
			slot_acct[2 * i + 1] = opt.first + 2 * p + 1;
			account_name(slot_acct[2 * i + 1], pairs[i].to, 200);
			snprintf(pairs[i].to + strlen(pairs[i].to),
			    sizeof(pairs[i].to) - strlen(pairs[i].to), "@%s",
			    opt.domain);
		}
	} else
		for (i = 0; i < nslots; i++)
			slot_acct[i] = opt.first + id + i * opt.processes;
	for (i = 0; i < nslots; i++)
		push(i);
}

int
worker_main(int id, int rfd, int wfd)
{
	struct timeval	 one = { .tv_sec = 1, .tv_usec = 0 }, dl;
	struct event	*ev_dl;
	double		 left;

	signal(SIGPIPE, SIG_IGN);
	conn_worker = id;
	if ((out = fdopen(wfd, "w")) == NULL || (base = event_base_new()) ==
	    NULL || conn_init(base) == -1) {
		fprintf(stderr, "tern-bench: worker %d cannot start\n", id);
		return 1;
	}
	if (opt.scram_cache != NULL)
		sasl_cache_load(opt.scram_cache);
	assign_slots(id);
	conc = opt.concurrency / opt.processes;
	if (conc < 1)
		conc = 1;
	ev_tick = event_new(base, -1, EV_PERSIST, tick, NULL);
	event_add(ev_tick, &one);
	ev_cmd = event_new(base, rfd, EV_READ | EV_PERSIST, command_cb, NULL);
	event_add(ev_cmd, NULL);
	left = opt.deadline;
	dl.tv_sec = (time_t)left;
	dl.tv_usec = (suseconds_t)((left - (double)dl.tv_sec) * 1e6);
	ev_dl = event_new(base, -1, 0, deadline_cb, NULL);
	event_add(ev_dl, &dl);
	if (opt.sc == SC_LOGIN || opt.sc == SC_REGISTER)
		report_ready();
	else {
		launch();
		setup_check();
	}
	event_base_dispatch(base);
	if (opt.scram_cache != NULL)
		sasl_cache_save(opt.scram_cache);
	fclose(out);
	return 0;
}
