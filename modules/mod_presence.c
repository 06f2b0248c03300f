/* mod_presence: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_presence = {
	.abi = TERN_MODULE_ABI,
	.name = "presence",
};
