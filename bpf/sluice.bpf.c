// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Transparent redirect of agents' TCP connections into sluiced.
 *
 * connect4/6   a destination found in `targets` is rewritten to the proxy
 *              listener; where the agent meant to go and who it is are
 *              stored by socket cookie. With the daemon's heartbeat stale
 *              or its listener gone, the target's fail mode refuses or
 *              lets the connect through.
 * sock_ops     at ESTABLISHED the record is copied to `orig_by_tuple`,
 *              keyed as the proxy's accept() sees the connection; both
 *              entries are deleted when the socket closes.
 * getpeername4/6 the agent sees the peer it asked for.
 *
 * The daemon's own sockets carry `settings.mark` and are never touched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "sluice_abi.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define ECONNREFUSED	111

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SLUICE_MAX_MATCHES);
	__type(key, struct sluice_addr_key);
	__type(value, struct sluice_target_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_heartbeat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} heartbeat SEC(".maps");

/* LRU: a connect that never completes must not leak its entry forever */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, struct sluice_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} orig_by_cookie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_MAX_INFLIGHT);
	__type(key, struct sluice_tuple);
	__type(value, struct sluice_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} orig_by_tuple SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct sluice_target_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} target_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SLUICE_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

static __always_inline void map_v4(__u8 out[16], __u32 ip4_be)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(&out[12], &ip4_be, 4);
}

static __always_inline int is_v4_mapped(const __u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

static __always_inline struct sluice_settings *get_settings(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&settings, &zero);
}

/* The daemon's own connections, and anything but TCP, are left alone. */
static __always_inline int skip(struct bpf_sock_addr *ctx,
				const struct sluice_settings *s)
{
	struct bpf_sock *sk = ctx->sk;

	if (ctx->type != SOCK_STREAM)
		return 1;
	if (!sk || sk->mark == s->mark)
		return 1;
	if (s->daemon_cgroup && bpf_get_current_cgroup_id() == s->daemon_cgroup)
		return 1;
	return 0;
}

static __always_inline int daemon_alive(const struct sluice_settings *s)
{
	__u32 zero = 0;
	struct sluice_heartbeat *hb = bpf_map_lookup_elem(&heartbeat, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!hb || !hb->mono_ns || hb->mono_ns > now)
		return hb && hb->mono_ns;
	return now - hb->mono_ns <= s->stale_ns;
}

/*
 * Is the proxy listener there? A daemon killed with SIGKILL takes its
 * listeners with it at once, long before its heartbeat goes stale, so
 * this closes the window in which connects would meet a closed port.
 */
static __always_inline int listener_up(struct bpf_sock_addr *ctx,
				       const struct sluice_settings *s, int v4)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;

	if (v4) {
		__builtin_memcpy(&t.ipv4.daddr, &s->listen4[12], 4);
		t.ipv4.dport = bpf_htons(s->port);
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	} else {
		__builtin_memcpy(t.ipv6.daddr, s->listen6, 16);
		t.ipv6.dport = bpf_htons(s->port);
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

static __always_inline void count(__u32 target_id, int which)
{
	struct sluice_target_stats *st;

	st = bpf_map_lookup_elem(&target_stats, &target_id);
	if (!st)
		return;
	switch (which) {
	case 0: st->redirected++; break;
	case 1: st->bypassed++; break;
	case 2: st->refused++; break;
	default: st->events_lost++; break;
	}
}

static __always_inline void fill_orig(struct bpf_sock_addr *ctx,
				      struct sluice_orig *o,
				      const struct sluice_addr_key *dst,
				      __u32 target_id)
{
	__u64 ugid = bpf_get_current_uid_gid();

	__builtin_memcpy(o->orig_addr, dst->addr, 16);
	o->orig_port = dst->port;
	o->family = ctx->family;
	o->target_id = target_id;
	o->pid_tgid = bpf_get_current_pid_tgid();
	o->uid = (__u32)ugid;
	o->gid = ugid >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->netns_cookie = bpf_get_netns_cookie(ctx);
	o->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

static __always_inline void emit(struct bpf_sock_addr *ctx, __u32 type,
				 const struct sluice_addr_key *dst,
				 __u32 target_id)
{
	struct sluice_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(target_id, 3);
		return;
	}
	ev->type = type;
	ev->target_id = target_id;
	fill_orig(ctx, &ev->orig, dst, target_id);
	bpf_ringbuf_submit(ev, 0);
}

/*
 * Common part of connect4/6: returns 1 to let the connect go on (rewritten
 * to the listener when *rewrite is set), 0 to refuse it.
 */
static __always_inline int decide(struct bpf_sock_addr *ctx,
				  const struct sluice_settings *s,
				  const struct sluice_addr_key *dst, int v4,
				  int *rewrite)
{
	struct sluice_target_val *t;
	struct sluice_orig o = {};
	__u64 cookie;

	*rewrite = 0;
	t = bpf_map_lookup_elem(&targets, dst);
	if (!t)
		return 1;
	if (!daemon_alive(s) || !listener_up(ctx, s, v4)) {
		if (t->fail_mode == SLUICE_FAIL_OPEN) {
			count(t->target_id, 1);
			emit(ctx, SLUICE_EV_BYPASS, dst, t->target_id);
			return 1;
		}
		count(t->target_id, 2);
		emit(ctx, SLUICE_EV_REFUSE, dst, t->target_id);
		if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_set_retval))
			bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	fill_orig(ctx, &o, dst, t->target_id);
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&orig_by_cookie, &cookie, &o, BPF_ANY);
	count(t->target_id, 0);
	*rewrite = 1;
	return 1;
}

