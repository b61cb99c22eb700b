/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sluiced's configuration (DESIGN §9): one JSON file, defaults for what is
 * left out, unknown keys and bad values refused with their path in the file
 * ("targets[1].match[0]: ...").
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "pods.h"

enum target_kind {
	TARGET_TCP,
	TARGET_POSTGRES,	/* proto/postgres.c */
	TARGET_KUBERNETES,	/* proto/kubernetes.c */
};

enum fail_mode {
	FAIL_CLOSED = 0,	/* same values as enum sluice_fail_mode */
	FAIL_OPEN = 1,
};

/* An "ip:port" or "[ip6]:port" endpoint; addr is always 16 bytes,
 * IPv4 stored IPv4-mapped, port host byte order. */
struct cfg_endpoint {
	int family;		/* AF_INET for IPv4 and IPv4-mapped, else AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	char text[64];		/* as normalised for display: "1.2.3.4:5" */
};

/* A certificate the proxy presents to agents; absolute paths. */
struct cfg_cert {
	char *cert;
	char *key;
};

/* What an agent must present (a target's "client_auth"): any one of the
 * bits set. CLIENT_AUTH_KERNEL means presenting nothing is enough. */
enum client_auth {
	CLIENT_AUTH_KERNEL = 1,
	CLIENT_AUTH_JWT = 2,
	CLIENT_AUTH_CERT = 4,
};

/* One JWT issuer of "identity.issuers"; keys is an absolute path. */
struct cfg_issuer {
	char *issuer;
	char **audiences;
	size_t n_audiences;
	char *keys;
};

struct cfg_target {
	char *name;
	enum target_kind kind;
	struct cfg_endpoint *match;
	size_t n_match;
	struct cfg_endpoint upstream;
	enum fail_mode fail_mode;	/* the target's own, else the global */
	/* "tls": TLS toward the agent when n_certs > 0 (certs[0] for clients
	 * without SNI); TLS toward the upstream when upstream_ca is set */
	struct cfg_cert *certs;
	size_t n_certs;
	char *upstream_ca;
	char *upstream_name;	/* name to verify; NULL: the upstream's IP */
	/* "credential": what the proxy presents upstream; absolute paths */
	char *client_cert;
	char *client_key;
	char *cred_user;	/* postgres: the role sluice logs in as; NULL: the client's */
	char *password_file;	/* postgres: that role's password (read per login) */
	char *token_file;	/* kubernetes: the held bearer token (read per connection) */
	unsigned client_auth;	/* enum client_auth bits; default kernel */
};

enum export_type { EXPORT_FILE, EXPORT_SYSLOG, EXPORT_HEC };

/* One SIEM sink of "export" (README "Export to SIEMs"); absolute paths. */
struct cfg_export {
	char *name;
	enum export_type type;
	char *format;		/* "k8s-audit", "ocsf" or "cef" */
	char *path;		/* file: the file written */
	char *address;		/* syslog: "host:port"; hec: http(s) URL */
	char *tls_ca;		/* syslog: TLS when set; hec: CA for https */
	char *tls_name;		/* name the server's certificate must carry;
				 * NULL: the address's host */
	char *token;		/* hec: "token" */
	char *token_file;	/* hec: or a file holding it */
	uint32_t batch;		/* events per delivery, default 100 */
	uint64_t max_bytes;	/* file: rotate past this, default 64 MiB */
	uint32_t keep;		/* file: rotated files kept, default 5 */
	uint32_t timeout_ms;	/* one delivery, default 10000 */
	uint32_t backoff_max_ms;	/* retry delay cap, default 30000 */
};

enum store_mode_cfg {
	STORE_MODE_STRICT,	/* same order as enum store_mode */
	STORE_MODE_SYNC,
	STORE_MODE_ASYNC,
	STORE_MODE_OFF,		/* no recording: benchmarks only */
};

