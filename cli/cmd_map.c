// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluice map { show | dump NAME }: the pinned maps, decoded through
 * bpf/sluice_abi.h. Reads bpffs directly, so it works without the daemon.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "cli.h"
#include "pins.h"
#include "sluice_abi.h"

static const char help_text[] =
	"Usage: sluice map { show | dump NAME | help }\n"
	"  show       every map pinned under " SLUICE_PIN_DIR ": id, type,\n"
	"             key/value size, max_entries, entries (keys counted for\n"
	"             hashes, max_entries for arrays, null for the ring buffer)\n"
	"  dump NAME  the entries of one map, decoded; NAME may be a prefix:\n"
	"             targets, settings, heartbeat, orig_by_cookie,\n"
	"             orig_by_tuple, target_stats (non-zero ids only).\n"
	"             The events ring buffer cannot be dumped.\n"
	"A dump is a snapshot: the kernel changes the maps while we read.\n";

static const char *const map_names[] = {
#define X(name) #name,
	SLUICE_MAPS(X)
#undef X
	NULL
};

struct dump_ctx {
	int fd;
	json_t *arr;
};

static int map_pin(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", SLUICE_PIN_DIR, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* One map of `map show`: a new object in *out, or -errno (-ENOENT: absent). */
static int map_json(const char *name, json_t **out)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char pin[256];
	const char *type;
	json_t *entries;
	int fd, n, err = 0;

	err = map_pin(name, pin, sizeof(pin));
	if (err)
		return err;
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	switch (info.type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		entries = json_integer(info.max_entries);
		break;
	case BPF_MAP_TYPE_RINGBUF:
		entries = json_null();
		break;
	default:
		n = cli_map_keys(fd, info.key_size, info.max_entries, NULL, NULL);
		entries = n < 0 ? json_null() : json_integer(n);
		break;
	}
	type = libbpf_bpf_map_type_str(info.type);
	*out = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:o, s:s}",
			 "name", name,
			 "id", (json_int_t)info.id,
			 "type", type ? type : "unknown",
			 "key_size", (json_int_t)info.key_size,
			 "value_size", (json_int_t)info.value_size,
			 "max_entries", (json_int_t)info.max_entries,
			 "entries", entries,
			 "pinned", pin);
	if (!*out)
		err = -ENOMEM;
out:
	close(fd);
	return err;
}

static int do_show(int argc, char **argv)
{
	char b[6][32];
	json_t *arr, *m = NULL;
	FILE *out = cli_out();
	size_t i;
	int err, rc = CLI_OK;

	if (argc > 0)
		return cli_usage("map", "unexpected argument '%s'", argv[0]);
	arr = json_array();
	if (!arr) {
		p_err("out of memory");
		return CLI_FAIL;
	}
	for (i = 0; map_names[i]; i++) {
		err = map_json(map_names[i], &m);
		if (err == -ENOENT)
			continue;
		if (err) {
			p_err("map %s: %s", map_names[i], strerror(-err));
			rc = CLI_FAIL;
			goto out;
		}
		json_array_append_new(arr, m);
	}
	if (cli.json) {
		cli_emit(arr);
		arr = NULL;
		goto out;
	}
	if (!json_array_size(arr))
		fprintf(out, "no maps pinned under %s\n", SLUICE_PIN_DIR);
	json_array_foreach(arr, i, m) {
		fprintf(out, "%s: %s  name %s  key %sB  value %sB  max_entries %s",
			cli_jget(m, "id", b[0], sizeof(b[0])),
			cli_jget(m, "type", b[1], sizeof(b[1])),
			cli_jget(m, "name", b[2], sizeof(b[2])),
			cli_jget(m, "key_size", b[3], sizeof(b[3])),
			cli_jget(m, "value_size", b[4], sizeof(b[4])),
			cli_jget(m, "max_entries", b[5], sizeof(b[5])));
		fprintf(out, "  entries %s\n",
			cli_jget(m, "entries", b[0], sizeof(b[0])));
	}
out:
	json_decref(arr);
	return rc;
}

