/* mod_vcard on the in-process harness. */
#include <criterion/criterion.h>

#include "harness.h"

Test(mod_vcard, loads)
{
	harness_start("modules vcard;");
	harness_stop();
}
