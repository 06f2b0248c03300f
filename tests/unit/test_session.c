/*
 * session.c and htab.c: binding, lookups by full and bare JID, the
 * resource list when resources come and go, and conflicts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "jid.h"
#include "session.h"

static struct session *
bind(const char *full, struct session **taken)
{
	struct jid	*j = jid_parse(full);
	struct session	*s;

	cr_assert_not_null(j);
	s = session_bind(NULL, j, taken);
	if (s == NULL)
		jid_free(j);
	return s;
}

static int
count(const char *bare)
{
	struct session	*s;
	int		 n = 0;

	for (s = session_find_bare(bare); s != NULL; s = s->next)
		n++;
	return n;
}

Test(session, bind_find_unbind)
{
	struct session	*a, *b, *c, *taken;

	a = bind("alice@example.org/phone", &taken);
	b = bind("alice@example.org/desk", &taken);
	c = bind("bob@example.org/x", &taken);
	cr_assert(a && b && c);
	cr_assert_eq(session_count(), 3);
	cr_assert_eq(session_find_full("alice@example.org/phone"), a);
	cr_assert_eq(session_find_full("alice@example.org/desk"), b);
	cr_assert_null(session_find_full("alice@example.org/none"));
	cr_assert_eq(count("alice@example.org"), 2);
	cr_assert_eq(count("bob@example.org"), 1);
	/* Unbinding the head keeps the rest reachable. */
	session_unbind(b);
	cr_assert_eq(count("alice@example.org"), 1);
	cr_assert_eq(session_find_bare("alice@example.org"), a);
	session_unbind(b);	/* twice is harmless */
	session_unbind(a);
	cr_assert_null(session_find_bare("alice@example.org"));
	cr_assert_eq(session_count(), 1);
	session_unbind(c);
	session_free(a);
	session_free(b);
	session_free(c);
	cr_assert_eq(session_count(), 0);
}

Test(session, conflict_reports_holder)
{
	struct session	*a, *taken = NULL;

	a = bind("alice@example.org/phone", &taken);
	cr_assert_not_null(a);
	cr_assert_null(bind("ALICE@example.org/phone", &taken));
	cr_assert_eq(taken, a);
	/* A different resource is not a conflict. */
	session_unbind(a);
	session_free(a);
}

Test(session, unbind_middle_of_list)
{
	struct session	*s[5], *taken;
	char		 jid[64];
	int		 i;

	for (i = 0; i < 5; i++) {
		snprintf(jid, sizeof(jid), "carol@example.org/r%d", i);
		s[i] = bind(jid, &taken);
	}
	session_unbind(s[2]);
	cr_assert_eq(count("carol@example.org"), 4);
	session_unbind(s[0]);
	session_unbind(s[4]);
	cr_assert_eq(count("carol@example.org"), 2);
	for (i = 0; i < 5; i++) {
		session_unbind(s[i]);
		session_free(s[i]);
	}
	cr_assert_null(session_find_bare("carol@example.org"));
}

Test(htab, grow_and_delete)
{
	struct htab	t;
	char		keys[1000][16];
	int		i;

	htab_init(&t);
	for (i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		cr_assert_null(htab_put(&t, keys[i], &keys[i]));
	}
	cr_assert_eq(t.n, 1000);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(htab_get(&t, keys[i]), &keys[i]);
	cr_assert_eq(htab_put(&t, keys[5], NULL), &keys[5]);
	cr_assert_eq(t.n, 1000);
	for (i = 0; i < 1000; i += 2)
		htab_del(&t, keys[i]);
	cr_assert_eq(t.n, 500);
	cr_assert_null(htab_get(&t, "k2"));
	cr_assert_eq(htab_get(&t, "k3"), &keys[3]);
	cr_assert_null(htab_del(&t, "nope"));
	htab_clear(&t);
	cr_assert_null(htab_get(&t, "k3"));
}
