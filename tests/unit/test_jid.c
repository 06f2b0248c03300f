/*
 * Unit tests for jid.c: RFC 7622 parsing, the stringprep profiles (nodeprep,
 * nameprep, resourceprep), length limits, IP literals, copies, comparison.
 * Each test owns what it allocates and frees it before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "jid.h"

/* Parses s and checks every part plus the bare and full strings. */
static void
expect(const char *s, const char *node, const char *domain,
    const char *resource, const char *bare, const char *full)
{
	struct jid	*j;

	j = jid_parse(s);
	cr_assert_not_null(j, "\"%s\" should parse", s);
	if (node == NULL)
		cr_assert_null(j->node, "\"%s\": node should be absent", s);
	else {
		cr_assert_not_null(j->node, "\"%s\": node missing", s);
		cr_assert_str_eq(j->node, node);
	}
	cr_assert_str_eq(j->domain, domain);
	if (resource == NULL)
		cr_assert_null(j->resource, "\"%s\": resource should be "
		    "absent", s);
	else {
		cr_assert_not_null(j->resource, "\"%s\": resource missing", s);
		cr_assert_str_eq(j->resource, resource);
	}
	cr_assert_str_eq(j->bare, bare);
	cr_assert_str_eq(j->full, full);
	jid_free(j);
}

static void
reject(const char *s)
{
	struct jid	*j;

	j = jid_parse(s);
	cr_assert_null(j, "\"%s\" should be rejected, got \"%s\"", s,
	    j != NULL ? j->full : "");
}

/* Prepared part, compared and freed; want NULL means "must fail". */
static void
prepped(char *got, const char *want, const char *what)
{
	if (want == NULL) {
		cr_assert_null(got, "%s should fail, got \"%s\"", what,
		    got != NULL ? got : "");
		return;
	}
	cr_assert_not_null(got, "%s should succeed", what);
	cr_assert_str_eq(got, want, "%s", what);
	free(got);
}

