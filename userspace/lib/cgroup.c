// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

int cgroup_id_of_path(const char *path, uint64_t *id)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	return 0;
}

/* The "0::/path" line of /proc/PID/cgroup, malloc'd, or NULL. */
static char *proc_cgroup_path(int pid)
{
	char file[64], line[PATH_MAX + 8], *out = NULL;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		out = strdup(line + 3);
		break;
	}
	fclose(f);
	return out;
}

/*
 * Depth-first search for the directory with inode `id` below `dir`.
 * `rel` is dir's path relative to the mount. Bounded by the hierarchy's
 * own depth limit; symlinks are not followed.
 */
static char *walk(const char *dir, const char *rel, uint64_t id, int depth)
{
	DIR *d;
	struct dirent *de;
	char *found = NULL;

	if (depth > 64)
		return NULL;
	d = opendir(dir);
	if (!d)
		return NULL;
	while (!found && (de = readdir(d))) {
		char sub[PATH_MAX], subrel[PATH_MAX];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
		    !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= (int)sizeof(sub) ||
		    snprintf(subrel, sizeof(subrel), "%s/%s", rel, de->d_name) >= (int)sizeof(subrel))
			continue;
		if (de->d_ino == id)
			found = strdup(subrel);
		else
			found = walk(sub, subrel, id, depth + 1);
	}
	closedir(d);
	return found;
}

char *cgroup_path_of_id(const char *mount, uint64_t id, int pid_hint)
{
	char full[PATH_MAX];
	uint64_t got = 0;
	char *p;

	if (cgroup_id_of_path(mount, &got) == 0 && got == id)
		return strdup("/");
	if (pid_hint > 0) {
		p = proc_cgroup_path(pid_hint);
		if (p && snprintf(full, sizeof(full), "%s%s", mount, p) < (int)sizeof(full) &&
		    cgroup_id_of_path(full, &got) == 0 && got == id)
			return p;
		free(p);
	}
	p = walk(mount, "", id, 0);
	if (!p)
		errno = ENOENT;
	return p;
}

int cgroup_self_id(const char *mount, uint64_t *id)
{
	char full[PATH_MAX];
	char *p = proc_cgroup_path(getpid());
	int err;

	if (!p)
		return -ENOENT;
	if (snprintf(full, sizeof(full), "%s%s", mount, p) >= (int)sizeof(full))
		err = -ENAMETOOLONG;
	else
		err = cgroup_id_of_path(full, id);
	free(p);
	return err;
}
