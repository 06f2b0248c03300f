/* mod_disco on the in-process harness: XEP-0030 and XEP-0115. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "harness.h"
#include "tern/module.h"

#define NS_INFO		"http://jabber.org/protocol/disco#info"
#define NS_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_CAPS		"http://jabber.org/protocol/caps"
#define CAPS_NODE	"https://tern.example/caps"

static size_t
count(const char *hay, const char *needle)
{
	size_t	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

#define HAS(r, s)	cr_assert_not_null(strstr((r), (s)), "%s", (r))
#define HASNT(r, s)	cr_assert_null(strstr((r), (s)), "%s", (r))

/* Sends xml from a, returns the one answer (and checks there is one). */
static const char *
ask(struct session *a, const char *xml)
{
	static char	 buf[16384];
	const char	*r;

	harness_send(a, xml);
	r = harness_next(a);
	cr_assert_not_null(r, "no answer to %s", xml);
	cr_assert_lt(strlen(r), sizeof(buf));
	strcpy(buf, r);
	cr_assert_null(harness_next(a), "more than one answer to %s", xml);
	return buf;
}

/* base64(SHA-1(s)), computed here independently of the module. */
static void
sha1_b64(const char *s, char out[64])
{
	unsigned char	dig[EVP_MAX_MD_SIZE];
	unsigned int	len;

	cr_assert_eq(EVP_Digest(s, strlen(s), dig, &len, EVP_sha1(), NULL),
	    1);
	EVP_EncodeBlock((unsigned char *)out, dig, (int)len);
}

/* The <c/> the module adds to stream features, as XML. */
static char *
caps_feature(int authenticated)
{
	struct tern_event	 ev;
	struct tern_stanza	*f, *c;
	char			*xml;

	memset(&ev, 0, sizeof(ev));
	f = tern_stanza_new("http://etherx.jabber.org/streams", "features");
	ev.features = f;
	ev.authenticated = authenticated;
	tern_fire(tern_host_find("example.org"), "stream-features", &ev);
	c = tern_stanza_child(f, NS_CAPS, "c");
	cr_assert_not_null(c, "no caps in the stream features");
	cr_assert_eq(tern_stanza_nelements(f), 1);
	cr_assert_str_eq(tern_stanza_attr(c, "hash"), "sha-1");
	cr_assert_str_eq(tern_stanza_attr(c, "node"), CAPS_NODE);
	xml = strdup(tern_stanza_attr(c, "ver"));
	tern_stanza_unref(f);
	return xml;
}

TestSuite(mod_disco, .fini = harness_stop);

/* The helper above reproduces XEP-0115 5.2's example. */
Test(mod_disco_helper, hash_helper_matches_xep_0115_example)
{
	char	ver[64];

	sha1_b64("client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<"
	    "http://jabber.org/protocol/disco#info<"
	    "http://jabber.org/protocol/disco#items<"
	    "http://jabber.org/protocol/muc<", ver);
	cr_assert_str_eq(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

Test(mod_disco, server_info_lists_exactly_the_enabled_modules)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco ping version;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='i1' to='example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "id='i1'");
	HAS(r, "from='example.org'");
	HAS(r, "to='alice@example.org/phone'");
	HAS(r, "<identity category='server' type='im' name='tern'/>");
	cr_assert_eq(count(r, "<identity "), 1, "%s", r);
	HAS(r, "<feature var='" NS_INFO "'/>");
	HAS(r, "<feature var='" NS_ITEMS "'/>");
	HAS(r, "<feature var='urn:xmpp:ping'/>");
	HAS(r, "<feature var='jabber:iq:version'/>");
	cr_assert_eq(count(r, "<feature "), 4, "%s", r);
	HASNT(r, "node=");
}

Test(mod_disco, disco_alone_lists_only_itself)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='i1' to='example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	cr_assert_eq(count(r, "<feature "), 2, "%s", r);
	HAS(r, "<feature var='" NS_INFO "'/>");
	HAS(r, "<feature var='" NS_ITEMS "'/>");
}

