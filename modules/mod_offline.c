/* mod_offline: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_offline = {
	.abi = TERN_MODULE_ABI,
	.name = "offline",
};
