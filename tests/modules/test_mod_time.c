/* mod_time on the in-process harness: XEP-0202. */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define NS_TIME		"urn:xmpp:time"
#define HAS(r, s)	cr_assert_not_null(strstr((r), (s)), "%s", (r))

TestSuite(mod_time, .fini = harness_stop);

static const char *
ask(struct session *a, const char *xml)
{
	const char	*r;

	harness_send(a, xml);
	r = harness_next(a);
	cr_assert_not_null(r, "no answer to %s", xml);
	return r;
}

Test(mod_time, answers_utc_and_offset)
{
	struct session	*a;
	regex_t		 re;
	regmatch_t	 m[2];
	struct tm	 tm;
	const char	*r;
	time_t		 before = time(NULL), t;

	harness_start("modules time;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='t1' to='example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "id='t1'");
	HAS(r, "from='example.org'");
	cr_assert_eq(regcomp(&re, "<time xmlns='" NS_TIME "'><tzo>[+-]"
	    "[0-9][0-9]:[0-9][0-9]</tzo><utc>([0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}Z)</utc></time>", REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, r, 2, m, 0), 0, "%s", r);
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	cr_assert_not_null(strptime(r + m[1].rm_so, "%Y-%m-%dT%H:%M:%SZ",
	    &tm));
	t = timegm(&tm);
	cr_assert(t >= before && t <= time(NULL), "%s", r);
}

Test(mod_time, offset_follows_the_time_zone)
{
	struct session	*a;
	const char	*r;

	setenv("TZ", "UTC", 1);
	tzset();
	harness_start("modules time;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='t2' to='example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "<tzo>+00:00</tzo>");
	setenv("TZ", "IST-5:30", 1);
	tzset();
	r = ask(a, "<iq type='get' id='t3' to='example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "<tzo>+05:30</tzo>");
	setenv("TZ", "XYZ3", 1);
	tzset();
	r = ask(a, "<iq type='get' id='t4' to='example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "<tzo>-03:00</tzo>");
}

Test(mod_time, accounts_are_not_answered_for)
{
	struct session	*a;
	const char	*r;

	harness_start("modules time;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='t5' to='bob@example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "<service-unavailable");
	r = ask(a, "<iq type='set' id='t6' to='example.org'>"
	    "<time xmlns='" NS_TIME "'/></iq>");
	HAS(r, "<service-unavailable");
}
