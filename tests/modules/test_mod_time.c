/* mod_time on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_time, loads)
{
	harness_start("modules time;");
	harness_stop();
}
