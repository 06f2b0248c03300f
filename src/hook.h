/*
 * Hooks: (event name) -> handlers sorted by priority, per host.  Event
 * names carry the xmlns and element where they matter
 * ("iq-get/host/urn:xmpp:ping:ping"), so one lookup finds the handlers.
 */
#ifndef TERN_HOOK_H
#define TERN_HOOK_H

#include "htab.h"

struct tern_event;
struct tern_module;

struct hook_entry {
	int			  prio;
	int			(*fn)(struct tern_event *, void *);
	void			 *conf;
	const struct tern_module *mod;
};

struct hook_list {
	char			*name;
	struct hook_entry	*e;
	size_t			 n;
};

struct hooks {
	struct htab	by_name;
};

void	hook_init(struct hooks *);
void	hook_clear(struct hooks *);
void	hook_add(struct hooks *, const char *event, int prio,
	    int (*fn)(struct tern_event *, void *), void *conf,
	    const struct tern_module *);
/* Runs handlers, highest priority first, until one returns TERN_DONE. */
int	hook_fire(const struct hooks *, const char *event,
	    struct tern_event *);
int	hook_has(const struct hooks *, const char *event);

#endif
