/*
 * The built-in modules.  Each is one `const struct tern_module mod_<name>`
 * in modules/mod_<name>.c; a new one is added here and in Makefile.am.
 */
#include <stddef.h>

#include "tern/module.h"

extern const struct tern_module mod_ping;
extern const struct tern_module mod_roster;
extern const struct tern_module mod_presence;
extern const struct tern_module mod_offline;
extern const struct tern_module mod_disco;
extern const struct tern_module mod_version;
extern const struct tern_module mod_time;
extern const struct tern_module mod_last;
extern const struct tern_module mod_vcard;
extern const struct tern_module mod_private;
extern const struct tern_module mod_blocking;
extern const struct tern_module mod_register;

const struct tern_module *const tern_builtin_modules[] = {
	&mod_ping,
	&mod_roster,
	&mod_presence,
	&mod_offline,
	&mod_disco,
	&mod_version,
	&mod_time,
	&mod_last,
	&mod_vcard,
	&mod_private,
	&mod_blocking,
	&mod_register,
	NULL
};
