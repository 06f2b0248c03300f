/* mod_blocking on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_blocking, loads)
{
	harness_start("modules blocking;");
	harness_stop();
}
