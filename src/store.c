/*
 * LMDB backend of the store API.  One environment per process, opened
 * once; named databases are opened lazily and their handles cached.
 * LMDB allows ternctl to write while ternd runs (its lock file
 * serialises writers between processes).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	log_warnx("store: cannot open database %s: %s", name,
	    mdb_strerror(rc));
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
		log_warnx("store: %s %s: %s", what, db, mdb_strerror(rc));
		return -1;
	}
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
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
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
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		log_warnx("store: read %s: %s", db, mdb_strerror(rc));
		return -1;
	}
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
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
