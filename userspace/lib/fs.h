/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SLUICE_FS_H
#define SLUICE_FS_H

/*
 * Create the directories above the file `path` that are missing: the last
 * one with mode 0700 (it holds a socket or a key), the ones above 0755.
 * Returns 0 or -errno.
 */
int fs_mkdir_parent(const char *path);

#endif
