/* mod_roster on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_roster, loads)
{
	harness_start("modules roster;");
	harness_stop();
}
