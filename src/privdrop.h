/*
 * Dropping root for the `user` and `group` directives: ternd after it has
 * bound its ports, ternctl before it opens the data directory, so that
 * every file in it belongs to the unprivileged user.
 */
#ifndef TERN_PRIVDROP_H
#define TERN_PRIVDROP_H

#include <stddef.h>

/*
 * Becomes user (with group, or the user's primary group when NULL),
 * with no supplementary groups.  0, or -1 with the reason in err.
 */
int	privdrop(const char *user, const char *group, char *err, size_t);

#endif