/* A string of n copies of c; caller frees. */
static char *
repeat(char c, size_t n)
{
	char	*s;

	s = malloc(n + 1);
	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A domain of exactly n bytes: 63-byte labels separated by dots. */
static char *
long_domain(size_t n)
{
	char	*s;
	size_t	 i;

	s = repeat('a', n);
	for (i = 63; i < n - 1; i += 64)
		s[i] = '.';
	return s;
}

static char *
join(const char *a, const char *b, const char *c)
{
	char	*s;
	size_t	 la = strlen(a), lb = strlen(b), lc = strlen(c);

	s = malloc(la + lb + lc + 1);
	cr_assert_not_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

Test(jid_parse, plain)
{
	expect("user@example.org/res", "user", "example.org", "res",
	    "user@example.org", "user@example.org/res");
	expect("user@example.org", "user", "example.org", NULL,
	    "user@example.org", "user@example.org");
	expect("example.org", NULL, "example.org", NULL,
	    "example.org", "example.org");
	expect("example.org/res", NULL, "example.org", "res",
	    "example.org", "example.org/res");
	expect("localhost", NULL, "localhost", NULL, "localhost", "localhost");
	expect("a-b.c-d.example", NULL, "a-b.c-d.example", NULL,
	    "a-b.c-d.example", "a-b.c-d.example");
}

Test(jid_parse, case_folding)
{
	expect("User@EXAMPLE.Org/ReSource", "user", "example.org",
	    "ReSource", "user@example.org", "user@example.org/ReSource");
	expect("EXAMPLE.ORG/Home", NULL, "example.org", "Home",
	    "example.org", "example.org/Home");
}

Test(jid_parse, unicode_nodeprep)
{
	expect("\xc3\x91" "and\xc3\xba@EXAMPLE.org",	/* Ñandú */
	    "\xc3\xb1" "and\xc3\xba", "example.org", NULL,
	    "\xc3\xb1" "and\xc3\xba@example.org",
	    "\xc3\xb1" "and\xc3\xba@example.org");
	/* Case folding of sharp s, and U+200B mapped to nothing. */
	expect("Stra\xc3\x9f" "e@example.org", "strasse", "example.org",
	    NULL, "strasse@example.org", "strasse@example.org");
	expect("a\xe2\x80\x8b" "b@example.org", "ab", "example.org", NULL,
	    "ab@example.org", "ab@example.org");
	/* A node that maps to nothing at all is empty, hence invalid. */
	reject("\xe2\x80\x8b@example.org");
}

Test(jid_parse, unicode_domain)
{
	expect("M\xc3\x9cNCHEN.de", NULL, "m\xc3\xbc" "nchen.de", NULL,
	    "m\xc3\xbc" "nchen.de", "m\xc3\xbc" "nchen.de");
	/* Ideographic and fullwidth full stops separate labels. */
	expect("u@example\xe3\x80\x82org", "u", "example.org", NULL,
	    "u@example.org", "u@example.org");
	expect("u@example\xef\xbc\x8eorg", "u", "example.org", NULL,
	    "u@example.org", "u@example.org");
	expect("u@example\xef\xbd\xa1org\xe3\x80\x82", "u", "example.org",
	    NULL, "u@example.org", "u@example.org");
}

Test(jid_parse, prohibited_in_node)
{
	const char	*bad = " \"&':<>";
	char		 s[32], n[4];
	size_t		 i;

	/* '@' and '/' cannot reach the node through jid_parse. */
	for (i = 0; bad[i] != '\0'; i++) {
		snprintf(s, sizeof(s), "a%cb@example.org", bad[i]);
		reject(s);
	}
	bad = " \"&'/:<>@";
	for (i = 0; bad[i] != '\0'; i++) {
		snprintf(n, sizeof(n), "a%cb", bad[i]);
		prepped(jid_prep_node(n), NULL, n);
		cr_assert_null(jid_new(n, "example.org", NULL),
		    "node \"%s\" should be rejected", n);
	}
}

Test(jid_parse, resource_with_slash_and_at)
{
	expect("a@b/c/d@e", "a", "b", "c/d@e", "a@b", "a@b/c/d@e");
	/* An '@' after the first '/' belongs to the resource. */
	expect("example.org/a@b", NULL, "example.org", "a@b",
	    "example.org", "example.org/a@b");
	expect("u@example.org//", "u", "example.org", "/",
	    "u@example.org", "u@example.org//");
	expect("u@example.org/a b", "u", "example.org", "a b",
	    "u@example.org", "u@example.org/a b");
	/* Two '@' before the '/': the second lands in the domain. */
	reject("a@b@example.org");
}

Test(jid_parse, empty_parts)
{
	reject("");
	reject("@");
	reject("/");
	reject("@/");
	reject("@example.org");
	reject("@example.org/res");
	reject("example.org/");
	reject("u@example.org/");
	reject("u@");
	reject("u@/res");
	reject("/res");
	reject(".");
	reject("u@.");
	cr_assert_null(jid_parse(NULL));
	cr_assert_null(jid_new("", "example.org", NULL));
	cr_assert_null(jid_new(NULL, "example.org", ""));
	cr_assert_null(jid_new(NULL, "", NULL));
	cr_assert_null(jid_new("u", NULL, NULL));
	cr_assert_null(jid_prep_node(""));
	cr_assert_null(jid_prep_domain(""));
	cr_assert_null(jid_prep_resource(""));
	cr_assert_null(jid_prep_node(NULL));
	cr_assert_null(jid_prep_domain(NULL));
	cr_assert_null(jid_prep_resource(NULL));
}

Test(jid_parse, node_length)
{
	struct jid	*j;
	char		*n, *s;

	n = repeat('a', JID_PART_MAX);
	s = join(n, "@example.org", "");
	j = jid_parse(s);
	cr_assert_not_null(j);
	cr_assert_eq(strlen(j->node), JID_PART_MAX);
	jid_free(j);
	free(s);
	free(n);

	n = repeat('a', JID_PART_MAX + 1);
	s = join(n, "@example.org", "");
	reject(s);
	cr_assert_null(jid_prep_node(n));
	free(s);
	free(n);
}

Test(jid_parse, resource_length)
{
	struct jid	*j;
	char		*r, *s;

	r = repeat('R', JID_PART_MAX);
	s = join("u@example.org/", r, "");
	j = jid_parse(s);
	cr_assert_not_null(j);
	cr_assert_str_eq(j->resource, r);
	jid_free(j);
	free(s);
	free(r);

	r = repeat('R', JID_PART_MAX + 1);
	s = join("u@example.org/", r, "");
	reject(s);
	cr_assert_null(jid_prep_resource(r));
	free(s);
	free(r);
}

Test(jid_parse, domain_length)
{
	struct jid	*j;
	char		*d, *s;

	d = long_domain(JID_PART_MAX);
	s = join("u@", d, "/r");
	j = jid_parse(s);
	cr_assert_not_null(j);
	cr_assert_str_eq(j->domain, d);
	jid_free(j);
	free(s);
	/* The trailing dot is not counted: it is stripped first. */
	s = join(d, ".", "");
	prepped(jid_prep_domain(s), d, "1023-byte domain with dot");
	free(s);
	free(d);

	d = long_domain(JID_PART_MAX + 1);
	s = join("u@", d, "/r");
	reject(s);
	cr_assert_null(jid_prep_domain(d));
	free(s);
	free(d);
}

Test(jid_parse, length_after_preparation)
{
	char	*a, *s, *p;
	size_t	 i, n;

	/* 1023 bytes once the soft hyphens (mapped to nothing) go. */
	a = repeat('a', JID_PART_MAX);
	n = 200;
	s = malloc(JID_PART_MAX + 2 * n + 1);
	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + 2 * i, "\xc2\xad", 2);
	memcpy(s + 2 * n, a, JID_PART_MAX + 1);
	prepped(jid_prep_node(s), a, "node with soft hyphens");
	prepped(jid_prep_resource(s), a, "resource with soft hyphens");
	free(s);

	/* Inputs over three times the limit are refused outright. */
	n = 3 * JID_PART_MAX / 2 + 1;
	s = malloc(2 * n + 2);
	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + 2 * i, "\xc2\xad", 2);
	memcpy(s + 2 * n, "a", 2);
	p = jid_prep_node(s);
	cr_assert_null(p);
	free(s);
	free(a);

	/* Expansion past the limit: U+FB03 (3 bytes) folds to "ffi". */
	n = JID_PART_MAX / 3 + 1;
	s = malloc(3 * n + 1);
	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + 3 * i, "\xef\xac\x83", 3);
	s[3 * n] = '\0';
	cr_assert_null(jid_prep_node(s));
	s[3 * (n - 1)] = '\0';
	p = jid_prep_node(s);
	cr_assert_not_null(p);
	cr_assert_eq(strlen(p), 3 * (n - 1));
	free(p);
	free(s);
}

