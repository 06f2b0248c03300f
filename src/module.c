/*
 * Module registry and per-host instances.  Modules are registered once:
 * the built-in ones at start, shared objects when `load_module` is
 * parsed.  Each module's directive table is translated into conf rows so
 * that tern.conf checks module directives with file:line like any other.
 * At start, every host resolves its `modules` list with dependencies
 * (dependencies first; the log says which were pulled in), calls init()
 * and registers the hooks.  Order never depends on the order of names in
 * the config: it comes from `depends` and hook priorities.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/module.h"

#include "account.h"
#include "conf.h"
#include "log.h"
#include "module.h"
#include "session.h"
#include "store.h"
#include "xmalloc.h"

extern const struct tern_module *const tern_builtin_modules[];

struct reg {
	const struct tern_module	*mod;
	struct conf_modtab		 tab;
	struct conf_directive		*rows;
	void				*dl;
};

static struct reg	**regs;	/* each allocated: conf keeps &tab */
static size_t		 nregs;
static struct tern_host	*hosts;
static size_t		 nhosts;

static const enum conf_type type_map[] = {
	[TERN_CONF_STR] = CONF_STR,
	[TERN_CONF_INT] = CONF_INT,
	[TERN_CONF_SIZE] = CONF_SIZE,
	[TERN_CONF_TIME] = CONF_TIME,
	[TERN_CONF_BOOL] = CONF_BOOL,
	[TERN_CONF_ENUM] = CONF_ENUM,
};

static struct reg *
add(const struct tern_module *m, void *dl)
{
	const struct tern_directive	*d;
	struct conf_directive		*rows;
	struct reg			*r;
	size_t				 n = 0, i;

	for (d = m->directives; d != NULL && d->name != NULL; d++)
		n++;
	rows = xcalloc(n + 1, sizeof(*rows));
	for (i = 0; i < n; i++) {
		d = &m->directives[i];
		rows[i].name = d->name;
		rows[i].ctx = CONF_CTX_HOST;
		rows[i].minargs = rows[i].maxargs = 1;
		rows[i].type = type_map[d->type];
		rows[i].offset = d->offset;
		rows[i].min = d->min;
		rows[i].max = d->max;
		rows[i].values = d->values;
		rows[i].defval = d->defval;
	}
	regs = xreallocarray(regs, nregs + 1, sizeof(*regs));
	r = regs[nregs++] = xcalloc(1, sizeof(*r));
	r->mod = m;
	r->rows = rows;
	r->dl = dl;
	r->tab.name = m->name;
	r->tab.depends = m->depends;
	r->tab.table = rows;
	r->tab.conf_size = m->conf_size;
	conf_module_register(&r->tab);
	return r;
}

/* load_module: dlopen, find mod_<name>, check the ABI, register. */
static int
load(const char *path, char *err, size_t errlen)
{
	const struct tern_module	*m;
	const char			*base = strrchr(path, '/');
	char				 sym[128];
	void				*dl;
	size_t				 len;

	base = base ? base + 1 : path;
	len = strcspn(base, ".");
	if (strncmp(base, "mod_", 4) != 0 || len <= 4 ||
	    len >= sizeof(sym)) {
		snprintf(err, errlen, "the file must be named mod_NAME.so");
		return -1;
	}
	memcpy(sym, base, len);
	sym[len] = '\0';
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
	if ((m = dlsym(dl, sym)) == NULL) {
		snprintf(err, errlen, "no symbol %s in %s", sym, path);
		dlclose(dl);
		return -1;
	}
	if (m->abi != TERN_MODULE_ABI) {
		snprintf(err, errlen, "built for module ABI %d, this ternd "
		    "has %d: rebuild it against this tern/module.h", m->abi,
		    TERN_MODULE_ABI);
		dlclose(dl);
		return -1;
	}
	if (conf_module_find(m->name) != -1) {
		dlclose(dl);
		return 0;	/* already there (a reload parses it again) */
	}
	add(m, dl);
	log_info("loaded module %s from %s", m->name, path);
	return 0;
}

void
module_register_builtins(void)
{
	size_t	i;

	if (nregs > 0)
		return;
	for (i = 0; tern_builtin_modules[i] != NULL; i++)
		add(tern_builtin_modules[i], NULL);
	conf_set_loader(load);
}

size_t
module_count(void)
{
	return nregs;
}

const struct tern_module *
module_get(size_t i)
{
	return i < nregs ? regs[i]->mod : NULL;
}

int
module_index(const struct tern_module *m)
{
	size_t	i;

	for (i = 0; i < nregs; i++)
		if (regs[i]->mod == m)
			return (int)i;
	return -1;
}

static int
host_has(const struct tern_host *h, size_t idx)
{
	size_t	i;

	for (i = 0; i < h->nmods; i++)
		if (h->mods[i].idx == idx)
			return 1;
	return 0;
}

