/* mod_private: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_private = {
	.abi = TERN_MODULE_ABI,
	.name = "private",
};
