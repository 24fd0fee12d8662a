/*
 * weftd's plugin loader: open a handler .so through checked directories,
 * dlopen a sealed copy of it, check its descriptor in a fixed order, run
 * its init with the settings from the config file, and unload it again.
 * Workers, `weftd -t` and the reload probe call it; the supervisor never
 * does (it runs no plugin code).
 *
 * Every refusal names the file and what was expected and found, so
 * `weftd -t` can say why a plugin cannot be used without anyone having to
 * reach for a debugger.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/plugin.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "util.h"

/* Check the descriptor, in the order loader.h lists; 0 or -1 with *cause
 * set. */
static int
plugin_check(const struct conf_plugin *cp, const char *file,
    const struct weft_plugin_desc *d, char **cause)
{
	if (d->magic != WEFT_PLUGIN_MAGIC) {
		cause_set(cause,
		    "%s: bad descriptor magic 0x%08x, "
		    "expected 0x%08x (not a weft plugin?)",
		    file, (unsigned)d->magic, (unsigned)WEFT_PLUGIN_MAGIC);
		return -1;
	}
	if (d->abi_major != WEFT_PLUGIN_ABI_MAJOR) {
		cause_set(cause, "%s: ABI major %u, weftd expects %u", file,
		    (unsigned)d->abi_major, (unsigned)WEFT_PLUGIN_ABI_MAJOR);
		return -1;
	}
	if (d->abi_minor > WEFT_PLUGIN_ABI_MINOR) {
		cause_set(cause,
		    "%s: built for ABI %u.%u, weftd has "
		    "%u.%u",
		    file, (unsigned)d->abi_major, (unsigned)d->abi_minor,
		    (unsigned)WEFT_PLUGIN_ABI_MAJOR,
		    (unsigned)WEFT_PLUGIN_ABI_MINOR);
		return -1;
	}
	/* Only now is it safe to read past the fixed header. */
	if (d->struct_size < WEFT_PLUGIN_DESC_MIN_SIZE) {
		cause_set(cause,
		    "%s: descriptor size %u, expected at "
		    "least %zu",
		    file, (unsigned)d->struct_size, WEFT_PLUGIN_DESC_MIN_SIZE);
		return -1;
	}
	if (d->name == NULL) {
		cause_set(cause,
		    "%s: descriptor has no name, config "
		    "says '%s'",
		    file, cp->name);
		return -1;
	}
	/* A flag this weftd does not know would change how the handler
	 * must be called: refuse rather than guess. */
	if ((d->flags & ~(uint32_t)WEFT_PLUGIN_CALLBACK) != 0) {
		cause_set(cause,
		    "%s: unsupported descriptor flags 0x%x, "
		    "weftd supports 0x%x",
		    file, (unsigned)d->flags, (unsigned)WEFT_PLUGIN_CALLBACK);
		return -1;
	}
	if (d->client_connected == NULL) {
		cause_set(cause,
		    "%s: descriptor has no client_connected "
		    "handler",
		    file);
		return -1;
	}
	return 0;
}

/*
 * Who may have put this code here?  A plugin runs with the worker's
 * privileges (and `weftd -t` runs it as root), so a file, or a directory
 * on its path, that someone else can write is a way in.  The file and the
 * directory holding it (the one it is named in and, through a symlink,
 * the one it really is in) must be owned by root or the user weftd runs
 * as and must not be writable by group or others.  Every other directory
 * on the way must be owned the same way and may be writable by others
 * only if it is sticky (/tmp): there, nobody else can rename or replace
 * what is in it.
 *
 * Checking by path and then dlopen()ing the path would be a race: whoever
 * can rename an ancestor directory swaps in another tree in between.  So
 * the path is walked one component at a time with openat(O_NOFOLLOW) from
 * the directory fd just checked, symlinks are resolved by hand (and their
 * targets walked the same way), every check is an fstat of the fd that is
 * used next, and the file is loaded from a sealed memfd copy of the bytes
 * read through the fd that was checked.
 */
#define PLUGIN_SYMLINKS_MAX 40 /* the kernel's limit too */
#define PLUGIN_COPY_MAX (1L << 30)

struct walk {
	const char *file; /* as configured: every message names it */
	char *where;	  /* the directory dirfd is, for messages */
	int dirfd;
};

/* Is st owned by root or us, and not writable by others (a sticky
 * directory may be if !strict)?  0 or -1 with *cause set. */
