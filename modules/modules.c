/*
 * The built-in modules.  Each is one `const struct tern_module mod_<name>`
 * in modules/mod_<name>.c; a new one is added here and in Makefile.am.
 */
#include <stddef.h>

#include "tern/module.h"

extern const struct tern_module mod_ping;

const struct tern_module *const tern_builtin_modules[] = {
	&mod_ping,
	NULL
};
