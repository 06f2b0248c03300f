/*
 * store.c and account.c: keyval round trips, deletion, iteration by host,
 * durability across reopen, and the RFC 5803 records of account.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "store.h"

static char	dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/tern-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_open(dir, 16 << 20), 0);
}

static void
teardown(void)
{
	char	cmd[128];

	store_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, put_get_del)
{
	void	*v;
	size_t	 len;

	cr_assert_eq(store_kv_get("t", "h", "u", "k", &v, &len), 1);
	cr_assert_eq(store_kv_put("t", "h", "u", "k", "abc", 3), 0);
	cr_assert_eq(store_kv_get("t", "h", "u", "k", &v, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_str_eq(v, "abc");	/* copies are NUL-terminated */
	free(v);
	cr_assert_eq(store_kv_put("t", "h", "u", "k", "de", 2), 0);
	cr_assert_eq(store_kv_get("t", "h", "u", "k", &v, &len), 0);
	cr_assert_eq(len, 2);
	free(v);
	cr_assert_eq(store_kv_del("t", "h", "u", "k"), 0);
	cr_assert_eq(store_kv_del("t", "h", "u", "k"), 1);
	cr_assert_eq(store_kv_get("t", "h", "u", "k", &v, &len), 1);
}

Test(store, keys_do_not_collide)
{
	void	*v;
	size_t	 len;

	/* "ab"+"c" and "a"+"bc" must be different keys. */
	cr_assert_eq(store_kv_put("t", "h", "ab", "c", "1", 1), 0);
	cr_assert_eq(store_kv_put("t", "h", "a", "bc", "2", 1), 0);
	cr_assert_eq(store_kv_get("t", "h", "ab", "c", &v, &len), 0);
	cr_assert_eq(((char *)v)[0], '1');
	free(v);
	cr_assert_eq(store_kv_get("t", "h", "a", "bc", &v, &len), 0);
	cr_assert_eq(((char *)v)[0], '2');
	free(v);
	/* Same key in another database or host is another entry. */
	cr_assert_eq(store_kv_get("t2", "h", "ab", "c", &v, &len), 1);
	cr_assert_eq(store_kv_get("t", "h2", "ab", "c", &v, &len), 1);
}

static int
collect(const char *user, const char *key, const void *val, size_t len,
    void *arg)
{
	char	*out = arg;

	strcat(out, user);
	strcat(out, ":");
	strcat(out, key);
	strcat(out, ";");
	return 0;
}

Test(store, each_and_del_user)
{
	char	out[256] = "";

	store_kv_put("t", "h", "bob", "", "x", 1);
	store_kv_put("t", "h", "alice", "a", "x", 1);
	store_kv_put("t", "h", "alice", "b", "x", 1);
	store_kv_put("t", "other", "zed", "", "x", 1);
	store_kv_put("t", "hh", "carol", "", "x", 1);
	cr_assert_eq(store_kv_each("t", "h", collect, out), 0);
	cr_assert_str_eq(out, "alice:a;alice:b;bob:;");
	cr_assert_eq(store_kv_del_user("t", "h", "alice"), 0);
	out[0] = '\0';
	store_kv_each("t", "h", collect, out);
	cr_assert_str_eq(out, "bob:;");
	out[0] = '\0';
	store_kv_each("t", "hh", collect, out);
	cr_assert_str_eq(out, "carol:;");
}

Test(store, durable_across_reopen)
{
	void	*v;
	size_t	 len;

	cr_assert_eq(store_kv_put("t", "h", "u", "k", "kept", 4), 0);
	store_close();
	cr_assert_eq(store_open(dir, 16 << 20), 0);
	cr_assert_eq(store_kv_get("t", "h", "u", "k", &v, &len), 0);
	cr_assert_str_eq(v, "kept");
	free(v);
}

Test(store, key_too_long)
{
	char	big[2048];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(store_kv_put("t", big, big, "", "x", 1), -1);
}

Test(store, map_full_is_an_error_not_a_crash)
{
	static char	val[64 * 1024];
	char		key[32];
	int		i, rc = 0;

	store_close();
	cr_assert_eq(store_open(dir, 1 << 20), 0);	/* 1 MiB map */
	for (i = 0; i < 64 && rc == 0; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		rc = store_kv_put("t", "h", "u", key, val, sizeof(val));
	}
	cr_assert_eq(rc, -1, "a full map must fail the write");
	/* What was committed before stays readable. */
	{
		void	*v;
		size_t	 len;

		cr_assert_eq(store_kv_get("t", "h", "u", "k0", &v, &len), 0);
		free(v);
	}
}

