/*
 * LMDB backend of the store API.  One environment per process, opened
 * once; named databases are opened lazily and their handles cached.
 * LMDB allows ternctl to write while ternd runs (its lock file
 * serialises writers between processes).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_MAX_DBS	32
/*
 * LMDB's key limit as Debian builds it (mdb_env_get_maxkeysize: 511):
 * host \0 user \0 key must fit; longer keys are refused with a log line.
 */
#define STORE_KEY_MAX	511

static MDB_env	*env;
static struct {
	char		*name;
	MDB_dbi		 dbi;
} dbs[STORE_MAX_DBS];
static int	 ndbs;
static size_t	 map_size;
static char	*data_dir;

static int	full;		/* the last write failed for lack of space */

int
store_full(void)
{
	return full;
}

/* Logs a failed write; says what to do when space ran out. */
static void
write_failed(const char *what, const char *db, int rc)
{
	struct statvfs	vfs;
	char		size[32];

	/*
	 * LMDB reports a short write (the disk filled up in the middle of a
	 * page) as EIO: the file system's free space tells the two apart.
	 */
	if (rc == EIO && data_dir != NULL && statvfs(data_dir, &vfs) == 0 &&
	    (unsigned long long)vfs.f_bavail * vfs.f_frsize < 1024 * 1024)
		rc = ENOSPC;
	full = rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT;
	if (rc == MDB_MAP_FULL) {
		snprintf(size, sizeof(size), "%zu MiB", map_size >> 20);
		log_warnx("store: %s %s: the store is full (store_map_size "
		    "%s): raise store_map_size and restart; nothing stored "
		    "before is lost", what, db, size);
	} else if (rc == ENOSPC || rc == EDQUOT)
		log_warnx("store: %s %s: %s in data_dir %s: free space; "
		    "nothing stored before is lost", what, db,
		    mdb_strerror(rc), data_dir);
	else if (rc == EIO)
		log_warnx("store: %s %s: input/output error in data_dir %s: "
		    "check the disk (dmesg)", what, db, data_dir);
	else
		log_warnx("store: %s %s: %s", what, db, mdb_strerror(rc));
}

int
store_open(const char *dir, size_t mapsize)
{
	int	rc;

	if (env != NULL)
		return 0;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("store: cannot create data_dir %s", dir);
		return -1;
	}
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(env, STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, mapsize)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0) {
		log_warnx("store: cannot open LMDB environment in %s: %s",
		    dir, mdb_strerror(rc));
		if (env != NULL)
			mdb_env_close(env);
		env = NULL;
		return -1;
	}
	map_size = mapsize;
	free(data_dir);
	data_dir = xstrdup(dir);
	return 0;
}

void
store_close(void)
{
	int	i;

	if (env == NULL)
		return;
	for (i = 0; i < ndbs; i++)
		free(dbs[i].name);
	ndbs = 0;
	mdb_env_close(env);
	env = NULL;
	free(data_dir);
	data_dir = NULL;
}

int
store_is_open(void)
{
	return env != NULL;
}

