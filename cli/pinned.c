// SPDX-License-Identifier: BSD-2-Clause
/*
 * What the CLI reads from bpffs on its own: pinned links and maps, so that
 * `prog`, `map`, `status` and the `target list` fallback work while the
 * daemon is down. Everything here is a snapshot; the maps change under us.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "addr.h"
#include "cli.h"
#include "cgroup.h"
#include "pins.h"
#include "sluice_abi.h"

const char *cli_addr_str(const uint8_t addr[16], uint16_t port,
			 bool with_port, char *buf, size_t len)
{
	bool v4 = addr_is_v4(addr);

	if (with_port)
		return addr_format(addr, port, buf, len);
	if (len < INET6_ADDRSTRLEN ||
	    !inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

json_t *cli_json_comm(const char *s, size_t len)
{
	char buf[64];
	size_t n = strnlen(s, len < sizeof(buf) ? len : sizeof(buf));

	/* comm is whatever the process wrote: keep JSON valid ASCII */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	return json_stringn(buf, n);
}

/* Undo the octal escapes (\040) of /proc/self/mounts, in place. */
static void unescape_mount(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' &&
		    r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 +
				      (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int cli_cgroup2_mount(char *buf, size_t len)
{
	char *line = NULL, *save, *dir, *type;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (!strtok_r(line, " ", &save))
			continue;
		dir = strtok_r(NULL, " ", &save);
		type = strtok_r(NULL, " ", &save);
		if (!dir || !type || strcmp(type, "cgroup2"))
			continue;
		unescape_mount(dir);
		if (strlen(dir) >= len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, dir);
		err = 0;
		break;
	}
	free(line);
	fclose(f);
	return err;
}

static int stats_enabled(void)
{
	char c = '0';
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");

	if (!f)
		return 0;
	if (fread(&c, 1, 1, f) != 1)
		c = '0';
	fclose(f);
	return c == '1';
}

/* load_time is ns since boot; RFC 3339 UTC of that instant, or NULL. */
static json_t *boot_ns_to_time(uint64_t boot_ns)
{
	struct timespec real, boot;
	char buf[40];
	struct tm tm;
	time_t t;
	long long ns;

	if (clock_gettime(CLOCK_REALTIME, &real) ||
	    clock_gettime(CLOCK_BOOTTIME, &boot))
		return json_null();
	ns = (long long)real.tv_sec * 1000000000LL + real.tv_nsec -
	     ((long long)boot.tv_sec * 1000000000LL + boot.tv_nsec) +
	     (long long)boot_ns;
	t = (time_t)(ns / 1000000000LL);
	if (!gmtime_r(&t, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* The absolute cgroup path of `id` under `mount`, or JSON null. */
static json_t *cgroup_json(const char *mount, uint64_t id)
{
	char *rel;
	json_t *v;

	if (!mount[0] || !id)
		return json_null();
	rel = cgroup_path_of_id(mount, id, 0);
	if (!rel)
		return json_null();
	v = json_sprintf("%s%s", mount, strcmp(rel, "/") ? rel : "");
	free(rel);
	return v ? v : json_null();
}

/*
 * Describe the link pinned at `pin`: a new object in *out (caller decrefs).
 * 0, -ENOENT when nothing is pinned there, or -errno.
 */
static int program_json(const char *name, const char *pin, const char *mount,
			bool stats, json_t **out)
{
	struct bpf_link_info linfo = {};
	struct bpf_prog_info pinfo = {};
	__u32 len;
	const char *s;
	json_t *o = NULL;
	int link_fd = -1, prog_fd = -1, err = 0;
	bool cgroup;

	link_fd = bpf_obj_get(pin);
	if (link_fd < 0) {
		err = -errno;
		goto out;
	}
	len = sizeof(linfo);
	if (bpf_obj_get_info_by_fd(link_fd, &linfo, &len)) {
		err = -errno;
		goto out;
	}
	prog_fd = bpf_prog_get_fd_by_id(linfo.prog_id);
	if (prog_fd < 0) {
		err = -errno;
		goto out;
	}
	len = sizeof(pinfo);
	if (bpf_obj_get_info_by_fd(prog_fd, &pinfo, &len)) {
		err = -errno;
		goto out;
	}
	cgroup = linfo.type == BPF_LINK_TYPE_CGROUP;
	s = libbpf_bpf_prog_type_str(pinfo.type);
	o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:o, s:b}",
		      "id", (json_int_t)pinfo.id,
		      /* the kernel keeps 15 bytes of a name; pins.h has it all */
		      "name", name,
		      "type", s ? s : "unknown",
		      "attach_type",
		      cgroup && libbpf_bpf_attach_type_str(linfo.cgroup.attach_type) ?
		      json_string(libbpf_bpf_attach_type_str(linfo.cgroup.attach_type)) :
		      json_null(),
		      "attach_point",
		      cgroup ? cgroup_json(mount, linfo.cgroup.cgroup_id) : json_null(),
		      "cgroup_id",
		      cgroup ? cli_ju64(linfo.cgroup.cgroup_id) : json_null(),
		      "link_id", (json_int_t)linfo.id,
		      "pinned", pin,
		      "loaded_at", boot_ns_to_time(pinfo.load_time),
		      "stats_enabled", stats);
	if (!o) {
		err = -ENOMEM;
		goto out;
	}
	/* counters only move while bpf_stats_enabled is 1 */
	json_object_set_new(o, "run_cnt",
			    stats ? cli_ju64(pinfo.run_cnt) : json_null());
	json_object_set_new(o, "run_time_ns",
			    stats ? cli_ju64(pinfo.run_time_ns) : json_null());
	*out = o;
out:
	if (prog_fd >= 0)
		close(prog_fd);
	if (link_fd >= 0)
		close(link_fd);
	return err;
}

int cli_program_count(void)
{
#define X(prog, pin, kind) + 1
	return 0 SLUICE_PROGRAMS(X);
#undef X
}

int cli_pinned_programs(json_t **out, char *why, size_t why_len)
{
	static const struct {
		const char *name, *pin;
	} progs[] = {
#define X(prog, pin, kind) { #prog, SLUICE_PIN_DIR "/" pin },
		SLUICE_PROGRAMS(X)
#undef X
	};
	char mount[4096] = "";
	json_t *arr, *o = NULL;
	bool stats = stats_enabled();
	int err = 0;

	*out = NULL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	if (cli_cgroup2_mount(mount, sizeof(mount)))
		mount[0] = '\0';
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		err = program_json(progs[i].name, progs[i].pin, mount, stats, &o);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err) {
			snprintf(why, why_len, "%s: %s", progs[i].pin,
				 strerror(-err));
			goto out;
		}
		json_array_append_new(arr, o);
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	return err;
}

int cli_map_open(const char *name, uint32_t key_size, uint32_t value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[256];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", SLUICE_PIN_DIR, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto fail;
	}
	if ((key_size && info.key_size != key_size) ||
	    (value_size && info.value_size != value_size)) {
		err = -EPROTO;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int cli_map_keys(int fd, size_t key_size, uint32_t bound,
		 int (*cb)(const void *key, void *ctx), void *ctx)
{
	void *prev = NULL, *next = NULL, *tmp;
	uint32_t n = 0;
	int err = 0;

	prev = calloc(1, key_size);
	next = calloc(1, key_size);
	if (!prev || !next) {
		err = -ENOMEM;
		goto out;
	}
	/*
	 * An LRU map may drop `prev` between calls, which restarts the walk:
	 * `bound` (the map's max_entries) keeps that from looping forever.
	 */
	while (n < bound) {
		if (bpf_map_get_next_key(fd, n ? prev : NULL, next)) {
			if (errno != ENOENT)
				err = -errno;
			break;
		}
		n++;
		if (cb) {
			err = cb(next, ctx);
			if (err)
				break;
		}
		tmp = prev;
		prev = next;
		next = tmp;
	}
out:
	free(prev);
	free(next);
	return err ? err : (int)n;
}

int cli_read_heartbeat(uint64_t *mono_ns)
{
	struct sluice_heartbeat hb = {};
	__u32 zero = 0;
	int fd, err = 0;

	fd = cli_map_open("heartbeat", sizeof(zero), sizeof(hb));
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &hb))
		err = -errno;
	else
		*mono_ns = hb.mono_ns;
	close(fd);
	return err;
}

