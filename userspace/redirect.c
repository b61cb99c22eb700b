// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice.skel.h"
#include "config.h"
#include "log.h"
#include "pins.h"
#include "redirect.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

struct redirect {
	int lock_fd;		/* flock on the pin dir: one daemon per node */
	struct sluice_bpf *skel;
	struct ring_buffer *rb;
	redirect_event_fn fn;
	void *fn_ctx;
	int handled;
};

int redirect_addr16(const struct sockaddr *sa, uint8_t addr[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(addr, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

int redirect_ensure_bpffs(void)
{
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir("/sys/fs/bpf", 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	char buf[1024];

	if (lvl == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_kv(lvl == LIBBPF_WARN ? LOG_WARN : LOG_INFO, "libbpf", "{s:s}",
	       "text", buf);
	return 0;
}

/* Cgroup id a pinned link is attached to, or 0 when it is not a cgroup link. */
static uint64_t link_cgroup(int link_fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return 0;
	if (info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

/*
 * Attach one program: swap it into the pinned link when that link is on
 * the same cgroup (no window, no second attachment); otherwise detach the
 * stale link and attach and pin a new one.
 */
static int attach_one(struct bpf_program *prog, const char *pin, int cg_fd,
		      uint64_t cg_id)
{
	struct bpf_link *link = NULL;
	int err = 0;

	link = access(pin, F_OK) ? NULL : bpf_link__open(pin);
	if (link) {
		if (link_cgroup(bpf_link__fd(link)) == cg_id) {
			err = bpf_link__update_program(link, prog);
			if (!err) {
				log_info("reused pinned link", "{s:s}", "pin", pin);
				goto out;
			}
		}
		log_warn("replacing pinned link", "{s:s, s:i}", "pin", pin,
			 "update_err", err);
		bpf_link__detach(link);
		bpf_link__unpin(link);
		bpf_link__destroy(link);
		link = NULL;
		unlink(pin);
	}
	link = bpf_program__attach_cgroup(prog, cg_fd);
	if (!link) {
		err = -errno;
		goto out;
	}
	err = bpf_link__pin(link, pin);
	if (!err)
		log_info("attached", "{s:s, s:s}", "program",
			 bpf_program__name(prog), "pin", pin);
out:
	/* the pin holds the attachment; our fd is not needed */
	bpf_link__destroy(link);
	return err;
}

/*
 * The pins are the node's one redirect: a second daemon would share the
 * maps and the listener port with the first. The lock dies with its
 * holder, kill -9 included. Returns the locked fd or -errno (-EBUSY: held).
 */
static int lock_pins(void)
{
	int fd = open(SLUICE_PIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct redirect *redirect_open(const struct redirect_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = SLUICE_PIN_DIR);
	struct redirect *r = NULL;
	struct sluice_settings s = {};
	struct sluice_heartbeat hb = {};
	struct stat st;
	__u32 zero = 0;
	int cg_fd = -1, err;

	libbpf_set_print(libbpf_print);
	err = redirect_ensure_bpffs();
	if (err)
		goto out;
	if (mkdir(SLUICE_PIN_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	r->lock_fd = lock_pins();	/* -errno on failure: never closed */
	if (r->lock_fd < 0) {
		err = r->lock_fd;
		goto out;
	}
	cg_fd = open(o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0 || fstat(cg_fd, &st)) {
		err = -errno;
		goto out;
	}
	r->skel = sluice_bpf__open_opts(&oo);
	if (!r->skel) {
		err = -errno;
		goto out;
	}
	err = sluice_bpf__load(r->skel);
	if (err)
		goto out;

	memcpy(s.listen4, o->listen4, 16);
	memcpy(s.listen6, o->listen6, 16);
	s.port = o->port;
	s.mark = o->mark;
	s.stale_ns = o->stale_ns;
	s.daemon_cgroup = o->daemon_cgroup;
	err = bpf_map__update_elem(r->skel->maps.settings, &zero, sizeof(zero),
				   &s, sizeof(s), BPF_ANY);
	/* until the listeners are up, the daemon counts as away */
	if (!err)
		err = bpf_map__update_elem(r->skel->maps.heartbeat, &zero,
					   sizeof(zero), &hb, sizeof(hb), BPF_ANY);
	if (err)
		goto out;

#define ATTACH(prog, link, kind)						\
	if (!err)							\
		err = attach_one(r->skel->progs.prog,			\
				 SLUICE_PIN_DIR "/" link, cg_fd, st.st_ino);
	SLUICE_PROGRAMS(ATTACH)
#undef ATTACH
out:
	if (cg_fd >= 0)
		close(cg_fd);
	if (err) {
		redirect_close(r);
		errno = -err;
		return NULL;
	}
	return r;
}

int redirect_set_targets(struct redirect *r, const struct config *cfg)
{
	struct bpf_map *m = r->skel->maps.targets;
	struct sluice_addr_key key, next, *stale = NULL;
	struct sluice_target_val val;
	size_t n_stale = 0, cap = 0;
	int err = 0;

	for (size_t t = 0; t < cfg->n_targets; t++) {
		const struct cfg_target *tg = &cfg->targets[t];

		for (size_t i = 0; i < tg->n_match; i++) {
			memset(&key, 0, sizeof(key));
			memcpy(key.addr, tg->match[i].addr, 16);
			key.port = tg->match[i].port;
			val.target_id = t;
			val.fail_mode = tg->fail_mode;
			err = bpf_map__update_elem(m, &key, sizeof(key), &val,
						   sizeof(val), BPF_ANY);
			if (err)
				goto out;
		}
	}
	/* collect what the config no longer names, then delete it */
	for (int e = bpf_map__get_next_key(m, NULL, &next, sizeof(next)); !e;
	     e = bpf_map__get_next_key(m, &key, &next, sizeof(next))) {
		int keep = 0;

		key = next;
		for (size_t t = 0; t < cfg->n_targets && !keep; t++)
			for (size_t i = 0; i < cfg->targets[t].n_match && !keep; i++)
				keep = !memcmp(key.addr, cfg->targets[t].match[i].addr, 16) &&
				       key.port == cfg->targets[t].match[i].port;
		if (keep)
			continue;
		if (n_stale == cap) {
			void *p = realloc(stale, (cap = cap * 2 + 8) * sizeof(*stale));

			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			stale = p;
		}
		stale[n_stale++] = key;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map__delete_elem(m, &stale[i], sizeof(stale[i]), 0);
out:
	free(stale);
	return err;
}

int redirect_beat(struct redirect *r, uint64_t mono_ns)
{
	struct sluice_heartbeat hb = { .mono_ns = mono_ns };
	__u32 zero = 0;

	return bpf_map__update_elem(r->skel->maps.heartbeat, &zero, sizeof(zero),
				    &hb, sizeof(hb), BPF_ANY);
}

int redirect_lookup(struct redirect *r, const struct sockaddr *peer,
		    const struct sockaddr *local, struct sluice_orig *out)
{
	struct sluice_tuple k = {};
	int err;

	err = redirect_addr16(peer, k.peer, &k.peer_port);
	if (!err)
		err = redirect_addr16(local, k.local, &k.local_port);
	if (err)
		return err;
	return bpf_map__lookup_elem(r->skel->maps.orig_by_tuple, &k, sizeof(k),
				    out, sizeof(*out), 0);
}

int redirect_stats(struct redirect *r, uint32_t target_id,
		   struct sluice_target_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sluice_target_stats *per;
	int err;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	err = bpf_map__lookup_elem(r->skel->maps.target_stats, &target_id,
				   sizeof(target_id), per, ncpu * sizeof(*per), 0);
	for (int c = 0; !err && c < ncpu; c++) {
		out->redirected += per[c].redirected;
		out->bypassed += per[c].bypassed;
		out->refused += per[c].refused;
		out->events_lost += per[c].events_lost;
	}
	free(per);
	return err;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct redirect *r = ctx;

	if (len < sizeof(struct sluice_event))
		return 0;
	r->fn(r->fn_ctx, data);
	r->handled++;
	return 0;
}

int redirect_poll_events(struct redirect *r, int timeout_ms,
			 redirect_event_fn fn, void *ctx)
{
	int err;

	if (!r->rb) {
		r->rb = ring_buffer__new(bpf_map__fd(r->skel->maps.events),
					 on_event, r, NULL);
		if (!r->rb)
			return -errno;
	}
	r->fn = fn;
	r->fn_ctx = ctx;
	r->handled = 0;
	err = ring_buffer__poll(r->rb, timeout_ms);
	if (err < 0 && err != -EINTR)
		return err;
	return r->handled;
}

void redirect_close(struct redirect *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	sluice_bpf__destroy(r->skel);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r);
}

int redirect_uninstall(void)
{
	int first = 0, err, lock;

	lock = lock_pins();
	if (lock == -EBUSY)
		return lock;
	if (lock >= 0)
		close(lock);

	/* links first: once they are gone nothing uses the maps */
#define UNPIN_LINK(prog, link, kind)					\
	do {								\
		struct bpf_link *l = access(SLUICE_PIN_DIR "/" link, F_OK) ? \
			NULL : bpf_link__open(SLUICE_PIN_DIR "/" link);	\
		if (l) {						\
			err = bpf_link__detach(l);			\
			if (err && !first)				\
				first = err;				\
			bpf_link__destroy(l);				\
		}							\
		if (unlink(SLUICE_PIN_DIR "/" link) && errno != ENOENT && !first) \
			first = -errno;					\
	} while (0);
	SLUICE_PROGRAMS(UNPIN_LINK)
#undef UNPIN_LINK
#define UNPIN_MAP(name)							\
	if (unlink(SLUICE_PIN_DIR "/" #name) && errno != ENOENT && !first) \
		first = -errno;
	SLUICE_MAPS(UNPIN_MAP)
#undef UNPIN_MAP
	if (rmdir(SLUICE_PIN_DIR) && errno != ENOENT && !first)
		first = -errno;
	return first;
}