/* Adds module idx after its dependencies; -1 on a missing one. */
static int
enable(struct tern_host *h, const struct conf_host *ch, size_t idx,
    const char *why, int depth, char *err, size_t errlen)
{
	const char *const	*dep;
	int			 d;

	if (host_has(h, idx))
		return 0;
	if (depth > 16) {
		snprintf(err, errlen, "host %s: module dependencies of %s "
		    "form a cycle", h->name, regs[idx]->mod->name);
		return -1;
	}
	for (dep = regs[idx]->mod->depends; dep != NULL && *dep != NULL;
	    dep++) {
		if ((d = conf_module_find(*dep)) == -1) {
			snprintf(err, errlen, "host %s: module %s needs "
			    "module %s, which does not exist", h->name,
			    regs[idx]->mod->name, *dep);
			return -1;
		}
		if (enable(h, ch, (size_t)d, regs[idx]->mod->name, depth + 1,
		    err, errlen) == -1)
			return -1;
	}
	if (host_has(h, idx))
		return 0;
	if (why != NULL)
		log_info("host %s: module %s enabled, needed by %s", h->name,
		    regs[idx]->mod->name, why);
	h->mods = xreallocarray(h->mods, h->nmods + 1, sizeof(*h->mods));
	h->mods[h->nmods].mod = regs[idx]->mod;
	h->mods[h->nmods].idx = idx;
	h->mods[h->nmods].conf = idx < ch->nmodconf ? ch->modconf[idx] : NULL;
	h->mods[h->nmods].inited = 0;
	h->nmods++;
	return 0;
}

static int
host_start(struct tern_host *h, const struct conf_host *ch, char *err,
    size_t errlen)
{
	const struct tern_hook	*k;
	struct host_mod		*hm;
	size_t			 i;
	int			 idx;

	h->name = xstrdup(ch->name);
	hook_init(&h->hooks);
	for (i = 0; i < ch->nmodules; i++) {
		if ((idx = conf_module_find(ch->modules[i])) == -1) {
			snprintf(err, errlen, "host %s: unknown module %s",
			    h->name, ch->modules[i]);
			return -1;
		}
		if (enable(h, ch, (size_t)idx, NULL, 0, err, errlen) == -1)
			return -1;
	}
	for (i = 0; i < h->nmods; i++) {
		hm = &h->mods[i];
		if (hm->mod->init != NULL && hm->mod->init(h, hm->conf) == -1) {
			snprintf(err, errlen, "host %s: module %s failed to "
			    "start (see the log)", h->name, hm->mod->name);
			return -1;
		}
		hm->inited = 1;
		for (k = hm->mod->hooks; k != NULL && k->event != NULL; k++)
			hook_add(&h->hooks, k->event, k->priority, k->fn,
			    hm->conf, hm->mod);
	}
	if (h->nmods > 0)
		log_info("host %s: %zu modules", h->name, h->nmods);
	return 0;
}

int
module_start(const struct tern_conf *conf, char *err, size_t errlen)
{
	size_t	i;

	module_stop();
	hosts = xcalloc(conf->nhosts ? conf->nhosts : 1, sizeof(*hosts));
	for (i = 0; i < conf->nhosts; i++) {
		nhosts = i + 1;
		if (host_start(&hosts[i], &conf->hosts[i], err, errlen) == -1) {
			module_stop();
			return -1;
		}
	}
	return 0;
}

void
module_stop(void)
{
	struct host_mod	*hm;
	size_t		 i, j;

	for (i = 0; i < nhosts; i++) {
		for (j = hosts[i].nmods; j > 0; j--) {
			hm = &hosts[i].mods[j - 1];
			if (hm->inited && hm->mod->fini != NULL)
				hm->mod->fini(&hosts[i], hm->conf);
		}
		hook_clear(&hosts[i].hooks);
		free(hosts[i].mods);
		free(hosts[i].name);
	}
	free(hosts);
	hosts = NULL;
	nhosts = 0;
}

struct tern_host *
module_host(const char *domain)
{
	size_t	i;

	for (i = 0; i < nhosts; i++)
		if (strcmp(hosts[i].name, domain) == 0)
			return &hosts[i];
	return NULL;
}

int
module_fire(const char *host, const char *event, struct tern_event *ev)
{
	struct tern_host	*h = module_host(host);

	if (h == NULL)
		return TERN_PASS;
	ev->host = h;
	return hook_fire(&h->hooks, event, ev);
}

void
module_session_free(struct session *s)
{
	size_t	i;

	for (i = 0; s->slots != NULL && i < s->nslots; i++)
		if (s->slots[i] != NULL && regs[i]->mod->session_free != NULL)
			regs[i]->mod->session_free(s->slots[i]);
	free(s->slots);
	s->slots = NULL;
	s->nslots = 0;
}

int
module_delete_user(const char *host, const char *user)
{
	const char *const	*st;
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < nregs; i++)
		for (st = regs[i]->mod->stores; st != NULL && *st != NULL;
		    st++)
			if (store_kv_del_user(*st, host, user) == -1)
				rc = -1;
	if (rc == -1)
		return -1;
	return account_delete(host, user);
}
