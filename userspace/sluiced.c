// SPDX-License-Identifier: BSD-2-Clause
/*
 * sluiced: config -> redirect (bpf) -> workers -> control socket, then a
 * heartbeat until SIGTERM/SIGINT. Pins stay when it exits, so the kernel
 * keeps applying each target's fail mode while the daemon is away;
 * `sluiced --uninstall` removes them.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "clock.h"
#include "addr.h"
#include "cgroup.h"
#include "config.h"
#include "conn.h"
#include "ctl.h"
#include "export/exporter.h"
#include "fs.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "pods.h"
#include "k8s/podcache.h"
#include "session.h"
#include "redirect.h"
#include "store.h"
#include "tls.h"
#include "version.h"
#include "worker.h"

#define MAX_WORKERS 256

static volatile int stopping;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced [--config FILE]    run the appliance (default: embedded config)\n"
		"       sluiced --check-config FILE validate a configuration and exit\n"
		"       sluiced --print-default-config\n"
		"       sluiced --uninstall         detach and unpin every bpf object\n"
		"       sluiced --version | --help\n");
}

/* A gap the kernel recorded while no daemon was there to proxy. */
static void on_gap(void *ctx, const struct sluice_event *ev)
{
	struct ctl_view *v = ctx;
	const char *target = ev->target_id < v->cfg->n_targets ?
			     v->cfg->targets[ev->target_id].name : "(unknown)";
	char dst[64];

	addr_format(ev->orig.orig_addr, ev->orig.orig_port, dst, sizeof(dst));
	__atomic_add_fetch(ev->type == SLUICE_EV_BYPASS ? &v->gaps_bypassed :
			   &v->gaps_refused, 1, __ATOMIC_RELAXED);
	log_warn(ev->type == SLUICE_EV_BYPASS ? "bypass" : "refuse",
		 "{s:s, s:s, s:i, s:i, s:i, s:s, s:I, s:I}",
		 "target", target, "original", dst,
		 "pid", (int)(ev->orig.pid_tgid >> 32), "uid", (int)ev->orig.uid,
		 "gid", (int)ev->orig.gid, "comm", ev->orig.comm,
		 "cgroup_id", (json_int_t)ev->orig.cgroup_id,
		 "monotonic_ns", (json_int_t)ev->orig.time_ns);
}

struct beat_args {
	struct redirect *rd;
	struct ctl_view *view;
	unsigned ms;
};

/* Beat, and drain gap events between beats. */
static void *beat_main(void *arg)
{
	struct beat_args *b = arg;

	while (!stopping) {
		redirect_beat(b->rd, clock_mono_ns());
		if (redirect_poll_events(b->rd, b->ms, on_gap, b->view) < 0)
			usleep(b->ms * 1000);
	}
	return NULL;
}

static int ip_to16(const char *ip, uint8_t out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, ip, out) == 1 ? 0 : -EINVAL;
}

/* Per-target TLS contexts, built once; a bad certificate stops the start. */
static int tls_setup(const struct config *cfg, struct proxy *px)
{
	char err[512];

	px->tls_srv = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*px->tls_srv));
	px->tls_cli = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*px->tls_cli));
	if (!px->tls_srv || !px->tls_cli)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		const struct cfg_target *t = &cfg->targets[i];

		if (t->n_certs) {
			struct tls_cert_spec specs[64];

			for (size_t k = 0; k < t->n_certs && k < 64; k++) {
				specs[k].cert = t->certs[k].cert;
				specs[k].key = t->certs[k].key;
			}
			/* kubernetes: HTTP/1.1 only; kubectl falls back from h2 */
			px->tls_srv[i] = t->kind == TARGET_KUBERNETES ?
				tls_server_new(specs, t->n_certs,
					       (const unsigned char *)"\x08http/1.1", 9,
					       err, sizeof(err)) :
				tls_server_new(specs, t->n_certs, NULL, 0, err, sizeof(err));
			if (!px->tls_srv[i])
				goto fail;
			if ((t->client_auth & CLIENT_AUTH_CERT) &&
			    tls_server_verify_clients(px->tls_srv[i], cfg->identity.client_ca,
						      /* required only when nothing else will do */
						      !(t->client_auth &
							(CLIENT_AUTH_KERNEL | CLIENT_AUTH_JWT)), err,
						      sizeof(err)))
				goto fail;
		}
		if (t->upstream_ca) {
			px->tls_cli[i] = tls_client_new(t->upstream_ca, t->client_cert,
							t->client_key, err, sizeof(err));
			if (!px->tls_cli[i])
				goto fail;
		}
		continue;
fail:
		log_error("bad TLS configuration", "{s:s, s:s}", "target", t->name,
			  "error", err);
		return -EINVAL;
	}
	return 0;
}

static void tls_teardown(const struct config *cfg, struct proxy *px)
{
	for (size_t i = 0; i < cfg->n_targets; i++) {
		if (px->tls_srv)
			tls_server_free(px->tls_srv[i]);
		if (px->tls_cli)
			tls_client_free(px->tls_cli[i]);
	}
	free(px->tls_srv);
	free(px->tls_cli);
}

