/* mod_register: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_register = {
	.abi = TERN_MODULE_ABI,
	.name = "register",
};
