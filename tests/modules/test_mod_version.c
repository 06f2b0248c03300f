/* mod_version on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_version, loads)
{
	harness_start("modules version;");
	harness_stop();
}
