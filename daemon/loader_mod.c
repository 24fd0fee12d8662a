/*
 * The .so files a process has loaded, each once however many plugin
 * instances use it (loader.h).  A file is known by what fstat says of the
 * fd its bytes were read through: device, inode, size and the times of
 * its last change, so that a file rewritten in place is a new file.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include "loader.h"

struct plugin_mod {
	dev_t m_dev;
	ino_t m_ino;
	off_t m_size;
	struct timespec m_mtime;
	struct timespec m_ctime;
	void *m_dl;
	int m_fd;
	unsigned m_refs;
	struct plugin_mod *m_next;
};

static struct plugin_mod *mods;

static int
ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

struct plugin_mod *
plugin_mod_find(const struct stat *st, void **dl, int *fd)
{
	struct plugin_mod *m;

	for (m = mods; m != NULL; m = m->m_next) {
		if (m->m_dev != st->st_dev || m->m_ino != st->st_ino ||
		    m->m_size != st->st_size ||
		    !ts_eq(&m->m_mtime, &st->st_mtim) ||
		    !ts_eq(&m->m_ctime, &st->st_ctim))
			continue;
		m->m_refs++;
		*dl = m->m_dl;
		*fd = m->m_fd;
		return m;
	}
	return NULL;
}

struct plugin_mod *
plugin_mod_add(const struct stat *st, void *dl, int fd)
{
	struct plugin_mod *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->m_dev = st->st_dev;
	m->m_ino = st->st_ino;
	m->m_size = st->st_size;
	m->m_mtime = st->st_mtim;
	m->m_ctime = st->st_ctim;
	m->m_dl = dl;
	m->m_fd = fd;
	m->m_refs = 1;
	m->m_next = mods;
	mods = m;
	return m;
}

void
plugin_mod_put(struct plugin_mod *m)
{
	struct plugin_mod **pp;

	if (m == NULL || --m->m_refs > 0)
		return;
	for (pp = &mods; *pp != NULL; pp = &(*pp)->m_next) {
		if (*pp == m) {
			*pp = m->m_next;
			break;
		}
	}
	dlclose(m->m_dl);
	/* Only now: the dynamic linker's name for it leads here. */
	close(m->m_fd);
	free(m);
}
