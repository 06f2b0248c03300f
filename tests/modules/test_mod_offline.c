/* mod_offline on the in-process harness. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tern/module.h"

#define HOST	"example.org"

static void
setup(void)
{
	harness_start("modules offline;");
}

TestSuite(mod_offline, .init = setup, .fini = harness_stop);

static void
chat(struct session *from, const char *to, const char *body)
{
	char	xml[8192];

	snprintf(xml, sizeof(xml), "<message to='%s' type='chat' id='%s'>"
	    "<body>%s</body></message>", to, body, body);
	harness_send(from, xml);
}

static int
count_cb(const char *key, const void *val, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* Messages stored for user (straight from the store). */
static int
stored(const char *user)
{
	int	n = 0;

	cr_assert_eq(tern_kv_each("offline", HOST, user, count_cb, &n), 0);
	return n;
}

/* The next stanza, which must exist and contain every needle. */
static const char *
expect(struct session *s, const char *n1, const char *n2)
{
	const char	*r = harness_next(s);

	cr_assert_not_null(r, "expected a stanza with %s", n1);
	cr_assert_not_null(strstr(r, n1), "%s not in %s", n1, r);
	if (n2 != NULL)
		cr_assert_not_null(strstr(r, n2), "%s not in %s", n2, r);
	return r;
}

/* A message with our delay: from the host, a UTC stamp with Z. */
static void
expect_offline(struct session *s, const char *body)
{
	char		 b[256];
	const char	*r, *d, *stamp;

	snprintf(b, sizeof(b), "<body>%s</body>", body);
	r = expect(s, b, "<delay xmlns='urn:xmpp:delay'");
	d = strstr(r, "<delay");
	cr_assert_not_null(strstr(d, "from='" HOST "'"), "%s", r);
	cr_assert_not_null(stamp = strstr(d, "stamp='"), "%s", r);
	stamp += strlen("stamp='");
	/* 2024-01-02T03:04:05Z */
	cr_assert_eq(strlen(stamp) > 21 && stamp[4] == '-' &&
	    stamp[10] == 'T' && stamp[19] == 'Z' && stamp[20] == '\'', 1,
	    "bad stamp in %s", r);
	cr_assert_not_null(strstr(r, "from='alice@" HOST "/a'"), "%s", r);
}

Test(mod_offline, stores_and_delivers_in_order_with_delay)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b, *b2;

	harness_send(a, "<presence/>");
	chat(a, "bob@" HOST, "one");
	chat(a, "bob@" HOST, "two");
	chat(a, "bob@" HOST, "three");
	cr_assert_null(harness_next(a), "the sender got something");
	cr_assert_eq(stored("bob"), 3);
	b = harness_login("bob@" HOST "/b");
	cr_assert_null(harness_next(b), "delivered before presence");
	harness_send(b, "<presence/>");
	expect_offline(b, "one");
	expect_offline(b, "two");
	expect_offline(b, "three");
	cr_assert_null(harness_next(b));
	cr_assert_eq(stored("bob"), 0);
	/* Delivered once: another resource gets nothing. */
	b2 = harness_login("bob@" HOST "/c");
	harness_send(b2, "<presence/>");
	cr_assert_null(harness_next(b2));
}

Test(mod_offline, survives_a_restart)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	chat(a, "bob@" HOST, "before");
	chat(a, "bob@" HOST, "restart");
	harness_restart();
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence><priority>5</priority></presence>");
	expect_offline(b, "before");
	expect_offline(b, "restart");
	cr_assert_null(harness_next(b));
}

Test(mod_offline, only_to_the_resource_that_sent_presence)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b1, *b2;

	b1 = harness_login("bob@" HOST "/one");
	b2 = harness_login("bob@" HOST "/two");
	chat(a, "bob@" HOST, "hello");
	cr_assert_eq(stored("bob"), 1);
	harness_send(b2, "<presence/>");
	expect_offline(b2, "hello");
	cr_assert_null(harness_next(b1));
	cr_assert_null(harness_next(b2));
}

Test(mod_offline, negative_priority_stores_until_non_negative)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence><priority>-1</priority></presence>");
	chat(a, "bob@" HOST, "later");
	cr_assert_null(harness_next(b));
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 1);
	harness_send(b, "<presence><priority>-5</priority></presence>");
	cr_assert_null(harness_next(b));
	harness_send(b, "<presence><priority>0</priority></presence>");
	expect_offline(b, "later");
	cr_assert_eq(stored("bob"), 0);
}

Test(mod_offline, unavailable_and_directed_presence_deliver_nothing)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	chat(a, "bob@" HOST, "wait");
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence type='unavailable'/>");
	harness_send(b, "<presence to='alice@" HOST "'/>");
	cr_assert_null(harness_next(b));
	cr_assert_eq(stored("bob"), 1);
}

