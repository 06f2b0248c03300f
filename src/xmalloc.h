/*
 * Allocation that never returns NULL: failure is fatal (house rule 6).
 * Sizes a peer controls are checked against the limits before calling these.
 */
#ifndef TERN_XMALLOC_H
#define TERN_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
