/*
 * jid.c prepares ASCII JID parts without libidn (prep_ascii); this test
 * includes jid.c to reach it and checks that its answers are libidn's,
 * for every ASCII string of one and two characters and many random
 * longer ones, in each of the three profiles.
 */
#include "../../src/jid.c"

#include <stdio.h>

#include <criterion/criterion.h>

/* libidn's answer, as prep() computed it before the fast path. */
static char *
reference(const char *s, size_t len, const Stringprep_profile *profile)
{
	char	buf[JID_PART_MAX + 64];

	if (len >= sizeof(buf) - 1)
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (stringprep(buf, sizeof(buf), 0, profile) != STRINGPREP_OK ||
	    buf[0] == '\0' || strlen(buf) > JID_PART_MAX)
		return NULL;
	return xstrdup(buf);
}

static const struct {
	const char			*name;
	const Stringprep_profile	*profile;
} profiles[] = {
	{ "nodeprep", NULL }, { "resourceprep", NULL }, { "nameprep", NULL },
};

static const Stringprep_profile *
profile_of(int i)
{
	return i == 0 ? stringprep_xmpp_nodeprep : i == 1 ?
	    stringprep_xmpp_resourceprep : stringprep_nameprep;
}

static void
same(const char *s, size_t len, int p)
{
	char	*fast = prep(s, len, profile_of(p));
	char	*ref = reference(s, len, profile_of(p));

	if (ref == NULL)
		cr_assert_null(fast, "%s of %zu bytes starting 0x%02x: "
		    "libidn refuses, fast path gave \"%s\"", profiles[p].name,
		    len, (unsigned char)s[0], fast);
	else {
		cr_assert_not_null(fast, "%s of \"%.*s\": libidn gives "
		    "\"%s\", fast path refused", profiles[p].name, (int)len, s,
		    ref);
		cr_assert_str_eq(fast, ref, "%s of \"%.*s\"", profiles[p].name,
		    (int)len, s);
	}
	free(fast);
	free(ref);
}

Test(jid_ascii, every_one_and_two_character_string)
{
	char	s[2];
	int	a, b, p;

	for (p = 0; p < 3; p++)
		for (a = 1; a < 0x80; a++) {
			s[0] = (char)a;
			same(s, 1, p);
			for (b = 1; b < 0x80; b++) {
				s[1] = (char)b;
				same(s, 2, p);
			}
		}
}

Test(jid_ascii, random_longer_strings)
{
	unsigned	 seed = 12345;
	char		 s[1100];
	size_t		 len, i;
	int		 n, p;

	for (n = 0; n < 20000; n++) {
		seed = seed * 1103515245 + 12345;
		len = 1 + (seed >> 8) % (n % 100 == 0 ? 1030 : 24);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			/* Mostly printable, sometimes anything ASCII. */
			s[i] = (char)((seed >> 16) % 10 == 0 ?
			    1 + (seed >> 8) % 127 : 0x20 + (seed >> 8) % 95);
		}
		for (p = 0; p < 3; p++)
			same(s, len, p);
	}
}

Test(jid_ascii, non_ascii_still_goes_to_libidn)
{
	char	*r = prep("\xc3\x84" "bc", 4, stringprep_xmpp_nodeprep);

	cr_assert_str_eq(r, "\xc3\xa4" "bc");
	free(r);
	r = prep("Caf\xc3\xa9", 5, stringprep_xmpp_resourceprep);
	cr_assert_str_eq(r, "Caf\xc3\xa9");
	free(r);
}
