/* mod_blocking: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_blocking = {
	.abi = TERN_MODULE_ABI,
	.name = "blocking",
};