/* Who callers are: the static pod map and the token issuers' keys. */
static int identity_setup(const struct config *cfg, struct proxy *px)
{
	struct jwt_issuer_cfg iss[32];
	char err[512];

	px->pods = pod_table_new();
	if (!px->pods)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_pods; i++)
		if (pod_table_put(px->pods, cfg->pods[i]))
			return -ENOMEM;
	if (!cfg->identity.n_issuers)
		return 0;
	for (size_t i = 0; i < cfg->identity.n_issuers && i < 32; i++)
		iss[i] = (struct jwt_issuer_cfg){
			.issuer = cfg->identity.issuers[i].issuer,
			.audiences = (const char *const *)cfg->identity.issuers[i].audiences,
			.n_audiences = cfg->identity.issuers[i].n_audiences,
			.keys = cfg->identity.issuers[i].keys,
		};
	px->jwt = jwt_verifier_new(iss, cfg->identity.n_issuers, err, sizeof(err));
	if (!px->jwt) {
		log_error("bad identity configuration", "{s:s}", "error", err);
		return -EINVAL;
	}
	return 0;
}

static struct store *store_setup(const struct config *cfg)
{
	struct store_opts so = {
		.path = cfg->store.path,
		.mode = (enum store_mode)cfg->store.mode,
		.sync_ms = cfg->store.sync_ms,
		.retention_days = cfg->store.retention_days,
		.max_bytes = cfg->store.max_bytes,
		.seal_key = cfg->store.seal_key,
		.seal_interval_ms = cfg->store.seal_interval_ms,
	};
	char err[512];
	struct store *st;

	if (cfg->store.mode == STORE_MODE_OFF) {
		log_warn("recording is off (store.mode \"off\"): sessions are not recorded", NULL);
		return NULL;
	}
	/* the key is created on first start; its directory may not exist */
	if (fs_mkdir_parent(cfg->store.seal_key))
		log_warn("cannot create the seal key's directory", "{s:s}", "path",
			 cfg->store.seal_key);
	st = store_open(&so, err, sizeof(err));
	if (!st)
		log_error("cannot open the store", "{s:s, s:s}", "path", cfg->store.path,
			  "error", err);
	return st;
}

static int run(struct config *cfg)
{
	struct redirect_opts ro = {};
	struct redirect *rd = NULL;
	struct worker *workers[MAX_WORKERS] = {};
	struct ctl_view view = {};
	struct ctl *ctl = NULL;
	struct metrics *metrics = NULL;
	struct proxy px = {};
	struct beat_args beat = {};
	struct store *st = NULL;
	struct exporter *ex = NULL;
	pthread_t beat_th;
	int beat_started = 0, n_workers, err = 0, sig;
	char *mount = NULL;
	const char *attach, *what = "";
	uint64_t self_cg = 0, root_cg = 0, attach_cg = 0;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	mount = config_find_cgroup2(NULL);
	if (!mount) {
		log_error("no cgroup v2 mount found", "{s:s}", "error", strerror(errno));
		err = -ENOENT;
		goto out;
	}
	attach = cfg->cgroup ? cfg->cgroup : mount;
	if (cgroup_id_of_path(attach, &attach_cg) || cgroup_id_of_path(mount, &root_cg)) {
		err = -errno;
		log_error("cannot use cgroup", "{s:s, s:s}", "cgroup", attach,
			  "error", strerror(errno));
		goto out;
	}
	/* Skipping the daemon's own cgroup is only safe when agents cannot
	 * share it: never when it is the root or the attach point itself. */
	if (cgroup_self_id(mount, &self_cg) == 0 && self_cg != root_cg &&
	    self_cg != attach_cg)
		ro.daemon_cgroup = self_cg;

	ro.cgroup = attach;
	if (ip_to16(cfg->listen.ipv4, ro.listen4) ||
	    (cfg->listen.ipv6 && ip_to16(cfg->listen.ipv6, ro.listen6))) {
		err = -EINVAL;
		goto out;
	}
	ro.port = cfg->listen.port;
	ro.mark = cfg->mark;
	ro.stale_ns = (uint64_t)cfg->stale_ms * 1000000ull;

	px.cfg = cfg;
	px.cgroup_mount = mount;
	n_workers = cfg->workers ? (int)cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n_workers < 1)
		n_workers = 1;
	if (n_workers > MAX_WORKERS)
		n_workers = MAX_WORKERS;

	err = tls_setup(cfg, &px);
	if (!err)
		err = identity_setup(cfg, &px);
	/* the pods of this node from the API server, when configured */
	if (!err)
		err = podcache_start(cfg, px.pods);
	if (err)
		goto out;
	{
		char msg[512];

		/* a policy that does not load is a start error: never run
		 * with a policy other than the one configured */
		err = session_policy_reload(cfg->policy_dir, msg, sizeof(msg));
		if (err)
			goto out;
		if (!cfg->policy_dir)
			log_warn("no policy_dir configured: every request is allowed (and recorded)",
				 NULL);
	}
	st = store_setup(cfg);
	if (!st && cfg->store.mode != STORE_MODE_OFF) {
		err = -EIO;
		goto out;
	}
	rd = redirect_open(&ro);
	if (!rd) {
		err = -errno;
		log_error(errno == EBUSY ? "another sluiced is running on this node" :
			  "cannot load or attach the bpf programs", "{s:s, s:s}",
			  "cgroup", attach, "error", strerror(errno));
		goto out;
	}
	px.rd = rd;
	/* listeners first, then targets, then the first beat: a connect is
	 * never sent to a listener that is not there yet */
	for (int i = 0; i < n_workers; i++) {
		workers[i] = worker_new(&px, st, i, &what);
		if (!workers[i]) {
			err = -errno;
			log_error("cannot start worker", "{s:s, s:s}", "what", what,
				  "error", strerror(errno));
			goto out;
		}
	}
	for (int i = 0; i < n_workers; i++) {
		err = worker_start(workers[i], &stopping);
		if (err)
			goto out;
	}
	err = redirect_set_targets(rd, cfg);
	if (err) {
		log_error("cannot fill the targets map", "{s:s}", "error", strerror(-err));
		goto out;
	}
	{
		char xerr[512] = "";

		ex = exporter_start(st, cfg, xerr, sizeof(xerr));
		if (!ex && errno) {
			err = -errno;
			log_error("cannot start the exporter", "{s:s}", "error", xerr);
			goto out;
		}
	}
	view.ex = ex;
	view.cfg = cfg;
	view.rd = rd;
	view.st = st;
	view.pods = px.pods;
	view.cgroup = attach;
	view.started = time(NULL);
	view.workers = n_workers;
	ctl = ctl_start(&view);
	if (!ctl) {
		err = -errno;
		log_error("cannot open the control socket", "{s:s, s:s}",
			  "path", cfg->control, "error", strerror(errno));
		goto out;
	}
	if (cfg->metrics_on && !(metrics = metrics_start(&view))) {
		err = -errno;
		log_error("cannot serve metrics", "{s:s, s:s}", "address", cfg->metrics.text,
			  "error", strerror(errno));
		goto out;
	}
	beat.rd = rd;
	beat.view = &view;
	beat.ms = cfg->heartbeat_ms;
	redirect_beat(rd, clock_mono_ns());
	err = -pthread_create(&beat_th, NULL, beat_main, &beat);
	if (err)
		goto out;
	beat_started = 1;
	log_info("ready", "{s:s, s:s, s:i, s:i, s:i}", "config", cfg->source,
		 "cgroup", attach, "port", cfg->listen.port, "workers", n_workers,
		 "targets", (int)cfg->n_targets);

	while (sigwait(&set, &sig) == 0) {
		if (sig == SIGHUP) {
			char msg[512];

			log_info("SIGHUP: reloading the policy", NULL);
			session_policy_reload(cfg->policy_dir, msg, sizeof(msg));
			continue;
		}
		log_info("stopping", "{s:s}", "signal", strsignal(sig));
		break;
	}
