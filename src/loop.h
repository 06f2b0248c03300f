/*
 * The event loop: one event_base for the process, and the deferred-free
 * reaper (house rule 5): objects retired inside a callback are freed
 * after the callback returns, never under the caller's feet.
 */
#ifndef TERN_LOOP_H
#define TERN_LOOP_H

#include <stdint.h>

struct event_base;
struct tern_conf;
struct tern_limits;

struct event_base	*loop_base(void);
/* Milliseconds on a monotonic clock (coarse: a few ms steps). */
uint64_t		 loop_now_ms(void);
void			 loop_init(void);
void			 loop_free(void);
/* Runs fn(arg) once the current callback has returned. */
void			 loop_defer(void (*fn)(void *), void *arg);
/* Runs every deferred function now (at shutdown). */
void			 loop_reap(void);

/*
 * The configuration in force.  The limits are copied into one
 * process-wide struct that codecs borrow, updated in place on reload.
 */
const struct tern_conf	*loop_conf(void);
void			 loop_set_conf(const struct tern_conf *);
const struct tern_limits *loop_limits(void);

#endif
