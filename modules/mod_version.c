/* mod_version: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_version = {
	.abi = TERN_MODULE_ABI,
	.name = "version",
};