out:
	stopping = 1;
	if (beat_started)
		pthread_join(beat_th, NULL);
	/* gone now: the kernel applies each target's fail mode at once */
	if (rd)
		redirect_beat(rd, 0);
	metrics_stop(metrics);
	ctl_stop(ctl);
	/* workers drain first; then the store writes what they gave it;
	 * only then may connections (which own the records) be freed */
	for (int i = 0; i < MAX_WORKERS; i++)
		worker_join(workers[i]);
	exporter_stop(ex);	/* reads the store: before it closes */
	store_close(st);
	for (int i = 0; i < MAX_WORKERS; i++)
		worker_free(workers[i]);
	redirect_close(rd);
	tls_teardown(cfg, &px);
	session_policy_set(NULL, 0);
	podcache_stop();
	pod_table_free(px.pods);
	jwt_verifier_free(px.jwt);
	free(mount);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'C' },
		{ "print-default-config", no_argument, NULL, 'P' },
		{ "uninstall", no_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *config_path = NULL, *check = NULL;
	struct config *cfg = NULL;
	enum log_level lvl;
	char err[512];
	int o, ret;

	while ((o = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'C': check = optarg; break;
		case 'P': fputs(config_default_text(), stdout); return 0;
		case 'V': printf("sluiced %s\n", SLUICE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		case 'U':
			ret = redirect_uninstall();
			if (ret) {
				fprintf(stderr, "sluiced: uninstall: %s\n",
					ret == -EBUSY ? "a sluiced is running; stop it first" :
					strerror(-ret));
				return 1;
			}
			return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (check) {
		cfg = config_load(check, err, sizeof(err));
		if (!cfg) {
			fprintf(stderr, "sluiced: %s\n", err);
			return 1;
		}
		printf("%s: ok\n", check);
		config_free(cfg);
		return 0;
	}
	cfg = config_path ? config_load(config_path, err, sizeof(err)) :
			    config_parse(config_default_text(), "<embedded default>",
					 err, sizeof(err));
	if (!cfg) {
		log_error("bad configuration", "{s:s}", "error", err);
		return 1;
	}
	if (log_level_parse(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	ret = run(cfg);
	config_free(cfg);
	return ret ? 1 : 0;
}
