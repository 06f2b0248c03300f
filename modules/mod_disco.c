/* mod_disco: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_disco = {
	.abi = TERN_MODULE_ABI,
	.name = "disco",
};
