/*
 * Event base and reaper.  The reaper is one timer event with a zero
 * timeout, armed when the first object is queued; libevent runs it in the
 * next loop iteration, after the callback that queued the object.  A
 * second timer gives free heap memory back to the system
 * (memory_trim_interval, see trim_cb).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#include <malloc.h>
#define HAVE_MALLINFO2	1
#endif

#include <event2/event.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "xmalloc.h"

struct deferred {
	void		 (*fn)(void *);
	void		*arg;
};

static struct event_base	*base;
static struct event		*reaper;
static struct deferred		*queue;
static size_t			 nqueue, capqueue;
static const struct tern_conf	*cur_conf;
static struct tern_limits	 limits;
static struct event		*trim_ev;
static unsigned			 trim_interval;

/* Free heap worth giving back to the system. */
#define TRIM_MIN	(4 * 1024 * 1024)

static void
reap_cb(int fd, short ev, void *arg)
{
	loop_reap();
}

void
loop_init(void)
{
	struct event_config	*cfg;

	if ((cfg = event_config_new()) == NULL)
		fatalx("loop: event_config_new");
	/*
	 * A bufferevent adds and removes its write event around nearly every
	 * stanza; the changelist folds those into one epoll_ctl per loop
	 * (safe: tern never dup()s a descriptor it has events on).
	 */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	if ((base = event_base_new_with_config(cfg)) == NULL)
		fatalx("loop: event_base_new");
	event_config_free(cfg);
	if ((reaper = evtimer_new(base, reap_cb, NULL)) == NULL)
		fatalx("loop: evtimer_new");
}

/* RSS in bytes, from /proc; 0 if unknown. */
static size_t
rss_bytes(void)
{
	FILE		*f;
	unsigned long	 size, resident;
	int		 n;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (size_t)resident * (size_t)getpagesize() : 0;
}

/*
 * glibc returns freed memory to the system only from the top of its
 * heap: after a peak (thousands of sessions closing at once) one live
 * block above the freed ones keeps the process at its peak RSS.  Seen:
 * 3,000 TLS sessions closed, 73 MiB resident, 12.7 MiB after
 * malloc_trim(), which hands back every free page wherever it lies.
 * Trimmed chunks still count as free, so a trim is redone only when
 * the free heap or the RSS has grown by TRIM_MIN since the last one.
 */
static void
trim_cb(int fd, short ev, void *arg)
{
#ifdef HAVE_MALLINFO2
	static size_t		 last_free, last_rss;
	struct mallinfo2	 mi = mallinfo2();
	size_t			 rss = rss_bytes();
	uint64_t		 t0;

	if (mi.fordblks < TRIM_MIN || (mi.fordblks < last_free + TRIM_MIN &&
	    rss < last_rss + TRIM_MIN))
		return;
	t0 = loop_now_ms();
	malloc_trim(0);
	last_free = mi.fordblks;
	last_rss = rss_bytes();
	log_debug("memory: gave back free heap pages: RSS %zu -> %zu KiB, "
	    "%zu KiB free in the heap, %llu ms", rss / 1024, last_rss / 1024,
	    mi.fordblks / 1024, (unsigned long long)(loop_now_ms() - t0));
#endif
}

static void
trim_arm(unsigned interval)
{
	struct timeval	tv = { .tv_sec = interval };

	if (base == NULL || interval == trim_interval)
		return;
	trim_interval = interval;
	if (trim_ev == NULL && (trim_ev = event_new(base, -1, EV_PERSIST,
	    trim_cb, NULL)) == NULL)
		fatalx("loop: event_new");
	event_del(trim_ev);
	if (interval > 0)
		event_add(trim_ev, &tv);
}

void
loop_free(void)
{
	loop_reap();
	if (trim_ev != NULL)
		event_free(trim_ev);
	trim_ev = NULL;
	trim_interval = 0;
	if (reaper != NULL)
		event_free(reaper);
	if (base != NULL)
		event_base_free(base);
	free(queue);
	queue = NULL;
	capqueue = 0;
	reaper = NULL;
	base = NULL;
}

uint64_t
loop_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct event_base *
loop_base(void)
{
	return base;
}

void
loop_defer(void (*fn)(void *), void *arg)
{
	static const struct timeval	zero = { 0, 0 };

	if (nqueue == capqueue) {
		capqueue = capqueue ? capqueue * 2 : 64;
		queue = xreallocarray(queue, capqueue, sizeof(*queue));
	}
	queue[nqueue].fn = fn;
	queue[nqueue].arg = arg;
	nqueue++;
	if (reaper != NULL && !evtimer_pending(reaper, NULL))
		evtimer_add(reaper, &zero);
}

void
loop_reap(void)
{
	size_t	i;

	/* A freed object may queue others: loop until the queue is empty. */
	for (i = 0; i < nqueue; i++)
		queue[i].fn(queue[i].arg);
	nqueue = 0;
}

const struct tern_conf *
loop_conf(void)
{
	return cur_conf;
}

void
loop_set_conf(const struct tern_conf *conf)
{
	cur_conf = conf;
	limits = conf->limits;
	trim_arm(conf->memory_trim_interval);
}

const struct tern_limits *
loop_limits(void)
{
	return &limits;
}
