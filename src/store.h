/*
 * Storage engine: one LMDB environment (data_dir), named databases per
 * store, keys "host \0 user \0 key".  The API is narrow (keyval now; map
 * and archive come with the modules) so that another backend can replace
 * LMDB without touching its users.
 *
 * Each write commits before it returns: a caller that acknowledges a
 * write to a peer after store_*_put returned 0 has it on disk.
 * MDB_MAP_FULL and other errors are logged once here and returned as -1;
 * they never end the process.
 */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Opens (creating if needed) the environment in dir.  0 or -1. */
int	store_open(const char *dir, size_t mapsize);
void	store_close(void);
int	store_is_open(void);
/* 1 while the last write failed for lack of space (map or disk). */
int	store_full(void);

/*
 * Keyval: one value per (host, user, key).  user and key may be "".
 * get: 0 and a copy in *val and *len (caller frees), 1 if absent, -1 error.
 */
int	store_kv_get(const char *db, const char *host, const char *user,
	    const char *key, void **val, size_t *len);
/* One (host, user, key) -> value of a batch. */
struct store_kv {
	const char	*host;
	const char	*user;
	const char	*key;
	const void	*val;
	size_t		 len;
};

/* Writes all of items in one transaction (one disk sync): 0 or -1. */
int	store_kv_put_many(const char *db, const struct store_kv *items,
	    size_t n);
int	store_kv_put(const char *db, const char *host, const char *user,
	    const char *key, const void *val, size_t len);
/* 0 deleted, 1 absent, -1 error. */
int	store_kv_del(const char *db, const char *host, const char *user,
	    const char *key);
/* Deletes every key of (host, user) in db; 0 or -1. */
int	store_kv_del_user(const char *db, const char *host, const char *user);
/*
 * Calls fn(user, key, val, len, arg) for each entry of host, in key
 * order; fn returns 0 to go on, 1 to stop.  0 or -1.
 */
int	store_kv_each(const char *db, const char *host,
	    int (*fn)(const char *user, const char *key, const void *val,
	    size_t len, void *arg), void *arg);

/* Calls fn(key, val, len, arg) for each key of (host, user); 0 or -1. */
int	store_kv_each_user(const char *db, const char *host, const char *user,
	    int (*fn)(const char *key, const void *val, size_t len,
	    void *arg), void *arg);

/*
 * Archives: entries in time order per (host, user), for histories (MAM)
 * and queues.  when is in microseconds; an id (STORE_ID_LEN with the
 * NUL) names one entry and orders like it.
 */
#define STORE_ID_LEN	25

struct store_range {
	uint64_t	 start;		/* first time, inclusive (0: any) */
	uint64_t	 end;		/* last time, inclusive (0: any) */
	const char	*after;		/* only entries after this id */
	const char	*before;	/* only entries before this id */
	size_t		 limit;		/* at most this many (0: all) */
	int		 reverse;	/* newest first */
};

int	store_archive_append(const char *db, const char *host,
	    const char *user, uint64_t when, const void *val, size_t len,
	    char id[STORE_ID_LEN]);
/* fn(id, when, val, len, arg) per entry; fn returns 1 to stop.  0, -1. */
int	store_archive_query(const char *db, const char *host,
	    const char *user, const struct store_range *,
	    int (*fn)(const char *id, uint64_t when, const void *val,
	    size_t len, void *arg), void *arg);
/* 0 deleted, 1 absent (or not an id), -1 error. */
int	store_archive_delete(const char *db, const char *host,
	    const char *user, const char *id);

#endif