SEC("cgroup/connect4")
int sluice_connect4(struct bpf_sock_addr *ctx)
{
	struct sluice_settings *s = get_settings();
	struct sluice_addr_key dst = {};
	int rewrite, ret;

	if (!s || !s->port || skip(ctx, s))
		return 1;
	map_v4(dst.addr, ctx->user_ip4);
	dst.port = bpf_ntohs(ctx->user_port);
	ret = decide(ctx, s, &dst, 1, &rewrite);
	if (rewrite) {
		__u32 ip4;

		__builtin_memcpy(&ip4, &s->listen4[12], 4);
		ctx->user_ip4 = ip4;
		ctx->user_port = bpf_htons(s->port);
	}
	return ret;
}

SEC("cgroup/connect6")
int sluice_connect6(struct bpf_sock_addr *ctx)
{
	struct sluice_settings *s = get_settings();
	struct sluice_addr_key dst = {};
	__u32 ip6[4], to[4];
	int rewrite, ret, mapped;

	if (!s || !s->port || skip(ctx, s))
		return 1;
	ip6[0] = ctx->user_ip6[0];
	ip6[1] = ctx->user_ip6[1];
	ip6[2] = ctx->user_ip6[2];
	ip6[3] = ctx->user_ip6[3];
	__builtin_memcpy(dst.addr, ip6, 16);
	dst.port = bpf_ntohs(ctx->user_port);
	mapped = is_v4_mapped(ip6);
	ret = decide(ctx, s, &dst, mapped, &rewrite);
	if (rewrite) {
		/* an IPv4-mapped destination stays IPv4: the v4 listener takes it */
		__builtin_memcpy(to, mapped ? s->listen4 : s->listen6, 16);
		ctx->user_ip6[0] = to[0];
		ctx->user_ip6[1] = to[1];
		ctx->user_ip6[2] = to[2];
		ctx->user_ip6[3] = to[3];
		ctx->user_port = bpf_htons(s->port);
	}
	return ret;
}

static __always_inline void sockops_tuple(struct bpf_sock_ops *skops,
					  struct sluice_tuple *k)
{
	if (skops->family == AF_INET) {
		map_v4(k->peer, skops->local_ip4);
		map_v4(k->local, skops->remote_ip4);
	} else {
		__u32 l[4], r[4];

		l[0] = skops->local_ip6[0];
		l[1] = skops->local_ip6[1];
		l[2] = skops->local_ip6[2];
		l[3] = skops->local_ip6[3];
		r[0] = skops->remote_ip6[0];
		r[1] = skops->remote_ip6[1];
		r[2] = skops->remote_ip6[2];
		r[3] = skops->remote_ip6[3];
		__builtin_memcpy(k->peer, l, 16);
		__builtin_memcpy(k->local, r, 16);
	}
	k->peer_port = skops->local_port;
	k->local_port = bpf_ntohl(skops->remote_port);
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops)
{
	struct sluice_tuple k = {};
	struct sluice_orig *o;
	__u64 cookie;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		cookie = bpf_get_socket_cookie(skops);
		if (bpf_map_lookup_elem(&orig_by_cookie, &cookie))
			bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		cookie = bpf_get_socket_cookie(skops);
		o = bpf_map_lookup_elem(&orig_by_cookie, &cookie);
		if (!o)
			break;
		sockops_tuple(skops, &k);
		bpf_map_update_elem(&orig_by_tuple, &k, o, BPF_ANY);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] != BPF_TCP_CLOSE)
			break;
		cookie = bpf_get_socket_cookie(skops);
		if (bpf_map_delete_elem(&orig_by_cookie, &cookie))
			break;
		sockops_tuple(skops, &k);
		bpf_map_delete_elem(&orig_by_tuple, &k);
		break;
	}
	return 1;
}

static __always_inline struct sluice_orig *orig_of(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	return bpf_map_lookup_elem(&orig_by_cookie, &cookie);
}

SEC("cgroup/getpeername4")
int sluice_getpeername4(struct bpf_sock_addr *ctx)
{
	struct sluice_orig *o = orig_of(ctx);
	__u32 ip4;

	if (!o)
		return 1;
	__builtin_memcpy(&ip4, &o->orig_addr[12], 4);
	ctx->user_ip4 = ip4;
	ctx->user_port = bpf_htons(o->orig_port);
	return 1;
}

SEC("cgroup/getpeername6")
int sluice_getpeername6(struct bpf_sock_addr *ctx)
{
	struct sluice_orig *o = orig_of(ctx);
	__u32 ip6[4];

	if (!o)
		return 1;
	__builtin_memcpy(ip6, o->orig_addr, 16);
	ctx->user_ip6[0] = ip6[0];
	ctx->user_ip6[1] = ip6[1];
	ctx->user_ip6[2] = ip6[2];
	ctx->user_ip6[3] = ip6[3];
	ctx->user_port = bpf_htons(o->orig_port);
	return 1;
}
