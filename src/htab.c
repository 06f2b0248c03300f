/* String hash table: FNV-1a, power-of-two buckets, doubled at load 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "xmalloc.h"

#define HTAB_MIN	16

static uint32_t
hash(const char *s)
{
	uint32_t	h = 2166136261u;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

void
htab_init(struct htab *t)
{
	t->nb = 0;
	t->n = 0;
	t->b = NULL;
}

void
htab_clear(struct htab *t)
{
	struct htab_entry	*e, *next;
	size_t			 i;

	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->b);
	htab_init(t);
}

static struct htab_entry **
slot(const struct htab *t, const char *key)
{
	struct htab_entry	**p;

	if (t->nb == 0)
		return NULL;
	for (p = &t->b[hash(key) & (t->nb - 1)]; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->key, key) == 0)
			break;
	return p;
}

void *
htab_get(const struct htab *t, const char *key)
{
	struct htab_entry	**p = slot(t, key);

	return p != NULL && *p != NULL ? (*p)->val : NULL;
}

static void
grow(struct htab *t)
{
	struct htab_entry	**nb, *e, *next;
	size_t			  n = t->nb ? t->nb * 2 : HTAB_MIN, i, h;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			h = hash(e->key) & (n - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	free(t->b);
	t->b = nb;
	t->nb = n;
}

void *
htab_put(struct htab *t, const char *key, void *val)
{
	struct htab_entry	**p, *e;
	void			 *old;

	if (t->n >= t->nb)
		grow(t);
	p = slot(t, key);
	if (*p != NULL) {
		old = (*p)->val;
		(*p)->val = val;
		(*p)->key = key;
		return old;
	}
	e = xmalloc(sizeof(*e));
	e->key = key;
	e->val = val;
	e->next = NULL;
	*p = e;
	t->n++;
	return NULL;
}

void *
htab_del(struct htab *t, const char *key)
{
	struct htab_entry	**p = slot(t, key), *e;
	void			 *val;

	if (p == NULL || *p == NULL)
		return NULL;
	e = *p;
	val = e->val;
	*p = e->next;
	free(e);
	t->n--;
	return val;
}

void
htab_each(const struct htab *t, void (*fn)(void *, void *), void *arg)
{
	struct htab_entry	*e;
	size_t			 i;

	for (i = 0; i < t->nb; i++)
		for (e = t->b[i]; e != NULL; e = e->next)
			fn(e->val, arg);
}
