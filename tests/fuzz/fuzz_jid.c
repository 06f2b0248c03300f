/*
 * libFuzzer target: JID parsing and preparation (jid.c).  A JID that
 * parses must be stable: its full string parses again to the same JID,
 * bare and full agree with the parts, every part fits JID_PART_MAX, and
 * building it from its parts or preparing a part again changes nothing.
 * Any broken rule aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what, const char *input)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_jid: %s (input \"%s\")\n", what, input);
	abort();
}

static int
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static size_t
len0(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Preparing a prepared part again gives it back. */
static void
check_prep(char *(*prep)(const char *), const char *part, const char *in)
{
	char	*again;

	if (part == NULL)
		return;
	again = prep(part);
	check(again != NULL, "a prepared part does not prepare again", in);
	check(strcmp(again, part) == 0, "preparation is not idempotent", in);
	free(again);
}

static void
check_jid(const struct jid *j, const char *in)
{
	struct jid	*again, *bare, *built;
	char		*s;

	check(j->domain != NULL, "no domain", in);
	check(j->node == NULL || j->node[0] != '\0', "empty node", in);
	check(j->domain[0] != '\0', "empty domain", in);
	check(j->resource == NULL || j->resource[0] != '\0', "empty resource",
	    in);
	check(len0(j->node) <= JID_PART_MAX && strlen(j->domain) <=
	    JID_PART_MAX && len0(j->resource) <= JID_PART_MAX,
	    "a part is longer than JID_PART_MAX", in);

	if (j->node != NULL)
		xasprintf(&s, "%s@%s", j->node, j->domain);
	else
		s = xstrdup(j->domain);
	check(strcmp(s, j->bare) == 0, "bare is not node@domain",
	    in);
	free(s);
	if (j->resource != NULL)
		xasprintf(&s, "%s/%s", j->bare, j->resource);
	else
		s = xstrdup(j->bare);
	check(strcmp(s, j->full) == 0, "full is not bare/resource",
	    in);
	free(s);

	again = jid_parse(j->full);
	check(again != NULL, "full JID does not parse again", in);
	check(strcmp(again->full, j->full) == 0, "parsing full is not "
	    "idempotent", in);
	check(streq(again->node, j->node) && streq(again->domain, j->domain) &&
	    streq(again->resource, j->resource), "parts differ after a "
	    "second parse", in);
	check(jid_equal(j, again) && jid_equal_bare(j, again),
	    "jid_equal is false for the same JID", in);
	jid_free(again);

	again = jid_parse(j->bare);
	check(again != NULL && strcmp(again->full, j->bare) == 0,
	    "bare JID does not parse to itself", in);
	jid_free(again);

	bare = jid_bare_copy(j);
	check(strcmp(bare->full, j->bare) == 0 && bare->resource == NULL,
	    "jid_bare_copy differs from bare", in);
	check(jid_equal_bare(j, bare), "jid_equal_bare is false", in);
	check(j->resource != NULL || jid_equal(j, bare),
	    "a bare JID differs from its bare copy", in);
	jid_free(bare);

	built = jid_new(j->node, j->domain, j->resource);
	check(built != NULL && strcmp(built->full, j->full) == 0,
	    "jid_new from the parts differs", in);
	jid_free(built);
	built = jid_copy(j);
	check(strcmp(built->full, j->full) == 0 && jid_equal(j, built),
	    "jid_copy differs", in);
	jid_free(built);

	check_prep(jid_prep_node, j->node, in);
	check_prep(jid_prep_domain, j->domain, in);
	check_prep(jid_prep_resource, j->resource, in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jid	*j;
	char		*s, *p;

	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if ((j = jid_parse(s)) != NULL) {
		check_jid(j, s);
		jid_free(j);
	}
	/* The same bytes as one part, through each profile. */
	check_prep(jid_prep_node, p = jid_prep_node(s), s);
	free(p);
	check_prep(jid_prep_domain, p = jid_prep_domain(s), s);
	free(p);
	check_prep(jid_prep_resource, p = jid_prep_resource(s), s);
	free(p);
	free(s);
	return 0;
}
