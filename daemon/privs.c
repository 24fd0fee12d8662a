/*
 * The supervisor's one kept capability (privs.h), through capget(2) and
 * capset(2) directly: libcap is not worth a dependency for one bit.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "privs.h"

#define READ_IDX CAP_TO_INDEX(CAP_DAC_READ_SEARCH)
#define READ_BIT CAP_TO_MASK(CAP_DAC_READ_SEARCH)

struct caps {
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
};

static int
caps_get(struct caps *c)
{
	memset(c, 0, sizeof(*c));
	c->hdr.version = _LINUX_CAPABILITY_VERSION_3;
	return (int)syscall(SYS_capget, &c->hdr, c->d);
}

static int
caps_set(struct caps *c)
{
	c->hdr.version = _LINUX_CAPABILITY_VERSION_3;
	c->hdr.pid = 0;
	return (int)syscall(SYS_capset, &c->hdr, c->d);
}

void
privs_keep_caps(void)
{
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0)
		log_warn("prctl(PR_SET_KEEPCAPS)");
}

int
privs_drop(int keep_read)
{
	struct caps c;
	int kept;

	(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (caps_get(&c) != 0)
		return -1;
	kept = keep_read && (c.d[READ_IDX].permitted & READ_BIT) != 0;
	/* Ambient is a subset of permitted and inheritable: cleared
	 * first, though emptying those would clear it too. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) != 0)
		return -1;
	memset(c.d, 0, sizeof(c.d));
	if (kept)
		c.d[READ_IDX].permitted = READ_BIT;
	if (caps_set(&c) != 0)
		return -1;
	return kept;
}

void
privs_read_any(int on)
{
	struct caps c;
	int saved = errno;

	if (geteuid() == 0 || caps_get(&c) != 0 ||
	    (c.d[READ_IDX].permitted & READ_BIT) == 0)
		return;
	if (on)
		c.d[READ_IDX].effective |= READ_BIT;
	else
		c.d[READ_IDX].effective &= ~READ_BIT;
	if (caps_set(&c) != 0)
		log_warn("capset(CAP_DAC_READ_SEARCH)");
	errno = saved;
}

void
privs_child_drop(void)
{
	struct caps c;
	size_t i;
	unsigned held = 0;

	if (geteuid() == 0 || caps_get(&c) != 0)
		return;
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		held |= c.d[i].permitted | c.d[i].inheritable;
	if (held == 0)
		return;
	memset(c.d, 0, sizeof(c.d));
	if (caps_set(&c) != 0)
		fatal("cannot drop the supervisor's capabilities");
}