int cli_orig_fields(json_t *o, const struct sluice_orig *v)
{
	char addr[64];
	json_t *fam;

	cli_addr_str(v->orig_addr, v->orig_port, true, addr, sizeof(addr));
	if (v->family == AF_INET)
		fam = json_string("inet");
	else if (v->family == AF_INET6)
		fam = json_string("inet6");
	else
		fam = json_integer(v->family);
	if (json_object_set_new(o, "original", json_string(addr)) ||
	    json_object_set_new(o, "family", fam) ||
	    json_object_set_new(o, "target_id", json_integer(v->target_id)) ||
	    json_object_set_new(o, "pid", json_integer(v->pid_tgid >> 32)) ||
	    json_object_set_new(o, "tid",
				json_integer((__u32)v->pid_tgid)) ||
	    json_object_set_new(o, "uid", json_integer(v->uid)) ||
	    json_object_set_new(o, "gid", json_integer(v->gid)) ||
	    json_object_set_new(o, "comm",
				cli_json_comm(v->comm, sizeof(v->comm))) ||
	    json_object_set_new(o, "cgroup_id", cli_ju64(v->cgroup_id)) ||
	    json_object_set_new(o, "netns_cookie", cli_ju64(v->netns_cookie)) ||
	    json_object_set_new(o, "time_ns", cli_ju64(v->time_ns)))
		return -ENOMEM;
	return 0;
}

static int dump_targets_cb(const void *key, void *arg)
{
	const struct sluice_addr_key *k = key;
	struct dump_ctx *ctx = arg;
	struct sluice_target_val v;
	char addr[64];

	if (bpf_map_lookup_elem(ctx->fd, k, &v))
		return errno == ENOENT ? 0 : -errno;	/* gone meanwhile */
	cli_addr_str(k->addr, k->port, true, addr, sizeof(addr));
	if (json_array_append_new(ctx->arr,
		json_pack("{s:s, s:I, s:s}", "address", addr,
			  "target_id", (json_int_t)v.target_id,
			  "fail_mode", v.fail_mode == SLUICE_FAIL_OPEN ?
			  "open" : "closed")))
		return -ENOMEM;
	return 0;
}

static int dump_cookie_cb(const void *key, void *arg)
{
	struct dump_ctx *ctx = arg;
	struct sluice_orig v;
	__u64 cookie;
	json_t *o;

	memcpy(&cookie, key, sizeof(cookie));
	if (bpf_map_lookup_elem(ctx->fd, key, &v))
		return errno == ENOENT ? 0 : -errno;
	o = json_pack("{s:o}", "cookie", cli_ju64(cookie));
	if (o && cli_orig_fields(o, &v)) {
		json_decref(o);
		o = NULL;
	}
	/* append_new steals o, also when it fails */
	if (!o || json_array_append_new(ctx->arr, o))
		return -ENOMEM;
	return 0;
}

static int dump_tuple_cb(const void *key, void *arg)
{
	const struct sluice_tuple *k = key;
	struct dump_ctx *ctx = arg;
	struct sluice_orig v;
	char peer[64], local[64];
	json_t *o;

	if (bpf_map_lookup_elem(ctx->fd, k, &v))
		return errno == ENOENT ? 0 : -errno;
	cli_addr_str(k->peer, k->peer_port, true, peer, sizeof(peer));
	cli_addr_str(k->local, k->local_port, true, local, sizeof(local));
	o = json_pack("{s:s, s:s}", "peer", peer, "local", local);
	if (o && cli_orig_fields(o, &v)) {
		json_decref(o);
		o = NULL;
	}
	/* append_new steals o, also when it fails */
	if (!o || json_array_append_new(ctx->arr, o))
		return -ENOMEM;
	return 0;
}