struct config {
	char *source;		/* file path, or "<embedded default>" */
	char *cgroup;		/* NULL: the cgroup2 mount, found at start */
	struct {
		char *ipv4;	/* default "127.0.0.1" */
		char *ipv6;	/* default "::1"; NULL when disabled (null) */
		char *node;	/* default NULL */
		uint16_t port;	/* default 15443 */
	} listen;
	enum fail_mode fail_mode;	/* default closed */
	bool metrics_on;	/* "metrics" set: default off */
	struct cfg_endpoint metrics;	/* where GET /metrics is served */
	char *control;		/* default "/run/sluice/ctl.sock" */
	uint32_t mark;		/* SO_MARK of upstream sockets, default 0x51ce */
	uint32_t heartbeat_ms;	/* default 200 */
	uint32_t stale_ms;	/* heartbeat age at which fail_mode applies, default 1000 */
	uint32_t workers;	/* 0 (default): one per online CPU */
	char *log_level;	/* default "info" */
	struct {
		char *path;		/* default "/var/lib/sluice" */
		enum store_mode_cfg mode;	/* default strict */
		uint32_t sync_ms;	/* default 20 */
		uint32_t retention_days;	/* default 90, 0: forever */
		uint64_t max_bytes;	/* default 20 GiB, 0: no budget */
		char *seal_key;		/* default "/etc/sluice/seal.key" */
		uint32_t seal_interval_ms;	/* default 10000 */
	} store;
	struct {
		uint32_t connect_ms;	/* upstream connect, default 10000 */
		uint32_t handshake_ms;	/* TLS handshakes, default 10000 */
		uint32_t idle_ms;	/* no byte either way, default 3600000 */
		uint32_t drain_ms;	/* SIGTERM grace, default 10000 */
	} timeouts;
	struct cfg_target *targets;
	size_t n_targets;
	/* NULL (the key left out): no policy engine, every request allowed
	 * and recorded; set: that directory's policy, default deny */
	char *policy_dir;
	struct {
		struct cfg_issuer *issuers;
		size_t n_issuers;
		char *client_ca;	/* NULL: client certificates not accepted */
	} identity;
	struct pod_info **pods;	/* the static pod map, source "config" */
	size_t n_pods;
	struct cfg_export *exports;	/* "export": SIEM sinks */
	size_t n_exports;
	/* "pod_cache": pods of this node from the API server (k8s/podcache.h);
	 * server NULL: no cache. Absolute paths; token_file or client_cert. */
	struct {
		char *server;		/* "https://host:port" */
		char *ca;
		char *token_file;
		char *client_cert;
		char *client_key;
		char *node;		/* NULL: $NODE_NAME, else the host name */
	} pod_cache;
};

/*
 * Parse a configuration from JSON text. `name` is used in error messages
 * (a file path). Returns the config (caller frees with config_free()), or
 * NULL with errno set and a one-line message in err: "<name>:<line>:<col>:
 * <message>" for JSON syntax errors, "<name>: <path>: <message>" for
 * schema errors (unknown key, wrong type, bad value, duplicate match).
 */
struct config *config_parse(const char *text, const char *name, char *err,
			    size_t errlen);

/* config_parse() of a file's contents. Same ownership and errors. */
struct config *config_load(const char *path, char *err, size_t errlen);

/* The embedded default configuration's JSON text (static, borrowed). */
const char *config_default_text(void);

/*
 * The cgroup v2 mount point, from /proc/self/mounts (or `mounts_path` for
 * tests). Returns a malloc'd string (caller frees) or NULL, errno set.
 */
char *config_find_cgroup2(const char *mounts_path);

/* Parse "ip:port" / "[ip6]:port" into ep. Returns 0 or -EINVAL. */
int config_parse_endpoint(const char *s, struct cfg_endpoint *ep);

/* "tcp", ...; static strings. */
const char *config_kind_name(enum target_kind k);
const char *config_fail_mode_name(enum fail_mode m);
const char *config_store_mode_name(enum store_mode_cfg m);
/* "kernel", "jwt", "cert" joined by "," for the bits of a client_auth. */
void config_client_auth_text(unsigned bits, char *out, size_t outlen);

void config_free(struct config *cfg);

#endif
