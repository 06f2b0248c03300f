/* mod_private on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_private, loads)
{
	harness_start("modules private;");
	harness_stop();
}
