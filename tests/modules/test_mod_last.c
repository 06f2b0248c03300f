/* mod_last on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_last, loads)
{
	harness_start("modules last;");
	harness_stop();
}
