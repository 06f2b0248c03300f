/*
 * A small string-keyed hash table with chaining.  Keys are borrowed: they
 * must stay valid while their entry exists (session tables key on the JID
 * strings their values own).
 */
#ifndef TERN_HTAB_H
#define TERN_HTAB_H

#include <stddef.h>

struct htab_entry {
	const char		*key;
	void			*val;
	struct htab_entry	*next;
};

struct htab {
	struct htab_entry	**b;
	size_t			  nb;
	size_t			  n;
};

void	 htab_init(struct htab *);
void	 htab_clear(struct htab *);
void	*htab_get(const struct htab *, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void	*htab_put(struct htab *, const char *key, void *val);
/* Removes; returns the value or NULL. */
void	*htab_del(struct htab *, const char *key);
/* Calls fn for each value; fn must not change the table. */
void	 htab_each(const struct htab *, void (*fn)(void *val, void *arg),
	    void *arg);

#endif
