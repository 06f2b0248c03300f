/* mod_offline on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_offline, loads)
{
	harness_start("modules offline;");
	harness_stop();
}