Test(jid_parse, domain_labels)
{
	char	*l, *s;

	l = repeat('a', 63);
	s = join("u@", l, ".example.org");
	expect(s, "u", s + 2, NULL, s, s);
	free(s);
	free(l);

	l = repeat('a', 64);
	s = join("u@", l, ".example.org");
	reject(s);
	free(s);
	s = join(l, "", "");
	cr_assert_null(jid_prep_domain(s));
	free(s);
	free(l);

	reject("u@example..org");
	reject("u@.example.org");
	reject("u@exa_mple.org");
	reject("u@exa mple.org");
	reject("u@example.org:5222");
	reject("u@exa!mple.org");
	reject("u@exa\"mple.org");
	reject("u@[example.org]");
	/* U+2024 ONE DOT LEADER becomes '.' through NFKC. */
	reject("u@example.org\xe2\x80\xa4");
}

Test(jid_parse, trailing_dot)
{
	expect("u@example.org./r", "u", "example.org", "r",
	    "u@example.org", "u@example.org/r");
	expect("example.org.", NULL, "example.org", NULL,
	    "example.org", "example.org");
	reject("u@example.org..");
	reject("u@..");
	prepped(jid_prep_domain("Example.ORG."), "example.org", "domain");
}

Test(jid_parse, ip_literals)
{
	expect("u@192.0.2.1/r", "u", "192.0.2.1", "r",
	    "u@192.0.2.1", "u@192.0.2.1/r");
	expect("192.0.2.1.", NULL, "192.0.2.1", NULL,
	    "192.0.2.1", "192.0.2.1");
	expect("u@[::1]/r", "u", "[::1]", "r", "u@[::1]", "u@[::1]/r");
	expect("u@[2001:DB8::Cafe]", "u", "[2001:db8::cafe]", NULL,
	    "u@[2001:db8::cafe]", "u@[2001:db8::cafe]");
	expect("[::ffff:192.0.2.1]/r", NULL, "[::ffff:192.0.2.1]", "r",
	    "[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]/r");
	reject("u@::1");
	reject("u@[::1");
	reject("u@::1]");
	reject("u@[]");
	reject("u@[::g]");
	reject("u@[192.0.2.1]");
	reject("u@[::1%eth0]");
	reject("u@[::1]x");
}

