/*
 * s2s pieces that need no network: XEP-0185 dialback keys (the XEP's
 * own example), namespace conversion between jabber:client and
 * jabber:server, and the SRV response parser and ordering (DNS answers
 * are peer-controlled input).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "s2s.h"
#include "s2s_dns.h"
#include "s2s_int.h"
#include "stanza.h"

Test(s2s, dialback_key_xep0185_example)
{
	static const char	secret[] = "s3cr3tf0rd14lb4ck";
	char			key[S2S_KEY_LEN + 1];

	s2s_set_secret(secret, strlen(secret));
	/*
	 * The XEP's inputs, run through its algorithm (HMAC-SHA256 keyed
	 * with the hex SHA-256 of the secret, a7136eb1...; Prosody does
	 * the same) by Python's hmac module.
	 */
	s2s_key("domain2.tld", "domain1.tld", "D60000229F", key);
	cr_assert_str_eq(key, "5e598fae34b90be084fb6a4a8a543ceb33549140ba"
	    "c9d829ef8d734d900616e4");
	cr_assert(s2s_key_check("domain2.tld", "domain1.tld", "D60000229F",
	    key));
	cr_assert(!s2s_key_check("domain1.tld", "domain2.tld", "D60000229F",
	    key));
	cr_assert(!s2s_key_check("domain2.tld", "domain1.tld", "D60000229G",
	    key));
	key[10] = key[10] == '0' ? '1' : '0';
	cr_assert(!s2s_key_check("domain2.tld", "domain1.tld", "D60000229F",
	    key));
	cr_assert(!s2s_key_check("domain2.tld", "domain1.tld", "D60000229F",
	    ""));
}

Test(s2s, namespace_copy)
{
	struct stanza	*m, *c, *body, *x;

	m = stanza_new(STANZA_NS_CLIENT, "message");
	stanza_add_text_child(m, NULL, "body", "hi");
	x = stanza_add_child(m, "urn:example", "x");
	stanza_add_child(x, STANZA_NS_CLIENT, "inner");
	c = s2s_ns_copy(m, STANZA_NS_CLIENT, STANZA_NS_SERVER);
	cr_assert_str_eq(c->ns, STANZA_NS_SERVER);
	body = stanza_child(c, STANZA_NS_SERVER, "body");
	cr_assert_not_null(body);
	cr_assert_not_null(stanza_child(c, "urn:example", "x"));
	cr_assert_not_null(stanza_child(stanza_child(c, "urn:example", "x"),
	    STANZA_NS_SERVER, "inner"));
	/* The original is untouched. */
	cr_assert_str_eq(m->ns, STANZA_NS_CLIENT);
	cr_assert_not_null(stanza_child(m, STANZA_NS_CLIENT, "body"));
	cr_assert_eq(stanza_kind(c), STANZA_MESSAGE);
	stanza_unref(c);
	stanza_unref(m);
}

