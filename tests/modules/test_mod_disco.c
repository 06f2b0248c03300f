/* mod_disco on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_disco, loads)
{
	harness_start("modules disco;");
	harness_stop();
}
