/*
 * Module directives in tern.conf: the registry of module directive
 * tables, the `modules` and `load_module` directives, and the per-host
 * module conf structs.  A module directive is parsed wherever it appears
 * in a host block; at the end of the block, each module whose
 * directives were used must be enabled on the host (directly or as a
 * dependency), so a misplaced directive is an error with its line.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "xmalloc.h"

#define SUGGEST_MAX	2

static const struct conf_modtab	**mods;
static size_t			  nmods;
static int			(*loader)(const char *, char *, size_t);

size_t
conf_module_register(const struct conf_modtab *m)
{
	mods = xreallocarray(mods, nmods + 1, sizeof(*mods));
	mods[nmods] = m;
	return nmods++;
}

size_t
conf_module_count(void)
{
	return nmods;
}

const struct conf_modtab *
conf_module_get(size_t i)
{
	return i < nmods ? mods[i] : NULL;
}

int
conf_module_find(const char *name)
{
	size_t	i;

	for (i = 0; i < nmods; i++)
		if (strcmp(mods[i]->name, name) == 0)
			return (int)i;
	return -1;
}

void
conf_set_loader(int (*fn)(const char *, char *, size_t))
{
	loader = fn;
}

const char *
conf_module_suggest(const char *name, int *dist)
{
	const struct conf_directive	*d;
	const char			*best = NULL;
	size_t				 i;
	int				 n;

	*dist = SUGGEST_MAX + 1;
	for (i = 0; i < nmods; i++)
		for (d = mods[i]->table; d != NULL && d->name != NULL; d++)
			if ((n = conf_distance(name, d->name)) < *dist) {
				*dist = n;
				best = d->name;
			}
	return best;
}

int
conf_set_load_module(struct conf_parse *p, const struct conf_directive *d,
    void *base, int argc, char **argv)
{
	char	err[512];

	if (loader == NULL)
		return conf_error(p, "load_module is not available here");
	if (loader(argv[1], err, sizeof(err)) == -1)
		return conf_error(p, "load_module \"%s\": %s", argv[1], err);
	return 0;
}

int
conf_set_modules(struct conf_parse *p, const struct conf_directive *d,
    void *base, int argc, char **argv)
{
	struct conf_host	*h = base;
	const char		*best;
	size_t			 i, j;
	int			 dist, n;

	for (i = 1; i < (size_t)argc; i++) {
		if (conf_module_find(argv[i]) == -1) {
			best = NULL;
			dist = SUGGEST_MAX + 1;
			for (j = 0; j < nmods; j++)
				if ((n = conf_distance(argv[i],
				    mods[j]->name)) < dist) {
					dist = n;
					best = mods[j]->name;
				}
			if (best != NULL)
				return conf_error(p, "unknown module \"%s\"; "
				    "did you mean \"%s\"?", argv[i], best);
			return conf_error(p, "unknown module \"%s\" (a "
			    "module from a shared object needs a "
			    "load_module line before the host blocks)",
			    argv[i]);
		}
		for (j = 0; j < h->nmodules; j++)
			if (strcmp(h->modules[j], argv[i]) == 0)
				return conf_error(p, "module \"%s\" is listed "
				    "twice (first at line %d)", argv[i],
				    h->modlines[j]);
		h->modules = xreallocarray(h->modules, h->nmodules + 1,
		    sizeof(*h->modules));
		h->modlines = xreallocarray(h->modlines, h->nmodules + 1,
		    sizeof(*h->modlines));
		h->modules[h->nmodules] = xstrdup(argv[i]);
		h->modlines[h->nmodules++] = conf_line(p);
	}
	return 0;
}

int
conf_host_modules_begin(struct conf_parse *p, struct conf_host *h)
{
	size_t	i;

	h->nmodconf = nmods;
	h->modconf = xcalloc(nmods ? nmods : 1, sizeof(*h->modconf));
	h->modused = xcalloc(nmods ? nmods : 1, sizeof(*h->modused));
	for (i = 0; i < nmods; i++) {
		h->modconf[i] = xcalloc(1, mods[i]->conf_size ?
		    mods[i]->conf_size : 1);
		if (mods[i]->table != NULL && conf_defaults(p, mods[i]->table,
		    CONF_CTX_HOST, h->modconf[i]) == -1)
			return -1;
	}
	return 0;
}

int
conf_host_module_directive(struct conf_parse *p, struct conf_host *h,
    int argc, char **argv)
{
	size_t	i;
	int	r;

	for (i = 0; i < h->nmodconf; i++) {
		if (mods[i]->table == NULL)
			continue;
		r = conf_apply(p, mods[i]->table, CONF_CTX_HOST,
		    h->modconf[i], argc, argv);
		if (r != 0) {
			if (r == 1 && h->modused[i] == 0)
				h->modused[i] = conf_line(p);
			return r;
		}
	}
	return 0;
}

/* Whether module index m is enabled on h, directly or as a dependency. */
static int
enabled(const struct conf_host *h, size_t m, int depth)
{
	const char *const	*dep;
	size_t			 i;
	int			 k;

	if (depth > 32)
		return 0;
	for (i = 0; i < h->nmodules; i++) {
		if (strcmp(h->modules[i], mods[m]->name) == 0)
			return 1;
		k = conf_module_find(h->modules[i]);
		for (dep = k >= 0 ? mods[k]->depends : NULL;
		    dep != NULL && *dep != NULL; dep++)
			if (strcmp(*dep, mods[m]->name) == 0)
				return 1;
	}
	/* Dependencies of dependencies. */
	for (i = 0; i < nmods; i++) {
		if (i == m || !h->modules)
			continue;
		for (dep = mods[i]->depends; dep != NULL && *dep != NULL;
		    dep++)
			if (strcmp(*dep, mods[m]->name) == 0 &&
			    enabled(h, i, depth + 1))
				return 1;
	}
	return 0;
}

int
conf_host_modules_end(struct conf_parse *p, struct conf_host *h)
{
	size_t	i;

	for (i = 0; i < h->nmodconf; i++)
		if (h->modused[i] != 0 && !enabled(h, i, 0))
			return conf_error_at(p, h->modused[i], "host \"%s\": "
			    "directive of module \"%s\", which is not enabled "
			    "on this host (add it to the modules line)",
			    h->name, mods[i]->name);
	return 0;
}

void
conf_host_modules_free(struct conf_host *h)
{
	const struct conf_directive	*d;
	size_t				 i;

	for (i = 0; i < h->nmodules; i++)
		free(h->modules[i]);
	free(h->modules);
	free(h->modlines);
	for (i = 0; i < h->nmodconf; i++) {
		for (d = mods[i]->table; d != NULL && d->name != NULL; d++)
			if (d->type == CONF_STR)
				free(*(char **)((char *)h->modconf[i] +
				    d->offset));
		free(h->modconf[i]);
	}
	free(h->modconf);
	free(h->modused);
	h->modules = NULL;
	h->modconf = NULL;
	h->nmodules = h->nmodconf = 0;
}
