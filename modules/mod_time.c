/* mod_time: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_time = {
	.abi = TERN_MODULE_ABI,
	.name = "time",
};
