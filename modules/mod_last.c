/* mod_last: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_last = {
	.abi = TERN_MODULE_ABI,
	.name = "last",
};