/* The handle of a named database, created on first use; 0 or -1. */
static int
dbi_get(const char *name, MDB_dbi *dbi)
{
	MDB_txn	*txn;
	int	 i, rc;

	for (i = 0; i < ndbs; i++)
		if (strcmp(dbs[i].name, name) == 0) {
			*dbi = dbs[i].dbi;
			return 0;
		}
	if (env == NULL || ndbs == STORE_MAX_DBS) {
		log_warnx("store: database %s unavailable", name);
		return -1;
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		goto fail;
	if ((rc = mdb_dbi_open(txn, name, MDB_CREATE, dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	dbs[ndbs].name = xstrdup(name);
	dbs[ndbs].dbi = *dbi;
	ndbs++;
	return 0;
 fail:
	write_failed("create database", name, rc);
	return -1;
}

/* Encodes host \0 user \0 key into buf; length or -1 when too long. */
static int
key_encode(char *buf, const char *host, const char *user, const char *key)
{
	size_t	hl = strlen(host), ul = strlen(user), kl = strlen(key);

	if (hl + ul + kl + 2 > STORE_KEY_MAX)
		return -1;
	memcpy(buf, host, hl);
	buf[hl] = '\0';
	memcpy(buf + hl + 1, user, ul);
	buf[hl + 1 + ul] = '\0';
	memcpy(buf + hl + ul + 2, key, kl);
	return (int)(hl + ul + kl + 2);
}

static int
prepare(const char *db, const char *host, const char *user, const char *key,
    char *buf, MDB_val *k, MDB_dbi *dbi)
{
	int	len;

	if (dbi_get(db, dbi) == -1)
		return -1;
	if ((len = key_encode(buf, host, user, key)) == -1) {
		log_warnx("store: key too long in %s", db);
		return -1;
	}
	k->mv_data = buf;
	k->mv_size = (size_t)len;
	return 0;
}

int
store_kv_get(const char *db, const char *host, const char *user,
    const char *key, void **val, size_t *len)
{
	char	 buf[STORE_KEY_MAX];
	MDB_val	 k, v;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	int	 rc;

	if (prepare(db, host, user, key, buf, &k, &dbi) == -1)
		return -1;
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0) {
		*val = xmalloc(v.mv_size + 1);
		memcpy(*val, v.mv_data, v.mv_size);
		((char *)*val)[v.mv_size] = '\0';
		*len = v.mv_size;
	} else if (rc != MDB_NOTFOUND)
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 1;
	return rc == 0 ? 0 : -1;
}

static int
write_end(MDB_txn *txn, int rc, const char *db, const char *what)
{
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc != 0) {
		write_failed(what, db, rc);
		return -1;
	}
	/* Only a write that added data proves there is space again. */
	if (strcmp(what, "delete") != 0)
		full = 0;
	return 0;
}

int
store_kv_put(const char *db, const char *host, const char *user,
    const char *key, const void *val, size_t len)
{
	char	 buf[STORE_KEY_MAX];
	MDB_val	 k, v;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	int	 rc;

	if (prepare(db, host, user, key, buf, &k, &dbi) == -1)
		return -1;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: write %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = len;
	rc = mdb_put(txn, dbi, &k, &v, 0);
	return write_end(txn, rc, db, "write");
}

int
store_kv_put_many(const char *db, const struct store_kv *items, size_t n)
{
	char	 buf[STORE_KEY_MAX];
	MDB_val	 k, v;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	size_t	 i;
	int	 rc = 0;

	if (n == 0)
		return 0;
	if (dbi_get(db, &dbi) == -1)
		return -1;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: write %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (prepare(db, items[i].host, items[i].user, items[i].key, buf,
		    &k, &dbi) == -1) {
			mdb_txn_abort(txn);
			return -1;
		}
		v.mv_data = (void *)(uintptr_t)items[i].val;
		v.mv_size = items[i].len;
		rc = mdb_put(txn, dbi, &k, &v, 0);
	}
	return write_end(txn, rc, db, "write");
}

int
store_kv_del(const char *db, const char *host, const char *user,
    const char *key)
{
	char	 buf[STORE_KEY_MAX];
	MDB_val	 k;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	int	 rc;

	if (prepare(db, host, user, key, buf, &k, &dbi) == -1)
		return -1;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: delete %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 1;
	}
	return write_end(txn, rc, db, "delete");
}

/* True if k starts with the prefix p of length plen. */
static int
has_prefix(const MDB_val *k, const char *p, size_t plen)
{
	return k->mv_size >= plen && memcmp(k->mv_data, p, plen) == 0;
}

int
store_kv_del_user(const char *db, const char *host, const char *user)
{
	char		 buf[STORE_KEY_MAX];
	MDB_val		 k, v;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	size_t		 plen;
	int		 rc;

	if (prepare(db, host, user, "", buf, &k, &dbi) == -1)
		return -1;
	plen = k.mv_size;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: delete %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return write_end(txn, rc, db, "delete");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && has_prefix(&k, buf, plen)) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
		if (rc == 0 && !has_prefix(&k, buf, plen))
			break;
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return write_end(txn, rc, db, "delete");
}

/* A read-only transaction with a cursor on dbi; 0 or -1 (logged). */
static int
read_cursor(const char *db, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **cur)
{
	int	rc;

	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn)) != 0) {
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(*txn, dbi, cur)) != 0) {
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
		mdb_txn_abort(*txn);
		return -1;
	}
	return 0;
}

