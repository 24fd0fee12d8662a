/* placeholder: filled by issue I */
#include "autoconf.h"

#include "tls_int.h"
