/* mod_roster: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_roster = {
	.abi = TERN_MODULE_ABI,
	.name = "roster",
};
