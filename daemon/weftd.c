/* weftd: placeholder main until the supervisor lands. */
#include "autoconf.h"

#include <stdio.h>

#include "log.h"

int
main(void)
{
	log_procinit("supervisor");
	fatalx("not implemented yet");
}
