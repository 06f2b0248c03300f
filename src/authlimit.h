/*
 * Failed logins per client address and per account: after
 * auth_failures_per_address (per_account) failures within
 * auth_failure_window, the address (account) is refused for one window.
 * Logged once when a burst starts and once when it ends.
 */
#ifndef TERN_AUTHLIMIT_H
#define TERN_AUTHLIMIT_H

#include <stddef.h>

#define AUTHLIMIT_MAX_ENTRIES	100000

/* Seconds left if refused now (counted as refused), else 0. */
unsigned	authlimit_address_blocked(const char *address);
unsigned	authlimit_account_blocked(const char *account);
/* A wrong password from address for account (either may be NULL). */
void		authlimit_failed(const char *address, const char *account);
size_t		authlimit_count(void);
void		authlimit_free(void);

#endif