Test(mod_offline, to_an_offline_full_jid_is_stored)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	chat(a, "bob@" HOST "/gone", "full");
	cr_assert_null(harness_next(a));
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	expect_offline(b, "full");
}

Test(mod_offline, normal_and_untyped_messages_are_stored)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	harness_send(a, "<message to='bob@" HOST "' type='normal'>"
	    "<body>n</body></message>");
	harness_send(a, "<message to='bob@" HOST "'><subject>s</subject>"
	    "</message>");
	harness_send(a, "<message to='bob@" HOST "'><received "
	    "xmlns='urn:xmpp:receipts' id='x'/></message>");
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 3);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	expect(b, "<body>n</body>", "urn:xmpp:delay");
	expect(b, "<subject>s</subject>", "urn:xmpp:delay");
	expect(b, "urn:xmpp:receipts", "urn:xmpp:delay");
}

Test(mod_offline, headline_groupchat_error_are_not_stored)
{
	struct session	*a = harness_login("alice@" HOST "/a");

	harness_send(a, "<message to='bob@" HOST "' type='headline'>"
	    "<body>h</body></message>");
	cr_assert_null(harness_next(a));
	harness_send(a, "<message to='bob@" HOST "' type='error'>"
	    "<body>e</body></message>");
	cr_assert_null(harness_next(a));
	harness_send(a, "<message to='bob@" HOST "' type='groupchat'>"
	    "<body>g</body></message>");
	expect(a, "type='error'", "service-unavailable");
	cr_assert_eq(stored("bob"), 0);
}

Test(mod_offline, chat_states_alone_are_dropped_silently)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;

	harness_send(a, "<message to='bob@" HOST "' type='chat'>"
	    "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
	    "<thread>t1</thread></message>");
	harness_send(a, "<message to='bob@" HOST "' type='chat'>"
	    "<paused xmlns='http://jabber.org/protocol/chatstates'/>"
	    "<no-store xmlns='urn:xmpp:hints'/></message>");
	harness_send(a, "<message to='bob@" HOST "' type='chat'/>");
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 0);
	/* ... unless the sender asks for storage (XEP-0334). */
	harness_send(a, "<message to='bob@" HOST "' type='chat'>"
	    "<gone xmlns='http://jabber.org/protocol/chatstates'/>"
	    "<store xmlns='urn:xmpp:hints'/></message>");
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 1);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	expect(b, "<gone", "urn:xmpp:delay");
}

Test(mod_offline, no_store_hint_is_refused)
{
	struct session	*a = harness_login("alice@" HOST "/a");

	harness_send(a, "<message to='bob@" HOST "' type='chat' id='ns'>"
	    "<body>secret</body><no-store xmlns='urn:xmpp:hints'/>"
	    "</message>");
	expect(a, "type='error'", "service-unavailable");
	cr_assert_eq(stored("bob"), 0);
}

Test(mod_offline, nonexistent_user_is_not_stored)
{
	struct session	*a = harness_login("alice@" HOST "/a");

	chat(a, "nobody@" HOST, "lost");
	expect(a, "type='error'", "service-unavailable");
	cr_assert_eq(stored("nobody"), 0);
}

Test(mod_offline, forged_delay_is_replaced)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;
	const char	*r;

	harness_send(a, "<message to='bob@" HOST "' type='chat'>"
	    "<body>f</body>"
	    "<delay xmlns='urn:xmpp:delay' from='" HOST "' "
	    "stamp='2000-01-01T00:00:00Z'/>"
	    "<delay xmlns='urn:xmpp:delay' from='elsewhere.example' "
	    "stamp='2001-01-01T00:00:00Z'/></message>");
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	r = expect(b, "<body>f</body>", "elsewhere.example");
	cr_assert_null(strstr(r, "2000-01-01"), "forged delay kept: %s", r);
	cr_assert_not_null(strstr(r, "from='" HOST "'"), "%s", r);
	cr_assert_eq(strstr(strstr(r, "from='" HOST "' stamp") + 1,
	    "from='" HOST "' stamp"), NULL, "two delays of ours: %s", r);
}

Test(mod_offline, account_deletion_removes_the_store)
{
	struct session	*a = harness_login("alice@" HOST "/a");

	chat(a, "carol@" HOST, "bye");
	cr_assert_eq(stored("carol"), 1);
	cr_assert_eq(tern_user_delete(HOST, "carol"), 0);
	cr_assert_eq(stored("carol"), 0);
}

static void
feature_cb(const char *f, void *arg)
{
	if (strcmp(f, "msgoffline") == 0)
		(*(int *)arg)++;
}

Test(mod_offline, advertises_msgoffline)
{
	struct tern_host	*h = tern_host_find(HOST);
	int			 found = 0;

	cr_assert_not_null(h);
	tern_host_features(h, 0, feature_cb, &found);
	cr_assert_eq(found, 1);
}