Test(jid_parse, invalid_utf8)
{
	static const char *const bad[] = {
		"\xff",			/* never valid */
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong '/', three bytes */
		"\xf0\x80\x80\xaf",	/* overlong '/', four bytes */
		"\xc3",			/* truncated */
		"a\xc3",		/* truncated at the end */
		"\x80",			/* lone continuation */
		"\xed\xa0\x80",		/* surrogate U+D800 */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\xf8\x88\x80\x80\x80",	/* five bytes */
	};
	char	 s[64];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "%s@example.org", bad[i]);
		reject(s);
		snprintf(s, sizeof(s), "u@exa%smple.org", bad[i]);
		reject(s);
		snprintf(s, sizeof(s), "u@example.org/r%s", bad[i]);
		reject(s);
		cr_assert_null(jid_prep_node(bad[i]));
		cr_assert_null(jid_prep_domain(bad[i]));
		cr_assert_null(jid_prep_resource(bad[i]));
	}
	/* Valid multibyte UTF-8 still passes. */
	prepped(jid_prep_resource("\xc3\xa9"), "\xc3\xa9", "U+00E9");
}

Test(jid_parse, control_characters)
{
	reject("a\x01" "b@example.org");
	reject("a\tb@example.org");
	reject("u@exa\x01mple.org");
	reject("u@example.org/a\x07" "b");
	reject("u@example.org/a\tb");
	reject("u@example.org/a\nb");
	reject("u@example.org/a\x7f" "b");
	/* C1 control U+0085 */
	reject("u@example.org/a\xc2\x85" "b");
}

Test(jid_parse, prohibited_in_resource)
{
	reject("u@example.org/a\xe2\x80\x8e" "b");	/* U+200E LRM, C.8 */
	reject("u@example.org/a\xe2\x80\xae" "b");	/* U+202E RLO, C.8 */
	reject("u@example.org/a\xef\xbf\xbd" "b");	/* U+FFFD, C.6 */
	reject("u@example.org/a\xee\x80\x80" "b");	/* U+E000, C.3 */
	reject("u@example.org/\xd7\x90" "a");	/* RTL + LTR, bidi rule */
	/* NFKC turns U+00A0 into a space, which resourceprep allows. */
	prepped(jid_prep_resource("a\xc2\xa0" "b"), "a b", "nbsp");
	prepped(jid_prep_resource("Caf\xc3\xa9/1"), "Caf\xc3\xa9/1", "res");
}

Test(jid_new, parts)
{
	struct jid	*j;

	j = jid_new("User", "Example.ORG.", "a/b@c");
	cr_assert_not_null(j);
	cr_assert_str_eq(j->node, "user");
	cr_assert_str_eq(j->domain, "example.org");
	cr_assert_str_eq(j->resource, "a/b@c");
	cr_assert_str_eq(j->bare, "user@example.org");
	cr_assert_str_eq(j->full, "user@example.org/a/b@c");
	jid_free(j);

	j = jid_new(NULL, "example.org", NULL);
	cr_assert_not_null(j);
	cr_assert_null(j->node);
	cr_assert_null(j->resource);
	cr_assert_str_eq(j->full, "example.org");
	jid_free(j);

	cr_assert_null(jid_new(NULL, "u@example.org", NULL));
	cr_assert_null(jid_new(NULL, "example.org/r", NULL));
	cr_assert_null(jid_new("u", "[::1", NULL));
}

Test(jid, one_allocation)
{
	struct jid	*j;
	const char	*start, *end;

	j = jid_parse("node@example.org/res");
	cr_assert_not_null(j);
	start = (const char *)(j + 1);
	end = j->full + strlen(j->full);
	cr_assert(j->node >= start && j->node < end);
	cr_assert(j->domain > j->node && j->domain < end);
	cr_assert(j->resource > j->domain && j->resource < end);
	cr_assert(j->bare > j->resource && j->bare < end);
	cr_assert(j->full > j->bare);
	jid_free(j);
	jid_free(NULL);
}

