/*
 * Hook lists.  Handlers are kept sorted at insertion (stable for equal
 * priorities: the module registered first runs first), so firing is a
 * hash lookup and a walk.
 */
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#include "hook.h"
#include "xmalloc.h"

void
hook_init(struct hooks *h)
{
	htab_init(&h->by_name);
}

static void
free_list(void *val, void *arg)
{
	struct hook_list	*l = val;

	free(l->name);
	free(l->e);
	free(l);
}

void
hook_clear(struct hooks *h)
{
	htab_each(&h->by_name, free_list, NULL);
	htab_clear(&h->by_name);
}

void
hook_add(struct hooks *h, const char *event, int prio,
    int (*fn)(struct tern_event *, void *), void *conf,
    const struct tern_module *mod)
{
	struct hook_list	*l;
	size_t			 i;

	if ((l = htab_get(&h->by_name, event)) == NULL) {
		l = xcalloc(1, sizeof(*l));
		l->name = xstrdup(event);
		htab_put(&h->by_name, l->name, l);
	}
	l->e = xreallocarray(l->e, l->n + 1, sizeof(*l->e));
	for (i = l->n; i > 0 && l->e[i - 1].prio < prio; i--)
		l->e[i] = l->e[i - 1];
	l->e[i].prio = prio;
	l->e[i].fn = fn;
	l->e[i].conf = conf;
	l->e[i].mod = mod;
	l->n++;
}

int
hook_fire(const struct hooks *h, const char *event, struct tern_event *ev)
{
	const struct hook_list	*l = htab_get(&h->by_name, event);
	const char		*saved = ev->name;
	size_t			 i;
	int			 r = TERN_PASS;

	if (l == NULL)
		return TERN_PASS;
	ev->name = event;
	for (i = 0; i < l->n && r != TERN_DONE; i++)
		r = l->e[i].fn(ev, l->e[i].conf);
	ev->name = saved;
	return r == TERN_DONE ? TERN_DONE : TERN_PASS;
}

int
hook_has(const struct hooks *h, const char *event)
{
	return htab_get(&h->by_name, event) != NULL;
}
