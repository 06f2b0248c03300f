/*
 * The module registry: built-in modules (modules/modules.c) and those
 * load_module loads, their directive tables handed to conf, and one
 * instance per (host, enabled module) with its hooks.  struct tern_host
 * is defined here; the public API (api.c) works on it.
 */
#ifndef TERN_MODULE_REG_H
#define TERN_MODULE_REG_H

#include <stddef.h>

#include "hook.h"

struct tern_conf;
struct tern_module;
struct session;

struct host_mod {
	const struct tern_module	*mod;
	size_t				 idx;	/* registry index */
	void				*conf;	/* from the conf_host */
	int				 inited;
};

struct tern_host {
	char			*name;
	struct hooks		 hooks;
	struct host_mod		*mods;		/* dependency order */
	size_t			 nmods;
};

/* Registers the built-in modules with conf; once, before conf_load. */
void		 module_register_builtins(void);
/* Builds hosts and starts their modules from conf: 0, or -1 and err. */
int		 module_start(const struct tern_conf *, char *err,
		    size_t errlen);
void		 module_stop(void);
struct tern_host *module_host(const char *domain);
size_t		 module_count(void);
/* The registry index of a module, or -1. */
int		 module_index(const struct tern_module *);
const struct tern_module *module_get(size_t);
/*
 * Deletes an account and every store the registered modules declare for
 * it (ternctl deluser and XEP-0077 removal): 0, 1 no such user, -1.
 */
int		 module_delete_user(const char *host, const char *user);
/* Frees the modules' data slots of a session. */
void		 module_session_free(struct session *);
/* Fires a non-stanza event on a host (no-op for unknown hosts). */
int		 module_fire(const char *host, const char *event,
		    struct tern_event *);

#endif
