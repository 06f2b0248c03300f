/*
 * JID parsing, preparation and comparison (RFC 7622 syntax, RFC 3920
 * stringprep profiles through libidn).  The only file that prepares JIDs.
 *
 * Every function borrows its arguments.  A struct jid is one allocation:
 * the struct followed by its strings, so jid_free() is a single free().
 * Preparation helpers return strings the caller frees.  Nothing here logs:
 * an invalid JID is NULL, and the caller decides what that means.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include <stringprep.h>

#include "jid.h"
#include "xmalloc.h"

/*
 * Preparation may shrink a part (mapping to nothing, NFKC), so inputs a
 * little longer than JID_PART_MAX are accepted; beyond this they are
 * refused before any work is done.
 */
#define PREP_IN_MAX	(3 * JID_PART_MAX)
#define LABEL_MAX	63

static int	 utf8_valid(const char *, size_t);
static char	*prep(const char *, size_t, const Stringprep_profile *);
static char	*prep_domain(const char *, size_t);
static char	*ip_literal(char *, size_t);
static int	 hostname_valid(const char *);
static char	*put(char **, const char *, size_t);
static struct jid *build(const char *, const char *, const char *);
static struct jid *make(const char *, size_t, const char *, size_t,
		    const char *, size_t);
static int	 streq(const char *, const char *);

/*
 * Strict UTF-8 (Unicode table 3-7): no overlong forms, no surrogates,
 * nothing above U+10FFFF, and no NUL.  libidn validates too; this keeps
 * the guarantee independent of its version.
 */