/* A response to "_xmpp-server._tcp.b.test SRV" with the given answers. */
static size_t
response(unsigned char *m, int rcode, const unsigned char *ans,
    size_t anslen, int nans)
{
	static const unsigned char	q[] =
	    "\x0c_xmpp-server\x04_tcp\x01" "b\x04test\x00\x00\x21\x00\x01";
	size_t				n = 0;

	memcpy(m, "\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	m[3] = (unsigned char)(0x80 | rcode);
	m[7] = (unsigned char)nans;
	n = 12;
	memcpy(m + n, q, sizeof(q) - 1);
	n += sizeof(q) - 1;
	memcpy(m + n, ans, anslen);
	return n + anslen;
}

Test(s2s, srv_parse)
{
	/* Two records: one with a full target, one compressed into it. */
	static const unsigned char	ans[] =
	    "\xc0\x0c\x00\x21\x00\x01\x00\x00\x00\x3c\x00\x13"
	    "\x00\x0a\x00\x05\x14\x95\x04xmpp\x01" "b\x04test\x00"
	    "\xc0\x0c\x00\x21\x00\x01\x00\x00\x00\x3c\x00\x0c"
	    "\x00\x14\x00\x00\x14\x96\x03" "alt\xc0\x1e";
	unsigned char			m[512];
	struct s2s_srv			v[4];
	size_t				n = 0, len;
	int				nx = 0;

	len = response(m, 0, ans, sizeof(ans) - 1, 2);
	cr_assert_eq(s2s_dns_parse_srv(m, len, 1, v, 4, &n, &nx), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(nx, 0);
	cr_assert_str_eq(v[0].host, "xmpp.b.test");
	cr_assert_eq(v[0].prio, 10);
	cr_assert_eq(v[0].weight, 5);
	cr_assert_eq(v[0].port, 5269);
	cr_assert_eq(v[0].tls, 1);
	cr_assert_str_eq(v[1].host, "alt.b.test");
	cr_assert_eq(v[1].port, 5270);

	/* Room for one: the second is not written. */
	n = 0;
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 1, &n, &nx), 0);
	cr_assert_eq(n, 1);

	/* Every truncation fails or yields fewer records, never more. */
	for (size_t cut = 0; cut < len; cut++) {
		n = 0;
		(void)s2s_dns_parse_srv(m, cut, 0, v, 4, &n, &nx);
		cr_assert(n <= 2);
	}
}

Test(s2s, srv_parse_hostile)
{
	/* A compression pointer to itself (offset 60), one past the end. */
	static const unsigned char	loop[] =
	    "\xc0\x0c\x00\x21\x00\x01\x00\x00\x00\x3c\x00\x08"
	    "\x00\x0a\x00\x05\x14\x95\xc0\x3c";
	static const unsigned char	past[] =
	    "\xc0\x0c\x00\x21\x00\x01\x00\x00\x00\x3c\x00\x08"
	    "\x00\x0a\x00\x05\x14\x95\xc1\xff";
	unsigned char			m[512];
	struct s2s_srv			v[4];
	size_t				n = 0, len;
	int				nx = 0;

	len = response(m, 0, loop, sizeof(loop) - 1, 1);
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 4, &n, &nx), -1);
	len = response(m, 0, past, sizeof(past) - 1, 1);
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 4, &n, &nx), -1);
	/* More answers announced than present. */
	len = response(m, 0, past, 0, 5);
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 4, &n, &nx), -1);
	cr_assert_eq(n, 0);
	/* A query, not a response. */
	len = response(m, 0, past, 0, 0);
	m[2] = 0x01;
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 4, &n, &nx), -1);
	/* NXDOMAIN. */
	len = response(m, 3, past, 0, 0);
	cr_assert_eq(s2s_dns_parse_srv(m, len, 0, v, 4, &n, &nx), 0);
	cr_assert_eq(nx, 1);
	cr_assert_eq(n, 0);
}

static void
srv_set(struct s2s_srv *v, const char *host, unsigned prio, unsigned weight)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->host, sizeof(v->host), "%s", host);
	v->prio = prio;
	v->weight = weight;
}

Test(s2s, srv_order)
{
	struct s2s_srv	v[5];
	int		first_b = 0, i, k;

	for (k = 0; k < 400; k++) {
		srv_set(&v[0], "low", 20, 0);
		srv_set(&v[1], "a", 10, 1);
		srv_set(&v[2], "b", 10, 9);
		srv_set(&v[3], "zero", 10, 0);
		srv_set(&v[4], "top", 0, 0);
		s2s_dns_order(v, 5);
		cr_assert_str_eq(v[0].host, "top");
		cr_assert_str_eq(v[4].host, "low");
		for (i = 1; i < 4; i++)
			cr_assert_eq(v[i].prio, 10);
		first_b += strcmp(v[1].host, "b") == 0;
	}
	/* Weight 9 of 10 goes first about 90% of the time. */
	cr_assert(first_b > 300 && first_b < 390, "b first %d/400", first_b);
}
