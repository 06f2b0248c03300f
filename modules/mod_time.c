/*
 * XEP-0202 Entity Time of the server: <utc/> as an XEP-0082 DateTime in
 * UTC and <tzo/> as the host's offset from UTC (from the system time
 * zone, +00:00 on a server kept in UTC).  Queries to resources go to the
 * clients; the legacy jabber:iq:time (XEP-0090) is obsolete and not
 * answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tern/module.h"

#define NS_TIME	"urn:xmpp:time"

/* XEP-0082 TZD: "+hh:mm" or "-hh:mm". */
static void
format_tzo(const struct tm *local, char *buf, size_t len)
{
	long	off = local->tm_gmtoff;
	char	sign = off < 0 ? '-' : '+';

	off = labs(off) / 60 % (24 * 60);	/* minutes; within a day */
	snprintf(buf, len, "%c%02d:%02d", sign, (int)(off / 60),
	    (int)(off % 60));
}

static int
time_host(struct tern_event *ev, void *conf)
{
	struct tern_stanza	*r, *q;
	struct tm		 utc, local;
	time_t			 now = (time_t)tern_now();
	char			 ubuf[32], tbuf[32];

	if (gmtime_r(&now, &utc) == NULL || localtime_r(&now, &local) ==
	    NULL || strftime(ubuf, sizeof(ubuf), "%Y-%m-%dT%H:%M:%SZ",
	    &utc) == 0) {
		tern_reply_error(ev, "wait", "internal-server-error",
		    "The clock is out of range");
		return TERN_DONE;
	}
	format_tzo(&local, tbuf, sizeof(tbuf));
	r = tern_stanza_reply(ev->stanza);
	q = tern_stanza_add_child(r, NS_TIME, "time");
	tern_stanza_add_text_child(q, NS_TIME, "tzo", tbuf);
	tern_stanza_add_text_child(q, NS_TIME, "utc", ubuf);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static const char *const features[] = { NS_TIME, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_TIME ":time", TERN_PRIO_DEFAULT, time_host },
	{ NULL, 0, NULL }
};

const struct tern_module mod_time = {
	.abi = TERN_MODULE_ABI,
	.name = "time",
	.features = features,
	.hooks = hooks,
};