static int dump_hash(int fd, uint32_t key_size, uint32_t bound,
		     int (*cb)(const void *, void *), json_t **out)
{
	struct dump_ctx ctx = { .fd = fd, .arr = json_array() };
	int n;

	if (!ctx.arr)
		return -ENOMEM;
	n = cli_map_keys(fd, key_size, bound, cb, &ctx);
	if (n < 0) {
		json_decref(ctx.arr);
		return n;
	}
	*out = ctx.arr;
	return 0;
}

static int dump_targets(int fd, json_t **out)
{
	return dump_hash(fd, sizeof(struct sluice_addr_key), SLUICE_MAX_MATCHES,
			 dump_targets_cb, out);
}

static int dump_cookie(int fd, json_t **out)
{
	return dump_hash(fd, sizeof(__u64), SLUICE_MAX_INFLIGHT,
			 dump_cookie_cb, out);
}

static int dump_tuple(int fd, json_t **out)
{
	return dump_hash(fd, sizeof(struct sluice_tuple), SLUICE_MAX_INFLIGHT,
			 dump_tuple_cb, out);
}

static int dump_stats(int fd, json_t **out)
{
	struct sluice_target_stats st;
	json_t *arr = json_array();
	int err = 0;

	if (!arr)
		return -ENOMEM;
	for (uint32_t id = 0; id < SLUICE_MAX_TARGETS; id++) {
		err = cli_read_target_stats(id, &st, fd);
		if (err)
			goto out;
		if (!st.redirected && !st.bypassed && !st.refused &&
		    !st.events_lost)
			continue;
		if (json_array_append_new(arr,
			json_pack("{s:I, s:o, s:o, s:o, s:o}",
				  "target_id", (json_int_t)id,
				  "redirected", cli_ju64(st.redirected),
				  "bypassed", cli_ju64(st.bypassed),
				  "refused", cli_ju64(st.refused),
				  "events_lost", cli_ju64(st.events_lost)))) {
			err = -ENOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	return err;
}

static int dump_settings(int fd, json_t **out)
{
	struct sluice_settings s;
	char l4[64], l6[64];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &s))
		return -errno;
	*out = json_pack("{s:s, s:s, s:I, s:o, s:o, s:I}",
			 "listen4", cli_addr_str(s.listen4, 0, false, l4, sizeof(l4)),
			 "listen6", cli_addr_str(s.listen6, 0, false, l6, sizeof(l6)),
			 "port", (json_int_t)s.port,
			 "stale_ns", cli_ju64(s.stale_ns),
			 "daemon_cgroup", cli_ju64(s.daemon_cgroup),
			 "mark", (json_int_t)s.mark);
	return *out ? 0 : -ENOMEM;
}

static int dump_heartbeat(int fd, json_t **out)
{
	struct sluice_heartbeat hb;
	__u32 zero = 0;
	long long age;

	if (bpf_map_lookup_elem(fd, &zero, &hb))
		return -errno;
	age = cli_heartbeat_age_ms(hb.mono_ns);
	*out = json_pack("{s:o, s:o}", "mono_ns", cli_ju64(hb.mono_ns),
			 "age_ms", age < 0 ? json_null() : json_integer(age));
	return *out ? 0 : -ENOMEM;
}

/* How each map is read; NULL dump: not dumpable (the ring buffer). */
static const struct {
	const char *name;
	uint32_t key_size, value_size;
	int (*dump)(int fd, json_t **out);
} dumpers[] = {
	{ "targets", sizeof(struct sluice_addr_key),
	  sizeof(struct sluice_target_val), dump_targets },
	{ "settings", sizeof(__u32), sizeof(struct sluice_settings),
	  dump_settings },
	{ "heartbeat", sizeof(__u32), sizeof(struct sluice_heartbeat),
	  dump_heartbeat },
	{ "orig_by_cookie", sizeof(__u64), sizeof(struct sluice_orig),
	  dump_cookie },
	{ "orig_by_tuple", sizeof(struct sluice_tuple),
	  sizeof(struct sluice_orig), dump_tuple },
	{ "target_stats", sizeof(__u32), sizeof(struct sluice_target_stats),
	  dump_stats },
	{ "events", 0, 0, NULL },
};

