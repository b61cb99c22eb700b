/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one ABI shared by the kernel programs (bpf/sluice.bpf.c) and user
 * space (userspace/redirect.c, cli/). Every map key and value and every
 * ring-buffer record is defined here, with fixed-width types only, and its
 * size is checked at compile time on both sides.
 *
 * Addresses are always 16 bytes: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d), so one key shape serves connect4, connect6 and the
 * IPv4-mapped destinations that connect6 sees. Ports are host byte order.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SLUICE_MAX_TARGETS	256
#define SLUICE_MAX_MATCHES	1024
#define SLUICE_MAX_INFLIGHT	65536
#define SLUICE_EVENTS_BYTES	(256 * 1024)
#define SLUICE_COMM_LEN		16

enum sluice_fail_mode {
	SLUICE_FAIL_CLOSED = 0,
	SLUICE_FAIL_OPEN = 1,
};

/* targets: an address the agent connects to -> the target it belongs to */
struct sluice_addr_key {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

struct sluice_target_val {
	__u32 target_id;
	__u32 fail_mode; /* enum sluice_fail_mode */
};

/* settings[0]: written by the daemon at start, read by every program */
struct sluice_settings {
	__u8 listen4[16];	/* IPv4-mapped listener for IPv4 callers */
	__u8 listen6[16];	/* listener for IPv6 callers */
	__u64 stale_ns;		/* heartbeat older than this: daemon is gone */
	__u64 daemon_cgroup;	/* 0: do not skip by cgroup */
	__u32 mark;		/* SO_MARK of the daemon's own sockets */
	__u16 port;		/* proxy listener port */
	__u16 pad;
};

/* heartbeat[0]: CLOCK_MONOTONIC ns of the daemon's last beat; 0 = never */
struct sluice_heartbeat {
	__u64 mono_ns;
};

/* orig_by_cookie / orig_by_tuple: where the agent meant to go, and who it is */
struct sluice_orig {
	__u8 orig_addr[16];
	__u16 orig_port;
	__u16 family;		/* AF_INET or AF_INET6 of the agent's socket */
	__u32 target_id;
	__u64 pid_tgid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u64 netns_cookie;
	__u64 time_ns;		/* CLOCK_MONOTONIC of the connect */
	char comm[SLUICE_COMM_LEN];
};

/* orig_by_tuple key: the connection as the proxy's accept() sees it */
struct sluice_tuple {
	__u8 peer[16];		/* the agent's address (accepted peer) */
	__u8 local[16];		/* the proxy listener address */
	__u16 peer_port;
	__u16 local_port;
	__u32 pad;
};

/* target_stats[target_id], per CPU */
struct sluice_target_stats {
	__u64 redirected;
	__u64 bypassed;	/* fail_mode open while the daemon was away */
	__u64 refused;	/* fail_mode closed while the daemon was away */
	__u64 events_lost; /* ring buffer full: gap not itemised */
};

enum sluice_event_type {
	SLUICE_EV_BYPASS = 1,
	SLUICE_EV_REFUSE = 2,
};

/* events ring buffer: one record per connect the proxy did not see */
struct sluice_event {
	__u32 type;	/* enum sluice_event_type */
	__u32 target_id;
	struct sluice_orig orig;
};

#define SLUICE_ABI_SIZE_CHECK(t, n) \
	_Static_assert(sizeof(struct t) == (n), "ABI size of " #t)
SLUICE_ABI_SIZE_CHECK(sluice_addr_key, 20);
SLUICE_ABI_SIZE_CHECK(sluice_target_val, 8);
SLUICE_ABI_SIZE_CHECK(sluice_settings, 56);
SLUICE_ABI_SIZE_CHECK(sluice_heartbeat, 8);
SLUICE_ABI_SIZE_CHECK(sluice_orig, 80);
SLUICE_ABI_SIZE_CHECK(sluice_tuple, 40);
SLUICE_ABI_SIZE_CHECK(sluice_target_stats, 32);
SLUICE_ABI_SIZE_CHECK(sluice_event, 88);

#endif /* SLUICE_ABI_H */