Test(mod_disco, features_are_sorted_and_unique)
{
	struct session	*a;
	const char	*r, *p1, *p2, *p3, *p4;

	harness_start("modules version ping disco time last;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='i1' to='example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	cr_assert_eq(count(r, "<feature "), 6, "%s", r);
	p1 = strstr(r, NS_INFO);
	p2 = strstr(r, "jabber:iq:last");
	p3 = strstr(r, "jabber:iq:version");
	p4 = strstr(r, "urn:xmpp:time");
	cr_assert(p1 && p2 && p3 && p4 && p1 < p2 && p2 < p3 && p3 < p4,
	    "%s", r);
}

Test(mod_disco, caps_in_stream_features_match_the_info)
{
	struct session	*a;
	char		 want[64], node[256], *ver, *ver2;
	const char	*r;

	harness_start("modules disco ping version;");
	sha1_b64("server/im//tern<" NS_INFO "<" NS_ITEMS "<"
	    "jabber:iq:version<urn:xmpp:ping<", want);
	ver = caps_feature(0);
	cr_assert_str_eq(ver, want);
	ver2 = caps_feature(1);
	cr_assert_str_eq(ver2, want);
	free(ver2);

	/* XEP-0115 6.2: disco#info to NODE#VER is the same answer. */
	a = harness_login("alice@example.org/phone");
	snprintf(node, sizeof(node), "<iq type='get' id='c1' "
	    "to='example.org'><query xmlns='" NS_INFO "' node='%s#%s'/>"
	    "</iq>", CAPS_NODE, ver);
	r = ask(a, node);
	HAS(r, "type='result'");
	HAS(r, ver);
	HAS(r, "<identity category='server' type='im' name='tern'/>");
	cr_assert_eq(count(r, "<feature "), 4, "%s", r);
	free(ver);
}

Test(mod_disco, caps_differ_with_other_modules)
{
	char	want[64], *ver;

	harness_start("modules disco;");
	sha1_b64("server/im//tern<" NS_INFO "<" NS_ITEMS "<", want);
	ver = caps_feature(1);
	cr_assert_str_eq(ver, want);
	free(ver);
}

Test(mod_disco, unknown_node_is_item_not_found)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='n1' to='example.org'>"
	    "<query xmlns='" NS_INFO "' node='nope'/></iq>");
	HAS(r, "type='error'");
	HAS(r, "<item-not-found");
	HAS(r, "type='cancel'");
	r = ask(a, "<iq type='get' id='n2' to='example.org'>"
	    "<query xmlns='" NS_INFO "' node='" CAPS_NODE "#wrong'/></iq>");
	HAS(r, "<item-not-found");
	r = ask(a, "<iq type='get' id='n3' to='example.org'>"
	    "<query xmlns='" NS_ITEMS "' node='nope'/></iq>");
	HAS(r, "<item-not-found");
	/* An empty node is no node. */
	r = ask(a, "<iq type='get' id='n4' to='example.org'>"
	    "<query xmlns='" NS_INFO "' node=''/></iq>");
	HAS(r, "type='result'");
}

Test(mod_disco, server_items_are_empty)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco ping;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='t1' to='example.org'>"
	    "<query xmlns='" NS_ITEMS "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "id='t1'");
	HAS(r, "<query xmlns='" NS_ITEMS "'/>");
}

Test(mod_disco, account_info_for_anyone)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco ping version last;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='b1' to='bob@example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "from='bob@example.org'");
	HAS(r, "<identity category='account' type='registered'/>");
	cr_assert_eq(count(r, "<identity "), 1, "%s", r);
	HAS(r, "<feature var='" NS_INFO "'/>");
	HAS(r, "<feature var='" NS_ITEMS "'/>");
	HAS(r, "<feature var='jabber:iq:last'/>");
	cr_assert_eq(count(r, "<feature "), 3, "%s", r);
	r = ask(a, "<iq type='get' id='b2' to='bob@example.org'>"
	    "<query xmlns='" NS_ITEMS "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "<query xmlns='" NS_ITEMS "'/>");
}

Test(mod_disco, own_account_without_to_answers_from_the_bare_jid)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='s1'><query xmlns='" NS_INFO "'/>"
	    "</iq>");
	HAS(r, "type='result'");
	HAS(r, "from='alice@example.org'");
	HAS(r, "<identity category='account' type='registered'/>");
	r = ask(a, "<iq type='get' id='s2' to='alice@example.org'>"
	    "<query xmlns='" NS_INFO "' node='x'/></iq>");
	HAS(r, "<item-not-found");
	r = ask(a, "<iq type='get' id='s3' to='alice@example.org'>"
	    "<query xmlns='" NS_ITEMS "' node='x'/></iq>");
	HAS(r, "<item-not-found");
}

Test(mod_disco, missing_account_is_service_unavailable)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='m1' to='nobody@example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	HAS(r, "type='error'");
	HAS(r, "<service-unavailable");
}

Test(mod_disco, other_host_has_its_own_answer)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='get' id='o1' to='other.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	HAS(r, "type='result'");
	HAS(r, "from='other.org'");
}

Test(mod_disco, set_is_not_answered_as_get)
{
	struct session	*a;
	const char	*r;

	harness_start("modules disco;");
	a = harness_login("alice@example.org/phone");
	r = ask(a, "<iq type='set' id='x1' to='example.org'>"
	    "<query xmlns='" NS_INFO "'/></iq>");
	HAS(r, "type='error'");
	HAS(r, "<service-unavailable");
}

Test(mod_disco, survives_restart)
{
	struct session	*a;
	char		*v1, *v2;

	harness_start("modules disco ping;");
	v1 = caps_feature(0);
	harness_restart();
	v2 = caps_feature(0);
	cr_assert_str_eq(v1, v2);
	free(v1);
	free(v2);
	a = harness_login("alice@example.org/phone");
	cr_assert_not_null(strstr(ask(a, "<iq type='get' id='r1' "
	    "to='example.org'><query xmlns='" NS_INFO "'/></iq>"),
	    "urn:xmpp:ping"));
}