/* Text form of a dump: one "key value" line per object, fields in order. */
static void print_object(FILE *out, json_t *o, const char *sep)
{
	const char *k;
	char buf[32];
	json_t *v;
	bool first = true;

	json_object_foreach(o, k, v) {
		if (json_is_array(v)) {
			char *s = json_dumps(v, JSON_COMPACT);

			fprintf(out, "%s%s %s", first ? "" : sep, k, s ? s : "-");
			free(s);
		} else {
			fprintf(out, "%s%s %s", first ? "" : sep, k,
				cli_jstr(v, buf, sizeof(buf)));
		}
		first = false;
	}
	fputc('\n', out);
}

static int do_dump(int argc, char **argv)
{
	char names[256] = "";
	size_t d, i, used = 0;
	json_t *res = NULL, *o;
	int idx, fd, err;

	if (argc < 1)
		return cli_usage("map", "dump needs a map NAME");
	if (argc > 1)
		return cli_usage("map", "unexpected argument '%s'", argv[1]);
	idx = cli_match_name(map_names, argv[0]);
	if (idx == -EINVAL) {
		for (i = 0; map_names[i]; i++) {
			if (strncmp(argv[0], map_names[i], strlen(argv[0])))
				continue;
			used += (size_t)snprintf(names + used, sizeof(names) - used,
						 "%s%s", used ? ", " : "",
						 map_names[i]);
			if (used >= sizeof(names))
				break;
		}
		return cli_usage("map", "ambiguous map name '%s': %s", argv[0],
				 names);
	}
	if (idx < 0)
		return cli_usage("map", "unknown map '%s'", argv[0]);
	for (d = 0; d < sizeof(dumpers) / sizeof(dumpers[0]); d++)
		if (!strcmp(dumpers[d].name, map_names[idx]))
			break;
	if (d == sizeof(dumpers) / sizeof(dumpers[0]))
		return cli_usage("map", "no decoder for map '%s'", map_names[idx]);
	if (!dumpers[d].dump)
		return cli_usage("map", "cannot dump a ring buffer ('%s')",
				 dumpers[d].name);

	fd = cli_map_open(dumpers[d].name, dumpers[d].key_size,
			  dumpers[d].value_size);
	if (fd == -EPROTO) {
		p_err("map %s: key/value sizes differ from sluice_abi.h "
		      "(CLI and daemon built from different trees?)",
		      dumpers[d].name);
		return CLI_FAIL;
	}
	if (fd < 0) {
		p_err("map %s: %s%s", dumpers[d].name, strerror(-fd),
		      fd == -ENOENT ? " (not pinned; is sluiced running?)" : "");
		return CLI_FAIL;
	}
	err = dumpers[d].dump(fd, &res);
	close(fd);
	if (err) {
		p_err("map %s: %s", dumpers[d].name, strerror(-err));
		return CLI_FAIL;
	}
	if (cli.json) {
		cli_emit(res);
		return CLI_OK;
	}
	if (json_is_array(res)) {
		if (!json_array_size(res))
			fprintf(cli_out(), "(no entries)\n");
		json_array_foreach(res, i, o)
			print_object(cli_out(), o, "  ");
	} else {
		print_object(cli_out(), res, "\n");
	}
	json_decref(res);
	return CLI_OK;
}

static const struct cmd cmds[] = {
	{ "show", do_show, NULL },
	{ "list", do_show, NULL },
	{ "dump", do_dump, NULL },
	{ "help", NULL, NULL },	/* help_text */
	{ 0 }
};

int do_map(int argc, char **argv)
{
	return cli_dispatch(cmds, "map", help_text, argc, argv);
}
