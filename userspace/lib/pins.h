/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where sluiced pins its bpf objects. Maps are pinned by libbpf under their
 * own names (see bpf/sluice.bpf.c); links under "link_<program>". The CLI
 * reads both without the daemon.
 */
#ifndef SLUICE_PINS_H
#define SLUICE_PINS_H

#define SLUICE_PIN_DIR	"/sys/fs/bpf/sluice"

/* program name in the bpf object, pinned link file name, attach point kind */
#define SLUICE_PROGRAMS(X)						\
	X(sluice_connect4,	"link_connect4",	"cgroup/connect4")	\
	X(sluice_connect6,	"link_connect6",	"cgroup/connect6")	\
	X(sluice_sockops,	"link_sockops",		"cgroup/sock_ops")	\
	X(sluice_getpeername4,	"link_getpeername4",	"cgroup/getpeername4")	\
	X(sluice_getpeername6,	"link_getpeername6",	"cgroup/getpeername6")

/* every pinned map, by name */
#define SLUICE_MAPS(X)	\
	X(targets)	\
	X(settings)	\
	X(heartbeat)	\
	X(orig_by_cookie) \
	X(orig_by_tuple) \
	X(target_stats)	\
	X(events)

#endif
