/*
 * Listeners: one evconnlistener per address of each `listen` line.
 * Sockets are bound once at start-up (before privileges are dropped) and
 * kept across reloads.
 */
#ifndef TERN_LISTEN_H
#define TERN_LISTEN_H

#include <stddef.h>

struct tern_conf;

/* Binds every listen line; -1 with the reason in err. */
int	listen_start(const struct tern_conf *, char *err, size_t errlen);
void	listen_stop(void);
/* Pauses or resumes accepting (shutdown). */
void	listen_pause(int);

#endif
