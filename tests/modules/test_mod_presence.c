/* mod_presence on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_presence, loads)
{
	harness_start("modules presence;");
	harness_stop();
}