Test(store, account_records)
{
	char	*authpw;

	cr_assert_eq(account_exists("example.org", "juliet"), 0);
	cr_assert_eq(account_create("example.org", "juliet", "r0meo", 4096),
	    0);
	cr_assert_eq(account_create("example.org", "juliet", "x", 4096), 1);
	cr_assert_eq(account_exists("example.org", "juliet"), 1);
	cr_assert_eq(account_get("example.org", "juliet", &authpw), 0);
	/* RFC 5803 lines, no plaintext. */
	cr_assert(strstr(authpw, "SCRAM-SHA-256$4096:") == authpw);
	cr_assert_not_null(strstr(authpw, "\nSCRAM-SHA-1$4096:"));
	cr_assert_null(strstr(authpw, "r0meo"));
	cr_assert_eq(account_check_password(authpw, "r0meo", 5), 0);
	cr_assert_eq(account_check_password(authpw, "r0me0", 5), -1);
	cr_assert_eq(account_check_password(authpw, "r0meo\0x", 7), -1);
	free(authpw);
	cr_assert_eq(account_set_password("example.org", "juliet", "new",
	    4096), 0);
	cr_assert_eq(account_get("example.org", "juliet", &authpw), 0);
	cr_assert_eq(account_check_password(authpw, "new", 3), 0);
	cr_assert_eq(account_check_password(authpw, "r0meo", 5), -1);
	free(authpw);
	cr_assert_eq(account_set_password("example.org", "nobody", "x",
	    4096), 1);
	cr_assert_eq(account_delete("example.org", "juliet"), 0);
	cr_assert_eq(account_delete("example.org", "juliet"), 1);
	cr_assert_eq(account_exists("example.org", "juliet"), 0);
}

Test(store, saslprep_applies_to_passwords)
{
	char	*authpw;

	/* U+00A0 (no-break space) maps to a space under SASLprep. */
	cr_assert_eq(account_create("h", "u", "a\xc2\xa0" "b", 4096), 0);
	cr_assert_eq(account_get("h", "u", &authpw), 0);
	cr_assert_eq(account_check_password(authpw, "a b", 3), 0);
	free(authpw);
	/* A prohibited code point (U+0007) is refused. */
	cr_assert_eq(account_create("h", "v", "a\x07", 4096), -1);
}

static int
arch_collect(const char *id, uint64_t when, const void *val, size_t len,
    void *arg)
{
	char	*out = arg;

	strncat(out, val, len);
	strcat(out, ",");
	return 0;
}

Test(store, archive_ranges)
{
	char			 ids[10][STORE_ID_LEN], out[256];
	struct store_range	 q;
	int			 i;

	for (i = 0; i < 10; i++) {
		char	v[2] = { (char)('a' + i), '\0' };

		cr_assert_eq(store_archive_append("mam", "h", "u",
		    1000 + (uint64_t)(i / 2), v, 1, ids[i]), 0);
	}
	/* Same microsecond: distinct ids, in insertion order. */
	cr_assert_str_neq(ids[0], ids[1]);
	cr_assert_lt(strcmp(ids[0], ids[1]), 0);
	memset(&q, 0, sizeof(q));
	out[0] = '\0';
	cr_assert_eq(store_archive_query("mam", "h", "u", &q, arch_collect,
	    out), 0);
	cr_assert_str_eq(out, "a,b,c,d,e,f,g,h,i,j,");
	q.start = 1001;
	q.end = 1003;
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "c,d,e,f,g,h,");
	q.reverse = 1;
	q.limit = 3;
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "h,g,f,");
	memset(&q, 0, sizeof(q));
	q.after = ids[2];
	q.before = ids[6];
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "d,e,f,");
	q.reverse = 1;
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "f,e,d,");
	/* Paging: after the last id of one page. */
	memset(&q, 0, sizeof(q));
	q.after = ids[8];
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "j,");
	cr_assert_eq(store_archive_delete("mam", "h", "u", ids[9]), 0);
	cr_assert_eq(store_archive_delete("mam", "h", "u", ids[9]), 1);
	cr_assert_eq(store_archive_delete("mam", "h", "u", "nonsense"), 1);
	out[0] = '\0';
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "");
	/* Other users see nothing; deleting the user empties it. */
	memset(&q, 0, sizeof(q));
	out[0] = '\0';
	store_archive_query("mam", "h", "v", &q, arch_collect, out);
	cr_assert_str_eq(out, "");
	cr_assert_eq(store_kv_del_user("mam", "h", "u"), 0);
	store_archive_query("mam", "h", "u", &q, arch_collect, out);
	cr_assert_str_eq(out, "");
	/* A malformed id in a range is an error, not a full scan. */
	q.after = "zz";
	cr_assert_eq(store_archive_query("mam", "h", "u", &q, arch_collect,
	    out), -1);
}
