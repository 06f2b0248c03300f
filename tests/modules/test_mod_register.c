/* mod_register on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_register, loads)
{
	harness_start("modules register;");
	harness_stop();
}