int
store_kv_each(const char *db, const char *host,
    int (*fn)(const char *, const char *, const void *, size_t, void *),
    void *arg)
{
	char		 buf[STORE_KEY_MAX], user[1024], key[1024];
	MDB_val		 k, v;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	size_t		 plen, ul;
	const char	*p, *end, *nul;
	int		 rc;

	if (prepare(db, host, "", "", buf, &k, &dbi) == -1)
		return -1;
	plen = strlen(host) + 1;
	k.mv_size = plen;
	if (read_cursor(db, dbi, &txn, &cur) == -1)
		return -1;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && has_prefix(&k, buf, plen);
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		p = (const char *)k.mv_data + plen;
		end = (const char *)k.mv_data + k.mv_size;
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    (ul = (size_t)(nul - p)) >= sizeof(user) ||
		    (size_t)(end - nul - 1) >= sizeof(key))
			continue;	/* not a key of ours */
		memcpy(user, p, ul);
		user[ul] = '\0';
		memcpy(key, nul + 1, (size_t)(end - nul - 1));
		key[end - nul - 1] = '\0';
		if (fn(user, key, v.mv_data, v.mv_size, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

int
store_kv_each_user(const char *db, const char *host, const char *user,
    int (*fn)(const char *, const void *, size_t, void *), void *arg)
{
	char		 buf[STORE_KEY_MAX], key[1024];
	MDB_val		 k, v;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	size_t		 plen, kl;
	int		 rc;

	if (prepare(db, host, user, "", buf, &k, &dbi) == -1)
		return -1;
	plen = k.mv_size;
	if (read_cursor(db, dbi, &txn, &cur) == -1)
		return -1;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && has_prefix(&k, buf, plen);
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		kl = k.mv_size - plen;
		if (kl >= sizeof(key))
			continue;
		memcpy(key, (const char *)k.mv_data + plen, kl);
		key[kl] = '\0';
		if (fn(key, v.mv_data, v.mv_size, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/*
 * Archives: keys "host \0 user \0" + big-endian microseconds (8 bytes) +
 * big-endian sequence (4 bytes), so a range scan is a time range.  An
 * id is those 12 bytes in hex.
 */
#define ARCH_SUFFIX	12

static uint32_t	arch_seq;

static void
be_put(unsigned char *p, uint64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
be_get(const unsigned char *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
id_format(const unsigned char *suffix, char *id)
{
	static const char	hex[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < ARCH_SUFFIX; i++) {
		id[2 * i] = hex[suffix[i] >> 4];
		id[2 * i + 1] = hex[suffix[i] & 15];
	}
	id[2 * ARCH_SUFFIX] = '\0';
}

static int
id_parse(const char *id, unsigned char *suffix)
{
	unsigned	v;
	int		i;

	if (id == NULL || strlen(id) != 2 * ARCH_SUFFIX)
		return -1;
	for (i = 0; i < ARCH_SUFFIX; i++) {
		if (sscanf(id + 2 * i, "%2x", &v) != 1)
			return -1;
		suffix[i] = (unsigned char)v;
	}
	return 0;
}

int
store_archive_append(const char *db, const char *host, const char *user,
    uint64_t when, const void *val, size_t len, char id[STORE_ID_LEN])
{
	char		 buf[STORE_KEY_MAX];
	MDB_val		 k, v;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	int		 rc, tries;

	if (prepare(db, host, user, "", buf, &k, &dbi) == -1)
		return -1;
	if (k.mv_size + ARCH_SUFFIX > STORE_KEY_MAX) {
		log_warnx("store: key too long in %s", db);
		return -1;
	}
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: write %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = len;
	for (tries = 0, rc = MDB_KEYEXIST; rc == MDB_KEYEXIST && tries < 16;
	    tries++) {
		be_put((unsigned char *)buf + k.mv_size, when, 8);
		be_put((unsigned char *)buf + k.mv_size + 8, arch_seq++, 4);
		k.mv_size += ARCH_SUFFIX;
		rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
		k.mv_size -= ARCH_SUFFIX;
	}
	if (rc == 0)
		id_format((unsigned char *)buf + k.mv_size, id);
	return write_end(txn, rc, db, "append to");
}

/* The bounds of a query as full keys; -1 if the range is empty. */
static int
arch_bounds(const struct store_range *q, unsigned char *lo,
    unsigned char *hi)
{
	unsigned char	a[ARCH_SUFFIX];

	be_put(lo, q->start, 8);
	be_put(lo + 8, 0, 4);
	be_put(hi, q->end ? q->end : UINT64_MAX, 8);
	be_put(hi + 8, UINT32_MAX, 4);
	if (q->after != NULL) {
		if (id_parse(q->after, a) == -1)
			return -1;
		if (memcmp(a, lo, ARCH_SUFFIX) >= 0) {
			memcpy(lo, a, ARCH_SUFFIX);
			be_put(lo + 8, be_get(lo + 8, 4) + 1, 4);
			if (be_get(a + 8, 4) == UINT32_MAX)
				be_put(lo, be_get(a, 8) + 1, 8);
		}
	}
	if (q->before != NULL) {
		if (id_parse(q->before, a) == -1)
			return -1;
		if (memcmp(a, hi, ARCH_SUFFIX) <= 0) {
			if (be_get(a, 8) == 0 && be_get(a + 8, 4) == 0)
				return 1;
			memcpy(hi, a, ARCH_SUFFIX);
			if (be_get(a + 8, 4) > 0)
				be_put(hi + 8, be_get(a + 8, 4) - 1, 4);
			else {
				be_put(hi, be_get(a, 8) - 1, 8);
				be_put(hi + 8, UINT32_MAX, 4);
			}
		}
	}
	return memcmp(lo, hi, ARCH_SUFFIX) > 0 ? 1 : 0;
}

/* Calls fn for one archive entry; its return value. */
static int
arch_emit(const MDB_val *k, const MDB_val *v, size_t plen,
    int (*fn)(const char *, uint64_t, const void *, size_t, void *),
    void *arg)
{
	const unsigned char	*suffix = (const unsigned char *)k->mv_data +
				    plen;
	char			 id[STORE_ID_LEN];

	id_format(suffix, id);
	return fn(id, be_get(suffix, 8), v->mv_data, v->mv_size, arg);
}

int
store_archive_query(const char *db, const char *host, const char *user,
    const struct store_range *q,
    int (*fn)(const char *, uint64_t, const void *, size_t, void *),
    void *arg)
{
	char		 lo[STORE_KEY_MAX], hi[STORE_KEY_MAX];
	MDB_val		 k, v;
	MDB_dbi		 dbi;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	size_t		 plen, n = 0;
	int		 rc;

	if (prepare(db, host, user, "", lo, &k, &dbi) == -1)
		return -1;
	plen = k.mv_size;
	if (plen + ARCH_SUFFIX > STORE_KEY_MAX)
		return -1;
	memcpy(hi, lo, plen);
	if ((rc = arch_bounds(q, (unsigned char *)lo + plen,
	    (unsigned char *)hi + plen)) != 0)
		return rc == 1 ? 0 : -1;
	if (read_cursor(db, dbi, &txn, &cur) == -1)
		return -1;
	k.mv_size = plen + ARCH_SUFFIX;
	if (!q->reverse) {
		k.mv_data = lo;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		    rc == 0 && k.mv_size == plen + ARCH_SUFFIX &&
		    memcmp(k.mv_data, hi, plen + ARCH_SUFFIX) <= 0 &&
		    (q->limit == 0 || n < q->limit);
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++)
			if (arch_emit(&k, &v, plen, fn, arg) != 0)
				break;
	} else {
		/* The last key <= hi: past it, then one back. */
		k.mv_data = hi;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && memcmp(k.mv_data, hi, plen + ARCH_SUFFIX) == 0 &&
		    k.mv_size == plen + ARCH_SUFFIX)
			;	/* hi itself exists */
		else
			rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV :
			    MDB_LAST);
		for (; rc == 0 && k.mv_size == plen + ARCH_SUFFIX &&
		    memcmp(k.mv_data, lo, plen + ARCH_SUFFIX) >= 0 &&
		    (q->limit == 0 || n < q->limit);
		    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV), n++)
			if (arch_emit(&k, &v, plen, fn, arg) != 0)
				break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

int
store_archive_delete(const char *db, const char *host, const char *user,
    const char *id)
{
	char	 buf[STORE_KEY_MAX];
	MDB_val	 k;
	MDB_dbi	 dbi;
	MDB_txn	*txn;
	int	 rc;

	if (prepare(db, host, user, "", buf, &k, &dbi) == -1)
		return -1;
	if (k.mv_size + ARCH_SUFFIX > STORE_KEY_MAX ||
	    id_parse(id, (unsigned char *)buf + k.mv_size) == -1)
		return 1;
	k.mv_size += ARCH_SUFFIX;
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) {
		log_warnx("store: delete %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	rc = mdb_del(txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 1;
	}
	return write_end(txn, rc, db, "delete");
}
