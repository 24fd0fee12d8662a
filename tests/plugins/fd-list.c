/*
 * Test plugin "fd-list": an echo handler whose init writes what the
 * process holds, one /proc/self/fd entry a line ("3 socket:[1234]"), to
 * the file <dir>/fds.<pid>.  Init runs in every worker and in the reload
 * probe, so test_weftd.py can see what each process inherited.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/plugin.h>
#include <weft/stream.h>

static void
client(weft_reader_t *r, weft_writer_t *w, void *state)
{
	weft_slice_t s;

	(void)state;
	while (weft_read_slice(r, 4096, &s) > 0)
		if (weft_write(w, s.base, s.len) != 0 || weft_drain(w) != 0)
			break;
}

static int
init(weft_plugin_ctx_t *ctx, void **state)
{
	const char *dir = weft_setting_str(ctx, "dir", NULL);
	char path[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	struct dirent *de;
	DIR *d;
	FILE *fp;
	ssize_t n;

	*state = NULL;
	if (dir == NULL)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/fds.%ld", dir, (long)getpid());
	if ((fp = fopen(path, "w")) == NULL)
		return -errno;
	if ((d = opendir("/proc/self/fd")) == NULL) {
		fclose(fp);
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = '\0';
		fprintf(fp, "%s %s\n", de->d_name, target);
	}
	closedir(d);
	fclose(fp);
	return 0;
}

WEFT_PLUGIN(fd_list, .init = init, .client_connected = client);
