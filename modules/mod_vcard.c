/* mod_vcard: being written (issue 3). */
#include "tern/module.h"

const struct tern_module mod_vcard = {
	.abi = TERN_MODULE_ABI,
	.name = "vcard",
};