static int
plugin_st_safe(const struct stat *st, const char *file, const char *what,
    int strict, char **cause)
{
	uid_t me = geteuid();
	const char *by;

	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (strict || (st->st_mode & S_ISVTX) == 0)) {
		by = (st->st_mode & S_IWOTH) ? "others" : "its group";
		if (what == NULL)
			cause_set(cause,
			    "%s: refusing to load: the file is "
			    "writable by %s (mode %04o)",
			    file, by, (unsigned)(st->st_mode & 07777));
		else if (strict)
			cause_set(cause,
			    "%s: refusing to load: its "
			    "directory %s is writable by %s (mode %04o)",
			    file, what, by, (unsigned)(st->st_mode & 07777));
		else
			cause_set(cause,
			    "%s: refusing to load: directory "
			    "%s on its path is writable by %s and not sticky "
			    "(mode %04o)",
			    file, what, by, (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (st->st_uid != 0 && st->st_uid != me) {
		if (what == NULL)
			cause_set(cause,
			    "%s: refusing to load: the file is "
			    "owned by uid %u, not root or uid %u (this weftd)",
			    file, (unsigned)st->st_uid, (unsigned)me);
		else
			cause_set(cause,
			    "%s: refusing to load: %s %s%s is "
			    "owned by uid %u, not root or uid %u (this weftd)",
			    file, strict ? "its directory" : "directory", what,
			    strict ? "" : " on its path", (unsigned)st->st_uid,
			    (unsigned)me);
		return -1;
	}
	return 0;
}

/* The directory w->dirfd is. */
static int
plugin_dir_safe(struct walk *w, int strict, char **cause)
{
	struct stat st;

	if (fstat(w->dirfd, &st) != 0) {
		cause_set(cause, "%s: %s: %s", w->file, w->where,
		    strerror(errno));
		return -1;
	}
	return plugin_st_safe(&st, w->file, w->where, strict, cause);
}

/* Move w to the directory fd, named name in the one w is; 0 or -1. */
static int
plugin_walk_to(struct walk *w, int fd, const char *name, char **cause)
{
	char *where, *slash;

	if (fd < 0) {
		cause_set(cause, "%s: %s: %s", w->file, name, strerror(errno));
		return -1;
	}
	if (strcmp(name, "/") == 0)
		where = strdup("/");
	else if (strcmp(name, "..") == 0 && strcmp(w->where, "/") != 0 &&
	    (slash = strrchr(w->where, '/')) != NULL) {
		where = strndup(w->where,
		    slash == w->where ? 1 : (size_t)(slash - w->where));
	} else if (asprintf(&where, "%s%s%s", w->where,
		       strcmp(w->where, "/") == 0 ? "" : "/", name) < 0)
		where = NULL;
	if (where == NULL) {
		close(fd);
		cause_set(cause, "%s: %s", w->file, strerror(ENOMEM));
		return -1;
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->where);
	w->where = where;
	w->dirfd = fd;
	return 0;
}

/*
 * name in w->dirfd did not open as what was wanted: if it is a symlink
 * (owned by root or us where others can write the directory, as the
 * kernel's protected_symlinks would have it), *rest becomes its target
 * followed by what was left of the path.  1 if it was a symlink, 0 if
 * not (errno as the failed open left it), -1 with *cause set.
 */
static int
plugin_symlink(struct walk *w, const char *name, char **rest, const char *left,
    int *nlinks, char **cause)
{
	struct stat st, dst;
	char target[PATH_MAX], *next;
	ssize_t n;
	int saved = errno;

	n = readlinkat(w->dirfd, name, target, sizeof(target) - 1);
	if (n < 0) {
		errno = saved;
		return 0;
	}
	target[n] = '\0';
	if (n == 0) {
		cause_set(cause, "%s: %s", w->file, strerror(ENOENT));
		return -1;
	}
	if (++*nlinks > PLUGIN_SYMLINKS_MAX) {
		cause_set(cause, "%s: %s", w->file, strerror(ELOOP));
		return -1;
	}
	if (fstat(w->dirfd, &dst) != 0 ||
	    fstatat(w->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		cause_set(cause, "%s: %s/%s: %s", w->file, w->where, name,
		    strerror(errno));
		return -1;
	}
	/* In a directory others may write (sticky, or it was refused), a
	 * link someone else made could point anywhere. */
	if ((dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 && st.st_uid != 0 &&
	    st.st_uid != geteuid()) {
		cause_set(cause,
		    "%s: refusing to load: symlink %s%s%s in "
		    "a directory others can write is owned by uid %u",
		    w->file, w->where, strcmp(w->where, "/") == 0 ? "" : "/",
		    name, (unsigned)st.st_uid);
		return -1;
	}
	if (asprintf(&next, "%s/%s", target, left) < 0) {
		cause_set(cause, "%s: %s", w->file, strerror(ENOMEM));
		return -1;
	}
	free(*rest);
	*rest = next;
	return 1;
}

/*
 * Open name in w's directory, a directory to go through (!last) or the
 * file, after the rule for the directory it is in.  The fd; -1 with errno
 * set if the open failed; -2 with *cause set if the directory is refused.
 */
static int
plugin_openat(struct walk *w, const char *name, int last, char **cause)
{
	if (!last) {
		/* Going further down: only the rule for the directories on
		 * the way applies here. */
		if (plugin_dir_safe(w, 0, cause) != 0)
			return -2;
		return openat(w->dirfd, name,
		    O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
	}
	/* The directory the name is in, as strict as the file: whoever
	 * writes it replaces the file. */
	if (plugin_dir_safe(w, 1, cause) != 0)
		return -2;
	return openat(w->dirfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

/* The file fd is: regular, owned and moded as plugin_st_safe wants.  0, or
 * -1 with *cause set. */
static int
plugin_file_safe(int fd, const char *file, char **cause)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		cause_set(cause, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		cause_set(cause, "%s: not a regular file", file);
		return -1;
	}
	return plugin_st_safe(&st, file, NULL, 1, cause);
}

/*
 * Open file for reading, every directory on its way and the file itself
 * checked through the fd opened.  The fd (O_CLOEXEC), or -1 with *cause
 * naming file.
 */
static int
plugin_open(const char *file, char **cause)
{
	struct walk w = { file, NULL, -1 };
	char *rest, *name, *left;
	int fd = -1, nlinks = 0, last, rc;

	if ((rest = strdup(file)) == NULL ||
	    (w.where = strdup(file[0] == '/' ? "/" : ".")) == NULL) {
		free(rest);
		cause_set(cause, "%s: %s", file, strerror(ENOMEM));
		return -1;
	}
	if ((w.dirfd = open(w.where, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cause_set(cause, "%s: %s: %s", file, w.where, strerror(errno));
		goto out;
	}
	name = rest;
	for (;;) {
		/* The next component, NUL-terminated in place; left is what
		 * follows it. */
		while (*name == '/')
			name++;
		left = name + strcspn(name, "/");
		last = left[strspn(left, "/")] == '\0';
		if (*left != '\0')
			*left++ = '\0';
		if (*name == '\0') {
			/* "/" or a trailing slash: not a file. */
			cause_set(cause, "%s: %s", file, strerror(EISDIR));
			goto out;
		}
		if (strcmp(name, ".") == 0) {
			name = left;
			continue;
		}
		if ((fd = plugin_openat(&w, name, last, cause)) == -2) {
			fd = -1;
			goto out;
		}
		if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
			rc = plugin_symlink(&w, name, &rest, left, &nlinks,
			    cause);
			if (rc < 0)
				goto out;
			if (rc == 1) {
				name = rest;
				if (*rest == '/' &&
				    plugin_walk_to(&w,
					open("/",
					    O_PATH | O_DIRECTORY | O_CLOEXEC),
					"/", cause) != 0)
					goto out;
				continue;
			}
		}
		if (fd < 0) {
			cause_set(cause, "%s: %s", file, strerror(errno));
			goto out;
		}
		if (last)
			break;
		if (plugin_walk_to(&w, fd, name, cause) != 0) {
			fd = -1;
			goto out;
		}
		fd = -1;
		name = left;
	}

	if (plugin_file_safe(fd, file, cause) != 0) {
		close(fd);
		fd = -1;
	}
out:
	if (w.dirfd >= 0)
		close(w.dirfd);
	free(w.where);
	free(rest);
	return fd;
}

/* Linux 6.3: executable even under vm.memfd_noexec=1 (older kernels
 * refuse the flag, and their memfds are executable anyway). */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/*
 * A sealed in-memory copy of what fd reads: the fd of the copy
 * (O_CLOEXEC: no program a plugin runs inherits it), or -1 with *cause
 * set.  Loading the copy, not the file, means nothing done to the file
 * later can change the code a process runs: a `cp` over a loaded plugin
 * truncates and rewrites the very pages a mapping of the file would
 * execute.
 */
static int
plugin_copy(const char *file, int fd, char **cause)
{
	char name[64];
	const char *base = strrchr(file, '/');
	ssize_t n;
	off_t total = 0;
	int mfd;

	/* The name shows in /proc/PID/maps as "/memfd:NAME (deleted)". */
	snprintf(name, sizeof(name), "weftd-plugin:%s",
	    base != NULL ? base + 1 : file);
	mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* a kernel before MFD_EXEC */
		mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		cause_set(cause, "%s: memfd_create: %s", file, strerror(errno));
		return -1;
	}
	for (;;) {
		n = sendfile(mfd, fd, NULL, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cause_set(cause, "%s: copying: %s", file,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if ((total += n) > PLUGIN_COPY_MAX) {
			cause_set(cause, "%s: larger than %ld bytes", file,
			    PLUGIN_COPY_MAX);
			goto fail;
		}
	}
	if (fcntl(mfd, F_ADD_SEALS,
		F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
	    0) {
		cause_set(cause, "%s: sealing the copy: %s", file,
		    strerror(errno));
		goto fail;
	}
	return mfd;
fail:
	close(mfd);
	return -1;
}

/*
 * dlopen the copy mfd as "/proc/PID/fd/N", the name the dynamic linker
 * keeps for it.  mfd stays open while the plugin is loaded, so that name
 * keeps leading to the code: gdb attaching to a worker and ASan's
 * symbolizer open it to read the plugin's symbols (a /proc/self name
 * would be their own).  The dynamic linker returns a library it already
 * has under the same name, and a name can come back (a library that
 * outlived its dlclose, a number reused): the copy is moved to another
 * number until no loaded library has its name, so this always loads
 * these bytes.  The handle, with *fdp the (maybe moved) copy, or NULL
 * with mfd closed and *cause naming file.
 */
static void *
plugin_dlopen(const char *file, int mfd, int *fdp, char **cause)
{
	struct stat st, named;
	char path[64];
	const char *err, *at;
	void *dl, *old;
	int nfd;

	for (;;) {
		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)getpid(),
		    mfd);
		if ((old = dlopen(path, RTLD_LAZY | RTLD_NOLOAD)) == NULL)
			break;
		dlclose(old);
		if ((nfd = fcntl(mfd, F_DUPFD_CLOEXEC, mfd + 1)) < 0) {
			cause_set(cause, "%s: %s", file, strerror(errno));
			goto fail;
		}
		close(mfd);
		mfd = nfd;
	}
	/* A /proc of another PID namespace would name another process. */
	if (fstat(mfd, &st) != 0 || stat(path, &named) != 0 ||
	    st.st_dev != named.st_dev || st.st_ino != named.st_ino) {
		cause_set(cause,
		    "%s: cannot load the checked copy as %s "
		    "(is this process's /proc mounted?)",
		    file, path);
		goto fail;
	}
	/* RTLD_NOW: an unresolved symbol fails here, in `weftd -t`, and not
	 * in a worker the first time a handler calls it.  RTLD_LOCAL: two
	 * plugins' private symbols never interpose on each other. */
	dlerror();
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL) {
		*fdp = mfd;
		return dl;
	}
	if ((err = dlerror()) == NULL)
		err = "unknown dlopen error";
	/* glibc's text names the copy: name the file instead. */
	if ((at = strstr(err, path)) != NULL)
		cause_set(cause, "%.*s%s%s", (int)(at - err), err, file,
		    at + strlen(path));
	else
		cause_set(cause, "%s: %s", file, err);
fail:
	close(mfd);
	return NULL;
}

/*
 * The file fd reads (checked, and closed here), loaded: the copy this
 * process loaded already if it has, else a new sealed copy.  Its
 * reference, with *dl and *mfd, or NULL with *cause set.
 */
static struct plugin_mod *
plugin_mod_get(const char *file, int fd, void **dl, int *mfd, char **cause)
{
	struct plugin_mod *mod;
	struct stat st;

	if (fstat(fd, &st) != 0) {
		cause_set(cause, "%s: %s", file, strerror(errno));
		close(fd);
		return NULL;
	}
	if ((mod = plugin_mod_find(&st, dl, mfd)) != NULL) {
		close(fd);
		return mod;
	}
	*mfd = plugin_copy(file, fd, cause);
	close(fd);
	if (*mfd < 0)
		return NULL;
	if ((*dl = plugin_dlopen(file, *mfd, mfd, cause)) == NULL)
		return NULL;
	if ((mod = plugin_mod_add(&st, *dl, *mfd)) == NULL) {
		cause_set(cause, "%s: %s", file, strerror(ENOMEM));
		dlclose(*dl);
		close(*mfd);
	}
	return mod;
}

int
plugin_load(const struct conf_plugin *cp, struct plugin **out, char **cause)
{
	const struct weft_plugin_desc *d;
	struct plugin_mod *mod;
	struct plugin *p;
	const char *file;
	void *dl;
	int fd, mfd;

	if (out == NULL || *out != NULL || cp == NULL || cp->name == NULL) {
		cause_set(cause, "plugin_load: bad arguments");
		return -1;
	}
	file = cp->abspath != NULL ? cp->abspath : cp->path;
	if (file == NULL) {
		cause_set(cause, "plugin '%s': no path", cp->name);
		return -1;
	}

	if ((fd = plugin_open(file, cause)) < 0)
		return -1;
	if ((mod = plugin_mod_get(file, fd, &dl, &mfd, cause)) == NULL)
		return -1;
	d = dlsym(dl, WEFT_PLUGIN_SYMBOL);
	if (d == NULL) {
		cause_set(cause, "%s: no %s symbol (not a weft plugin?)", file,
		    WEFT_PLUGIN_SYMBOL);
		goto fail;
	}
	if (plugin_check(cp, file, d, cause) != 0)
		goto fail;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		cause_set(cause, "%s: %s", file, strerror(ENOMEM));
		goto fail;
	}
	p->p_conf = cp;
	p->p_mod = mod;
	p->p_dl = dl;
	p->p_fd = mfd;
	p->p_desc = d;
	*out = p;
	return 0;
fail:
	plugin_mod_put(mod);
	return -1;
}

int
plugin_init(struct plugin *p, const char *conffile, int worker, char **cause)
{
	const struct conf_plugin *cp = p->p_conf;
	const struct conf_setting *s;
	weft_plugin_ctx_t *ctx = NULL;
	void *state = NULL;
	char *text = NULL;
	size_t i;
	int rc, n;

	if (p->p_ctx != NULL) {
		cause_set(cause, "%s:%d: plugin %s: already initialised",
		    conffile, cp->line, cp->name);
		return -1;
	}
	if ((rc = weft_plugin_ctx_new(cp->name, cp->line, worker, &ctx)) != 0)
		goto nomem;
	for (i = 0; i < cp->nsettings; i++) {
		s = &cp->settings[i];
		rc = weft_plugin_ctx_add(ctx, s->key, s->value, s->type,
		    s->line);
		if (rc == -EEXIST) {
			cause_set(cause,
			    "%s:%d: plugin %s: setting '%s' "
			    "given twice",
			    conffile, s->line, cp->name, s->key);
			goto fail;
		}
		if (rc == -EINVAL) {
			cause_set(cause,
			    "%s:%d: plugin %s: setting '%s' "
			    "has a bad type %d",
			    conffile, s->line, cp->name,
			    s->key != NULL ? s->key : "?", s->type);
			goto fail;
		}
		if (rc != 0)
			goto nomem;
	}

	rc = plugin_run_init(p, ctx, &state);
	if ((n = weft_plugin_ctx_errors(ctx, conffile, &text)) < 0) {
		if (rc == 0)
			plugin_run_fini(p, state);
		goto nomem;
	}
	if (rc < 0 && n == 0) {
		/* init failed without a word: say at least that much. */
		cause_set(cause, "%s:%d: plugin %s: init failed (%s)", conffile,
		    cp->line, cp->name, weft_strerror(rc));
		goto fail;
	}
	if (n > 0) {
		/* A bad value or an unknown setting fails init even if the
		 * plugin itself did not notice: undo what it built. */
		if (rc >= 0)
			plugin_run_fini(p, state);
		if (cause != NULL)
			*cause = text;
		else
			free(text);
		goto fail;
	}
	p->p_ctx = ctx;
	p->p_state = state;
	p->p_inited = 1;
	return 0;
nomem:
	cause_set(cause, "%s:%d: plugin %s: %s", conffile, cp->line, cp->name,
	    strerror(ENOMEM));
fail:
	weft_plugin_ctx_free(&ctx);
	return -1;
}

void
plugin_unload(struct plugin **pp)
{
	struct plugin *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	if (p->p_inited)
		plugin_run_fini(p, p->p_state);
	/* The settings stay readable through fini: weft_setting_str's
	 * strings belong to the context. */
	weft_plugin_ctx_free(&p->p_ctx);
	if (plugin_run_end(p) == 0)
		plugin_mod_put(p->p_mod);
	else /* fibers that would run unmapped code: keep it */
		log_warnx("plugin \"%s\": fibers left running, its code "
			  "stays loaded",
		    p->p_conf->name);
	free(p);
	*pp = NULL;
}