Test(jid, copy)
{
	struct jid	*j, *c;

	j = jid_parse("User@Example.org/Res");
	cr_assert_not_null(j);
	c = jid_copy(j);
	cr_assert_not_null(c);
	cr_assert_neq(c, j);
	cr_assert_neq(c->full, j->full);
	cr_assert_str_eq(c->node, "user");
	cr_assert_str_eq(c->domain, "example.org");
	cr_assert_str_eq(c->resource, "Res");
	cr_assert_str_eq(c->bare, "user@example.org");
	cr_assert_str_eq(c->full, "user@example.org/Res");
	cr_assert(jid_equal(j, c));
	jid_free(j);
	/* The copy owns its strings. */
	cr_assert_str_eq(c->full, "user@example.org/Res");
	jid_free(c);

	j = jid_parse("example.org");
	c = jid_copy(j);
	cr_assert_null(c->node);
	cr_assert_null(c->resource);
	cr_assert_str_eq(c->full, "example.org");
	jid_free(c);
	jid_free(j);
}

Test(jid, bare_copy)
{
	struct jid	*j, *b;

	j = jid_parse("user@example.org/res");
	cr_assert_not_null(j);
	b = jid_bare_copy(j);
	cr_assert_not_null(b);
	cr_assert_str_eq(b->node, "user");
	cr_assert_str_eq(b->domain, "example.org");
	cr_assert_null(b->resource);
	cr_assert_str_eq(b->bare, "user@example.org");
	cr_assert_str_eq(b->full, "user@example.org");
	cr_assert(jid_equal_bare(j, b));
	cr_assert_not(jid_equal(j, b));
	jid_free(b);
	jid_free(j);

	j = jid_parse("example.org/res");
	b = jid_bare_copy(j);
	cr_assert_null(b->node);
	cr_assert_null(b->resource);
	cr_assert_str_eq(b->full, "example.org");
	jid_free(b);
	jid_free(j);
}

Test(jid, equal)
{
	struct jid	*a, *b, *c, *d, *e;

	a = jid_parse("User@EXAMPLE.org/Res");
	b = jid_parse("user@example.org./Res");
	c = jid_parse("user@example.org/res");
	d = jid_parse("example.org/Res");
	e = jid_parse("user@example.org");
	cr_assert(a && b && c && d && e);

	cr_assert(jid_equal(a, b));
	cr_assert(jid_equal_bare(a, b));
	cr_assert_not(jid_equal(a, c));		/* resource keeps case */
	cr_assert(jid_equal_bare(a, c));
	cr_assert_not(jid_equal(a, d));		/* node absent on one side */
	cr_assert_not(jid_equal_bare(a, d));
	cr_assert_not(jid_equal_bare(d, a));
	cr_assert_not(jid_equal(a, e));		/* resource absent */
	cr_assert_not(jid_equal(e, a));
	cr_assert(jid_equal_bare(a, e));
	cr_assert(jid_equal(e, e));
	cr_assert(jid_equal(NULL, NULL));
	cr_assert_not(jid_equal(a, NULL));
	cr_assert_not(jid_equal_bare(NULL, a));

	jid_free(a);
	jid_free(b);
	jid_free(c);
	jid_free(d);
	jid_free(e);
}

Test(jid, prep_parts)
{
	prepped(jid_prep_node("Juliet"), "juliet", "node");
	prepped(jid_prep_node("\xc3\x91" "and\xc3\xba"),
	    "\xc3\xb1" "and\xc3\xba", "unicode node");
	prepped(jid_prep_domain("EXAMPLE.org"), "example.org", "domain");
	prepped(jid_prep_domain("[::1]"), "[::1]", "ipv6 domain");
	prepped(jid_prep_domain("[FE80::1]."), "[fe80::1]", "ipv6 dot");
	prepped(jid_prep_domain("10.0.0.1"), "10.0.0.1", "ipv4 domain");
	prepped(jid_prep_domain("a@b"), NULL, "domain with @");
	prepped(jid_prep_resource("Balcony"), "Balcony", "resource");
	prepped(jid_prep_resource("a@b/c"), "a@b/c", "resource /@");
	/* U+2163 ROMAN NUMERAL FOUR: NFKC "IV", kept in case. */
	prepped(jid_prep_resource("\xe2\x85\xa3"), "IV", "resource nfkc");
}