int cli_read_settings(struct sluice_settings *s)
{
	__u32 zero = 0;
	int fd, err = 0;

	fd = cli_map_open("settings", sizeof(zero), sizeof(*s));
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, s))
		err = -errno;
	close(fd);
	return err;
}

long long cli_heartbeat_age_ms(uint64_t mono_ns)
{
	struct timespec ts;
	uint64_t now;

	if (!mono_ns)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return mono_ns >= now ? 0 : (long long)((now - mono_ns) / 1000000);
}

int cli_read_target_stats(uint32_t id, struct sluice_target_stats *sum,
			  int fd)
{
	size_t stride = (sizeof(*sum) + 7) & ~(size_t)7;
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_target_stats *c;
	char *buf;
	int err = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	/* a per-CPU value comes back as one 8-byte aligned slot per CPU */
	buf = calloc((size_t)ncpus, stride);
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &id, buf)) {
		err = -errno;
		goto out;
	}
	for (int i = 0; i < ncpus; i++) {
		c = (struct sluice_target_stats *)(buf + (size_t)i * stride);
		sum->redirected += c->redirected;
		sum->bypassed += c->bypassed;
		sum->refused += c->refused;
		sum->events_lost += c->events_lost;
	}
out:
	free(buf);
	return err;
}

struct tgt_walk {
	int fd;
	json_t *by_id;	/* "id" -> target object */
};

