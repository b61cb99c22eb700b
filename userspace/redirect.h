/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel side, seen from the daemon: loads bpf/sluice.bpf.c, reuses or
 * creates the pins under SLUICE_PIN_DIR, attaches the programs to a cgroup
 * (or atomically swaps the programs behind links a previous daemon pinned),
 * fills the targets map, beats the heartbeat and drains the gap events.
 */
#ifndef SLUICE_REDIRECT_H
#define SLUICE_REDIRECT_H

#include <stdint.h>
#include <sys/socket.h>

#include "sluice_abi.h"

struct config;
struct redirect;

struct redirect_opts {
	const char *cgroup;	/* attach point: a cgroup v2 directory */
	uint8_t listen4[16];	/* IPv4-mapped */
	uint8_t listen6[16];
	uint16_t port;
	uint32_t mark;
	uint64_t stale_ns;
	uint64_t daemon_cgroup;	/* 0: none */
};

/*
 * Load and attach. A pinned link found for a program is reused (its
 * program replaced in place) when it is attached to the same cgroup, so a
 * restart never detaches anything; otherwise a new link is attached and
 * pinned. Only one daemon per node holds the pins: EBUSY when another
 * does. Returns the handle (caller frees with redirect_close(), which
 * leaves everything pinned) or NULL with errno set.
 */
struct redirect *redirect_open(const struct redirect_opts *o);

/*
 * Make the targets map say exactly what cfg says: new and changed entries
 * are written first, stale ones deleted after, so no configured address is
 * ever missing from the map. Returns 0 or -errno.
 */
int redirect_set_targets(struct redirect *r, const struct config *cfg);

/* Record that the daemon is alive now (mono_ns = 0 marks it gone). */
int redirect_beat(struct redirect *r, uint64_t mono_ns);

/*
 * The redirect record of an accepted connection: `peer` is the accepted
 * peer address, `local` the listener address it came in on. Returns 0,
 * -ENOENT when the kernel recorded no redirect for it, or -errno.
 */
int redirect_lookup(struct redirect *r, const struct sockaddr *peer,
		    const struct sockaddr *local, struct sluice_orig *out);

/* Sum over CPUs of target_stats[target_id]. Returns 0 or -errno. */
int redirect_stats(struct redirect *r, uint32_t target_id,
		   struct sluice_target_stats *out);

typedef void (*redirect_event_fn)(void *ctx, const struct sluice_event *ev);

/*
 * Wait up to timeout_ms for gap events and hand each to fn (the pointer is
 * valid during the call only). Returns the number handled or -errno.
 */
int redirect_poll_events(struct redirect *r, int timeout_ms,
			 redirect_event_fn fn, void *ctx);

/* Release the handle; links and maps stay pinned. Accepts NULL. */
void redirect_close(struct redirect *r);

/*
 * Detach every pinned link and remove every pin, so nothing of sluice is
 * left in the kernel. Missing pins are not an error. Returns -EBUSY while
 * a daemon holds the pins, else 0 or -errno of the first failure (it goes
 * on with the rest).
 */
int redirect_uninstall(void);

/* Mount bpffs at /sys/fs/bpf if it is not there. Returns 0 or -errno. */
int redirect_ensure_bpffs(void);

/* Store a sockaddr (AF_INET/AF_INET6) as a 16-byte address (IPv4-mapped)
 * and host-order port. Returns 0 or -EAFNOSUPPORT. */
int redirect_addr16(const struct sockaddr *sa, uint8_t addr[16], uint16_t *port);

#endif