static void
setup_quota(void)
{
	harness_start("modules offline; offline_max_messages 2; "
	    "offline_max_bytes 2k;");
}

TestSuite(mod_offline_quota, .init = setup_quota, .fini = harness_stop);

Test(mod_offline_quota, message_count)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;
	const char	*r;

	chat(a, "bob@" HOST, "m1");
	chat(a, "bob@" HOST, "m2");
	cr_assert_null(harness_next(a));
	chat(a, "bob@" HOST, "m3");
	r = expect(a, "type='error'", "<service-unavailable");
	cr_assert_not_null(strstr(r, "id='m3'"), "%s", r);
	cr_assert_not_null(strstr(r, "full"), "no text: %s", r);
	cr_assert_not_null(strstr(r, "from='bob@" HOST "'"), "%s", r);
	cr_assert_eq(stored("bob"), 2);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	expect_offline(b, "m1");
	expect_offline(b, "m2");
	cr_assert_null(harness_next(b));
	/* Room again once delivered. */
	harness_logout(b);
	chat(a, "bob@" HOST, "m4");
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 1);
}

Test(mod_offline_quota, bytes)
{
	struct session	*a = harness_login("alice@" HOST "/a");
	char		 big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	chat(a, "bob@" HOST, big);
	expect(a, "<service-unavailable", "too large");
	cr_assert_eq(stored("bob"), 0);
	chat(a, "bob@" HOST, "small");
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 1);
	/* 2k in all: one more of about 1100 bytes fits, two do not. */
	big[1500] = '\0';
	chat(a, "bob@" HOST, big + 1000);
	cr_assert_null(harness_next(a));
	cr_assert_eq(stored("bob"), 2);
	chat(a, "bob@" HOST, big + 1000);
	expect(a, "<service-unavailable", "is full");
	cr_assert_eq(stored("bob"), 2);
}

static void
setup_burst(void)
{
	harness_start("modules offline; offline_burst 4k;");
}

TestSuite(mod_offline_burst, .init = setup_burst, .fini = harness_stop,
    .timeout = 30);

/* Sends n messages of about 1 KiB from a to bob. */
static void
fill(struct session *a, int n)
{
	char	body[1000], xml[1200];
	int	i;

	memset(body, 'y', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(xml, sizeof(xml), "<message to='bob@" HOST "' "
		    "type='chat'><body>m%02d-%s</body></message>", i, body);
		harness_send(a, xml);
	}
	cr_assert_null(harness_next(a));
}

/* Reads what b received, checking the order; returns how many. */
static int
read_in_order(struct session *b, int *next)
{
	const char	*r;
	char		 tag[32];
	int		 n = 0;

	while ((r = harness_next(b)) != NULL) {
		snprintf(tag, sizeof(tag), "<body>m%02d-", *next);
		cr_assert_not_null(strstr(r, tag), "expected %s in %s", tag,
		    r);
		(*next)++;
		n++;
	}
	return n;
}

Test(mod_offline_burst, delivered_in_bursts_in_order)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;
	int		 next = 0, first, i;

	fill(a, 12);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	first = read_in_order(b, &next);
	cr_assert(first > 0 && first < 12, "first burst: %d", first);
	cr_assert_eq(stored("bob"), 12 - first);
	for (i = 0; i < 40 && next < 12; i++) {
		usleep(250000);
		harness_tick();
		read_in_order(b, &next);
	}
	cr_assert_eq(next, 12);
	cr_assert_eq(stored("bob"), 0);
}

Test(mod_offline_burst, logout_keeps_the_rest)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;
	int		 next = 0, first, i;

	fill(a, 12);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	first = read_in_order(b, &next);
	cr_assert(first > 0 && first < 12);
	harness_logout(b);	/* cancels the pending burst */
	usleep(1100000);
	harness_tick();
	cr_assert_eq(stored("bob"), 12 - first);
	b = harness_login("bob@" HOST "/b2");
	harness_send(b, "<presence/>");
	for (i = 0; i < 40 && next < 12; i++) {
		read_in_order(b, &next);
		if (next == 12)
			break;
		usleep(250000);
		harness_tick();
	}
	cr_assert_eq(next, 12);
}

Test(mod_offline_burst, unavailable_stops_the_bursts)
{
	struct session	*a = harness_login("alice@" HOST "/a"), *b;
	int		 next = 0, first;

	fill(a, 12);
	b = harness_login("bob@" HOST "/b");
	harness_send(b, "<presence/>");
	first = read_in_order(b, &next);
	harness_send(b, "<presence type='unavailable'/>");
	usleep(1100000);
	harness_tick();
	cr_assert_eq(read_in_order(b, &next), 0);
	cr_assert_eq(stored("bob"), 12 - first);
}