static int
utf8_valid(const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i, n, k;
	unsigned char		 lo, hi;

	for (i = 0; i < len; i += n) {
		lo = 0x80;
		hi = 0xbf;
		if (s[i] == 0x00)
			return 0;
		else if (s[i] < 0x80)
			n = 1;
		else if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 2;
		else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 3;
			if (s[i] == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (s[i] == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 4;
			if (s[i] == 0xf0)
				lo = 0x90;	/* overlong */
			else if (s[i] == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return 0;
		if (n > len - i)
			return 0;
		for (k = 1; k < n; k++) {
			if (s[i + k] < lo || s[i + k] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
	}
	return 1;
}

/*
 * The same three profiles for ASCII input, without libidn (which costs
 * about a tenth of the server's CPU when every stanza's 'to' is
 * prepared): for ASCII, B.1 maps nothing, NFKC changes nothing and no
 * character is right-to-left, so nodeprep and nameprep only fold A-Z,
 * resourceprep keeps everything, and the prohibited characters are the
 * ASCII controls (nodeprep and resourceprep), space and "&'/:<>@
 * (nodeprep).  Returns the prepared copy, "" (allocated) when a
 * prohibited character makes it fail, or NULL for non-ASCII input or a
 * result too long (libidn then decides, so the answer stays one).
 * tests/unit/test_jid.c compares both for every short ASCII string.
 */
static char *
prep_ascii(const char *s, size_t len, const Stringprep_profile *profile)
{
	int	 node = profile == stringprep_xmpp_nodeprep;
	int	 fold = node || profile == stringprep_nameprep;
	int	 ctl = node || profile == stringprep_xmpp_resourceprep;
	char	*buf;
	size_t	 i;

	if (len > JID_PART_MAX || (!fold && !ctl))
		return NULL;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return NULL;
	buf = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if ((ctl && (c < 0x20 || c == 0x7f)) ||
		    (node && strchr(" \"&'/:<>@", c) != NULL)) {
			buf[0] = '\0';
			return buf;
		}
		buf[i] = fold && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
	}
	buf[len] = '\0';
	return buf;
}

/*
 * Runs one stringprep profile over s[0..len).  stringprep works in place
 * and fails with STRINGPREP_TOO_SMALL_BUFFER when the result does not fit,
 * so a buffer of JID_PART_MAX + 1 bytes (or the input's size, if larger)
 * is enough: a result that does not fit is too long anyway.
 */
static char *
prep(const char *s, size_t len, const Stringprep_profile *profile)
{
	char	*buf;
	size_t	 size;

	if (len == 0 || len > PREP_IN_MAX || !utf8_valid(s, len))
		return NULL;
	if ((buf = prep_ascii(s, len, profile)) != NULL)
		return buf[0] == '\0' ? (free(buf), NULL) : buf;
	size = (len > JID_PART_MAX ? len : JID_PART_MAX) + 1;
	buf = xmalloc(size);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (stringprep(buf, size, 0, profile) != STRINGPREP_OK ||
	    buf[0] == '\0' || strlen(buf) > JID_PART_MAX) {
		free(buf);
		return NULL;
	}
	/* Prepared parts live as long as sessions: keep only their bytes. */
	return xreallocarray(buf, strlen(buf) + 1, 1);
}

/*
 * An IP literal, kept as written but lower-cased: "[v6]" or dotted-quad
 * IPv4.  Returns buf, or NULL (buf untouched) if it is not one.
 */
static char *
ip_literal(char *buf, size_t len)
{
	char		 in6[INET6_ADDRSTRLEN];
	unsigned char	 addr[sizeof(struct in6_addr)];
	size_t		 i;

	if (buf[0] == '[') {
		if (len < 3 || buf[len - 1] != ']' ||
		    len - 2 >= sizeof(in6))
			return NULL;
		memcpy(in6, buf + 1, len - 2);
		in6[len - 2] = '\0';
		if (inet_pton(AF_INET6, in6, addr) != 1)
			return NULL;
		for (i = 0; i < len; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] += 'a' - 'A';
		return buf;
	}
	if (inet_pton(AF_INET, buf, addr) == 1)
		return buf;
	return NULL;
}

/*
 * After nameprep: labels of 1..63 bytes, ASCII limited to letters,
 * digits and '-' (non-ASCII survives nameprep and is allowed).
 */
static int
hostname_valid(const char *s)
{
	size_t	label = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (++label > LABEL_MAX)
			return 0;
		if ((unsigned char)*s >= 0x80 ||
		    (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-')
			continue;
		return 0;
	}
	return label != 0;
}

/*
 * Domain part: label separators U+3002, U+FF0E and U+FF61 become '.'
 * (RFC 7622 3.2.1), one trailing '.' goes, then either an IP literal or
 * a nameprepped host name.
 */
static char *
prep_domain(const char *s, size_t len)
{
	static const char *const dots[] = {
		"\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1"
	};
	char	*buf, *out;
	size_t	 i, k, n;

	if (len == 0 || len > PREP_IN_MAX || !utf8_valid(s, len))
		return NULL;
	buf = xmalloc(len + 1);
	for (i = n = 0; i < len; ) {
		for (k = 0; k < sizeof(dots) / sizeof(dots[0]); k++)
			if (len - i >= 3 && memcmp(s + i, dots[k], 3) == 0)
				break;
		if (k < sizeof(dots) / sizeof(dots[0])) {
			buf[n++] = '.';
			i += 3;
		} else
			buf[n++] = s[i++];
	}
	if (n > 0 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	if (n == 0) {
		free(buf);
		return NULL;
	}
	if (ip_literal(buf, n) != NULL) {
		if (n <= JID_PART_MAX)
			return buf;
		free(buf);
		return NULL;
	}
	out = prep(buf, n, stringprep_nameprep);
	free(buf);
	if (out != NULL && !hostname_valid(out)) {
		free(out);
		return NULL;
	}
	return out;
}

/* Copies len bytes of s to *p, NUL-terminates, advances *p. */
static char *
put(char **p, const char *s, size_t len)
{
	char	*start = *p;

	memcpy(start, s, len);
	start[len] = '\0';
	*p = start + len + 1;
	return start;
}

/* One allocation from parts already prepared; node, resource may be NULL. */
static struct jid *
build(const char *node, const char *domain, const char *resource)
{
	struct jid	*j;
	size_t		 nlen, dlen, rlen, blen, flen;
	char		*p;

	nlen = node != NULL ? strlen(node) + 1 : 0;	/* with '@' or NUL */
	dlen = strlen(domain);
	rlen = resource != NULL ? strlen(resource) + 1 : 0; /* with '/' */
	blen = nlen + dlen;
	flen = blen + rlen;
	j = xmalloc(sizeof(*j) + nlen + dlen + 1 + rlen + blen + 1 + flen + 1);
	p = (char *)(j + 1);
	j->node = node != NULL ? put(&p, node, nlen - 1) : NULL;
	j->domain = put(&p, domain, dlen);
	j->resource = resource != NULL ? put(&p, resource, rlen - 1) : NULL;

	j->bare = p;
	if (node != NULL) {
		memcpy(p, node, nlen - 1);
		p[nlen - 1] = '@';
	}
	memcpy(p + nlen, domain, dlen);
	p[blen] = '\0';
	p += blen + 1;

	j->full = p;
	memcpy(p, j->bare, blen);
	if (resource != NULL) {
		p[blen] = '/';
		memcpy(p + blen + 1, resource, rlen - 1);
	}
	p[flen] = '\0';
	return j;
}

/* Prepares and builds; node and resource NULL when absent. */
static struct jid *
make(const char *node, size_t nlen, const char *domain, size_t dlen,
    const char *resource, size_t rlen)
{
	struct jid	*j = NULL;
	char		*n = NULL, *d = NULL, *r = NULL;

	if (node != NULL &&
	    (n = prep(node, nlen, stringprep_xmpp_nodeprep)) == NULL)
		goto done;
	if ((d = prep_domain(domain, dlen)) == NULL)
		goto done;
	if (resource != NULL &&
	    (r = prep(resource, rlen, stringprep_xmpp_resourceprep)) == NULL)
		goto done;
	j = build(n, d, r);
 done:
	free(n);
	free(d);
	free(r);
	return j;
}

/*
 * RFC 7622 3.1: the resource is everything after the first '/'; the node
 * is what precedes the first '@' before that '/'.
 */
struct jid *
jid_parse(const char *s)
{
	const char	*slash, *at, *domain, *resource = NULL;
	size_t		 len, before, rlen = 0;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if ((slash = strchr(s, '/')) != NULL) {
		resource = slash + 1;
		rlen = len - (size_t)(resource - s);
		before = (size_t)(slash - s);
	} else
		before = len;
	at = memchr(s, '@', before);
	domain = at != NULL ? at + 1 : s;
	return make(at != NULL ? s : NULL, at != NULL ? (size_t)(at - s) : 0,
	    domain, before - (size_t)(domain - s), resource, rlen);
}

struct jid *
jid_new(const char *node, const char *domain, const char *resource)
{
	if (domain == NULL)
		return NULL;
	return make(node, node != NULL ? strlen(node) : 0,
	    domain, strlen(domain),
	    resource, resource != NULL ? strlen(resource) : 0);
}

struct jid *
jid_copy(const struct jid *j)
{
	return build(j->node, j->domain, j->resource);
}

struct jid *
jid_bare_copy(const struct jid *j)
{
	return build(j->node, j->domain, NULL);
}

void
jid_free(struct jid *j)
{
	free(j);
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
jid_equal_bare(const struct jid *a, const struct jid *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return streq(a->node, b->node) && streq(a->domain, b->domain);
}

int
jid_equal(const struct jid *a, const struct jid *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return jid_equal_bare(a, b) && streq(a->resource, b->resource);
}

char *
jid_prep_node(const char *s)
{
	if (s == NULL)
		return NULL;
	return prep(s, strlen(s), stringprep_xmpp_nodeprep);
}

char *
jid_prep_domain(const char *s)
{
	if (s == NULL)
		return NULL;
	return prep_domain(s, strlen(s));
}

char *
jid_prep_resource(const char *s)
{
	if (s == NULL)
		return NULL;
	return prep(s, strlen(s), stringprep_xmpp_resourceprep);
}
