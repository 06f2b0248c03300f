/*
 * Accounts: credentials stored as RFC 5803 authPassword values, one line
 * per SCRAM hash ("SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>", all
 * base64), in the "accounts" store.  No plaintext password is ever kept.
 * Passwords are SASLprep'd before the keys are derived.
 */
#ifndef TERN_ACCOUNT_H
#define TERN_ACCOUNT_H

#include <stddef.h>

#define ACCOUNT_DB	"accounts"

/*
 * The RFC 5803 lines for password (both SCRAM-SHA-1 and -256) with
 * iterations rounds and a fresh random salt; NULL if the password is not
 * valid SASLprep input.  Caller frees.
 */
char	*account_make_authpw(const char *password, unsigned iterations);
/* 0 if password matches the SCRAM-SHA-256 (or -1) line of authpw. */
int	 account_check_password(const char *authpw, const char *password,
	    size_t passlen);

/* 1 if SASLprep accepts the password (it may be stored), else 0. */
int	 account_password_ok(const char *password);
/* user is a prepared node.  0 created, 1 exists, -1 error/bad password. */
int	 account_create(const char *host, const char *user,
	    const char *password, unsigned iterations);
/* 0 changed, 1 no such user, -1 error or bad password. */
int	 account_set_password(const char *host, const char *user,
	    const char *password, unsigned iterations);
/* 0 deleted, 1 no such user, -1 error. */
int	 account_delete(const char *host, const char *user);
/* 1 exists, 0 not, -1 error. */
int	 account_exists(const char *host, const char *user);
/* 0 and the authPassword lines in *authpw (caller frees), 1 none, -1. */
int	 account_get(const char *host, const char *user, char **authpw);
/* Calls fn(user, arg) for each account of host; 0 or -1. */
int	 account_each(const char *host, void (*fn)(const char *, void *),
	    void *arg);

#endif
