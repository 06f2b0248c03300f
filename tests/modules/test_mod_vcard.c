/* mod_vcard (XEP-0054) on the in-process harness. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tern/module.h"

#define VCARD_ALICE	"<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN>" \
			"<NICKNAME>alice</NICKNAME></vCard>"

static void
setup(void)
{
	harness_start("modules vcard; vcard_max_size 1k;");
}

TestSuite(mod_vcard, .init = setup, .fini = harness_stop);

/* The next stanza of s contains every string given (NULL-ended). */
static const char *
expect(struct session *s, ...)
{
	const char	*r = harness_next(s), *want;
	va_list		 ap;

	cr_assert_not_null(r, "nothing received");
	va_start(ap, s);
	while ((want = va_arg(ap, const char *)) != NULL)
		cr_assert_not_null(strstr(r, want), "no %s in %s", want, r);
	va_end(ap);
	return r;
}

static void
set_own(struct session *s, const char *id, const char *vcard)
{
	char	buf[4096];

	snprintf(buf, sizeof(buf), "<iq type='set' id='%s'>%s</iq>", id,
	    vcard);
	harness_send(s, buf);
}

Test(mod_vcard, own_vcard_missing_is_item_not_found)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	r = expect(a, "type='error'", "id='g1'", "<item-not-found", NULL);
	cr_assert_not_null(strstr(r, "type='cancel'"), "%s", r);
	cr_assert_null(harness_next(a));
}

Test(mod_vcard, set_then_get_round_trip)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	set_own(a, "s1", VCARD_ALICE);
	r = expect(a, "type='result'", "id='s1'", NULL);
	cr_assert_null(strstr(r, "<vCard"), "%s", r);
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='result'", "id='g1'", "<FN>Alice Liddell</FN>",
	    "<NICKNAME>alice</NICKNAME>", "xmlns='vcard-temp'", NULL);
	/* The same through the bare JID. */
	harness_send(a, "<iq type='get' id='g2' to='alice@example.org'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(a, "type='result'", "id='g2'", "from='alice@example.org'",
	    "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, set_to_own_bare_jid)
{
	struct session	*a = harness_login("alice@example.org/phone");

	harness_send(a, "<iq type='set' id='s1' to='alice@example.org'>"
	    VCARD_ALICE "</iq>");
	expect(a, "type='result'", "id='s1'", NULL);
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='result'", "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, others_may_read)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*b = harness_login("bob@example.org/pc");

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_send(b, "<iq type='get' id='g1' to='alice@example.org'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(b, "type='result'", "id='g1'", "from='alice@example.org'",
	    "to='bob@example.org/pc'", "<FN>Alice Liddell</FN>", NULL);
	cr_assert_null(harness_next(a), "the owner saw the request");
}

Test(mod_vcard, readable_while_the_owner_is_offline)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*b;

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_logout(a);
	b = harness_login("bob@example.org/pc");
	harness_send(b, "<iq type='get' id='g1' to='alice@example.org'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(b, "type='result'", "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, others_missing_vcard_is_like_missing_account)
{
	struct session	*b = harness_login("bob@example.org/pc");

	/* carol has no vCard, nobody does not exist: same answer. */
	harness_send(b, "<iq type='get' id='g1' to='carol@example.org'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(b, "type='error'", "id='g1'", "<service-unavailable", NULL);
	harness_send(b, "<iq type='get' id='g2' to='nobody@example.org'>"
	    "<vCard xmlns='vcard-temp'/></iq>");
	expect(b, "type='error'", "id='g2'", "<service-unavailable", NULL);
}

Test(mod_vcard, others_may_not_write)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*b = harness_login("bob@example.org/pc");

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_send(b, "<iq type='set' id='s2' to='alice@example.org'>"
	    "<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard></iq>");
	expect(b, "type='error'", "id='s2'", "<forbidden", "type='auth'",
	    NULL);
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, a_set_replaces_the_whole_vcard)
{
	struct session	*a = harness_login("alice@example.org/phone");
	const char	*r;

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	set_own(a, "s2", "<vCard xmlns='vcard-temp'><FN>A. L.</FN></vCard>");
	expect(a, "type='result'", NULL);
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	r = expect(a, "<FN>A. L.</FN>", NULL);
	cr_assert_null(strstr(r, "NICKNAME"), "%s", r);
}

Test(mod_vcard, an_empty_vcard_is_kept_as_sent)
{
	struct session	*a = harness_login("alice@example.org/phone");

	set_own(a, "s1", "<vCard xmlns='vcard-temp'/>");
	expect(a, "type='result'", NULL);
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='result'", "<vCard xmlns='vcard-temp'/>", NULL);
}

Test(mod_vcard, too_large_is_not_acceptable)
{
	struct session	*a = harness_login("alice@example.org/phone");
	char		 big[2048], desc[1100];

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	memset(desc, 'x', sizeof(desc) - 1);
	desc[sizeof(desc) - 1] = '\0';
	snprintf(big, sizeof(big), "<vCard xmlns='vcard-temp'><DESC>%s"
	    "</DESC></vCard>", desc);
	set_own(a, "s2", big);
	expect(a, "type='error'", "id='s2'", "<not-acceptable",
	    "type='modify'", "1024 bytes", NULL);
	/* The old one is still there. */
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, kept_across_restarts)
{
	struct session	*a = harness_login("alice@example.org/phone");

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_restart();
	a = harness_login("alice@example.org/phone");
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='result'", "<FN>Alice Liddell</FN>", NULL);
}

Test(mod_vcard, deleted_with_the_account)
{
	struct session	*a = harness_login("alice@example.org/phone");

	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_logout(a);
	cr_assert_eq(tern_user_delete("example.org", "alice"), 0);
	cr_assert_eq(tern_user_create("example.org", "alice", "pw"), 0);
	a = harness_login("alice@example.org/phone");
	harness_send(a, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(a, "type='error'", "<item-not-found", NULL);
}

Test(mod_vcard, per_host)
{
	struct session	*a = harness_login("alice@example.org/phone");
	struct session	*o = harness_login("alice@other.org/phone");

	cr_assert_eq(tern_user_create("other.org", "alice", "pw"), 0);
	set_own(a, "s1", VCARD_ALICE);
	expect(a, "type='result'", NULL);
	harness_send(o, "<iq type='get' id='g1'><vCard xmlns='vcard-temp'/>"
	    "</iq>");
	expect(o, "type='error'", "<item-not-found", NULL);
	/* alice@other.org may not write alice@example.org's vCard. */
	harness_send(o, "<iq type='set' id='s2' to='alice@example.org'>"
	    "<vCard xmlns='vcard-temp'><FN>X</FN></vCard></iq>");
	expect(o, "type='error'", "<forbidden", NULL);
}

static void
feature_cb(const char *f, void *arg)
{
	if (strcmp(f, "vcard-temp") == 0)
		(*(int *)arg)++;
}

Test(mod_vcard, disco_features)
{
	struct tern_host	*h = tern_host_find("example.org");
	int			 host = 0, account = 0;

	cr_assert_not_null(h);
	tern_host_features(h, 0, feature_cb, &host);
	tern_host_features(h, 1, feature_cb, &account);
	cr_assert_eq(host, 1);
	cr_assert_eq(account, 1);
}
