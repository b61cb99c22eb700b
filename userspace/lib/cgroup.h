/* SPDX-License-Identifier: BSD-2-Clause */
/* cgroup v2 ids and paths (the id of a cgroup is its directory's inode). */
#ifndef SLUICE_CGROUP_H
#define SLUICE_CGROUP_H

#include <stdint.h>

/* Id of the cgroup directory `path`. Returns 0 or -errno. */
int cgroup_id_of_path(const char *path, uint64_t *id);

/*
 * Path, relative to the cgroup2 mount `mount` and starting with "/", of the
 * cgroup whose id is `id`; `pid_hint` (0 for none) is tried first through
 * /proc/PID/cgroup, then the hierarchy is walked. Returns a malloc'd string
 * (caller frees) or NULL with errno set (ENOENT: the cgroup is gone).
 */
char *cgroup_path_of_id(const char *mount, uint64_t id, int pid_hint);

/* Id of the calling process's own cgroup v2. Returns 0 or -errno. */
int cgroup_self_id(const char *mount, uint64_t *id);

#endif