static json_t *target_entry(json_t *by_id, uint32_t id)
{
	char key[16];
	json_t *t;

	snprintf(key, sizeof(key), "%u", id);
	t = json_object_get(by_id, key);
	if (t)
		return t;
	t = json_pack("{s:I, s:[], s:n}", "target_id", (json_int_t)id, "match",
		      "fail_mode");
	if (!t || json_object_set_new(by_id, key, t))
		return NULL;
	return t;
}

static int target_key_cb(const void *key, void *ctx)
{
	struct tgt_walk *w = ctx;
	const struct sluice_addr_key *k = key;
	struct sluice_target_val v;
	char addr[64];
	json_t *t;

	if (bpf_map_lookup_elem(w->fd, k, &v))
		return errno == ENOENT ? 0 : -errno;
	t = target_entry(w->by_id, v.target_id);
	if (!t)
		return -ENOMEM;
	cli_addr_str(k->addr, k->port, true, addr, sizeof(addr));
	json_array_append_new(json_object_get(t, "match"), json_string(addr));
	json_object_set_new(t, "fail_mode",
			    json_string(v.fail_mode == SLUICE_FAIL_OPEN ?
					"open" : "closed"));
	return 0;
}

static int cmp_target(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a,
							  "target_id"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b,
							  "target_id"));

	return x < y ? -1 : x > y;
}

int cli_bpf_targets(json_t **out)
{
	struct sluice_target_stats st;
	struct tgt_walk w = { .fd = -1 };
	json_t *arr = NULL, **v = NULL, *t;
	const char *key;
	size_t n = 0, i;
	int sfd = -1, err;

	*out = NULL;
	w.by_id = json_object();
	if (!w.by_id)
		return -ENOMEM;
	w.fd = cli_map_open("targets", sizeof(struct sluice_addr_key),
			    sizeof(struct sluice_target_val));
	if (w.fd < 0) {
		err = w.fd;
		goto out;
	}
	err = cli_map_keys(w.fd, sizeof(struct sluice_addr_key),
			   SLUICE_MAX_MATCHES, target_key_cb, &w);
	if (err < 0)
		goto out;
	err = 0;
	/* counters: per target, summed over CPUs; absent map -> nulls */
	sfd = cli_map_open("target_stats", sizeof(__u32), sizeof(st));
	for (uint32_t id = 0; sfd >= 0 && id < SLUICE_MAX_TARGETS; id++) {
		char k[16];

		snprintf(k, sizeof(k), "%u", id);
		t = json_object_get(w.by_id, k);
		if (cli_read_target_stats(id, &st, sfd))
			continue;
		if (!t && !st.redirected && !st.bypassed && !st.refused &&
		    !st.events_lost)
			continue;
		if (!t)
			t = target_entry(w.by_id, id);
		if (!t) {
			err = -ENOMEM;
			goto out;
		}
		json_object_set_new(t, "redirected", cli_ju64(st.redirected));
		json_object_set_new(t, "bypassed", cli_ju64(st.bypassed));
		json_object_set_new(t, "refused", cli_ju64(st.refused));
		json_object_set_new(t, "events_lost", cli_ju64(st.events_lost));
	}
	n = json_object_size(w.by_id);
	v = calloc(n ? n : 1, sizeof(*v));
	arr = json_array();
	if (!v || !arr) {
		err = -ENOMEM;
		goto out;
	}
	i = 0;
	json_object_foreach(w.by_id, key, t) {
		if (sfd < 0 || !json_object_get(t, "redirected")) {
			json_object_set_new(t, "redirected", json_null());
			json_object_set_new(t, "bypassed", json_null());
			json_object_set_new(t, "refused", json_null());
			json_object_set_new(t, "events_lost", json_null());
		}
		v[i++] = t;
	}
	qsort(v, n, sizeof(*v), cmp_target);
	for (i = 0; i < n; i++)
		json_array_append(arr, v[i]);
	*out = arr;
	arr = NULL;
out:
	free(v);
	json_decref(arr);
	json_decref(w.by_id);
	if (sfd >= 0)
		close(sfd);
	if (w.fd >= 0)
		close(w.fd);
	return err;
}
