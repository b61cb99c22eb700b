// SPDX-License-Identifier: BSD-2-Clause
/*
 * userspace/config.c: good files, every class of refusal (each asserting
 * the path it must name), the endpoint parser's edges, the cgroup2 finder.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <criterion/criterion.h>

#include "config.h"

static char err[512];

static struct config *parse_ok(const char *text)
{
	struct config *cfg;

	err[0] = '\0';
	cfg = config_parse(text, "t.json", err, sizeof(err));
	cr_assert_not_null(cfg, "refused: %s\n--- text:\n%s", err, text);
	cr_assert_str_eq(cfg->source, "t.json");
	return cfg;
}

/* Refused with EINVAL, a one-line message, and `want` somewhere in it. */
static void parse_bad(const char *text, const char *want)
{
	struct config *cfg;

	err[0] = '\0';
	errno = 0;
	cfg = config_parse(text, "t.json", err, sizeof(err));
	cr_assert_null(cfg, "accepted:\n%s", text);
	cr_assert_eq(errno, EINVAL, "errno %d for:\n%s", errno, text);
	cr_assert_not_null(strstr(err, want), "err \"%s\" lacks \"%s\"", err,
			   want);
	cr_assert_null(strchr(err, '\n'), "err has a newline: \"%s\"", err);
}

/* Refused with exactly this message. */
static void parse_bad_exact(const char *text, const char *want)
{
	parse_bad(text, want);
	cr_assert_str_eq(err, want);
}

static char *write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/sluice_config_test.XXXXXX");
	int fd;

	cr_assert_not_null(path);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void ep_of(const char *s, struct cfg_endpoint *ep)
{
	cr_assert_eq(config_parse_endpoint(s, ep), 0, "refused %s", s);
}

/* ---------------------------------------------------------------- good */

Test(config_good, default_text)
{
	struct config *cfg;
	struct cfg_endpoint lo4, lo6;

	err[0] = '\0';
	cfg = config_parse(config_default_text(), "<embedded default>", err,
			   sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	ep_of("127.0.0.1:5432", &lo4);
	ep_of("[::1]:5432", &lo6);
	cr_assert_str_eq(cfg->source, "<embedded default>");
	cr_assert_null(cfg->cgroup);
	cr_assert_str_eq(cfg->control, "/run/sluice/ctl.sock");
	cr_assert_eq(cfg->fail_mode, FAIL_CLOSED);
	cr_assert_eq(cfg->n_targets, 1);
	cr_assert_str_eq(cfg->targets[0].name, "local-postgres");
	cr_assert_eq(cfg->targets[0].kind, TARGET_TCP);
	cr_assert_eq(cfg->targets[0].fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[0].n_match, 2);
	cr_assert_str_eq(cfg->targets[0].match[0].text, "127.0.0.1:5432");
	cr_assert_eq(cfg->targets[0].match[0].family, AF_INET);
	cr_assert_arr_eq(cfg->targets[0].match[0].addr, lo4.addr, 16);
	cr_assert_str_eq(cfg->targets[0].match[1].text, "[::1]:5432");
	cr_assert_eq(cfg->targets[0].match[1].family, AF_INET6);
	cr_assert_arr_eq(cfg->targets[0].match[1].addr, lo6.addr, 16);
	cr_assert_str_eq(cfg->targets[0].upstream.text, "127.0.0.1:5432");
	cr_assert_eq(cfg->targets[0].upstream.port, 5432);
	config_free(cfg);
}

Test(config_good, every_key)
{
	struct config *cfg = parse_ok(
		"{\"cgroup\": \"/sys/fs/cgroup/unified/sluice-test\",\n"
		" \"listen\": {\"ipv4\": \"127.0.0.2\", \"ipv6\": \"::2\",\n"
		"            \"node\": \"10.0.0.5\", \"port\": 16000},\n"
		" \"fail_mode\": \"open\",\n"
		" \"control\": \"/tmp/sluice.sock\",\n"
		" \"mark\": 4294967295,\n"
		" \"heartbeat_ms\": 50, \"stale_ms\": 600000,\n"
		" \"workers\": 256,\n"
		" \"log_level\": \"debug\",\n"
		" \"targets\": [\n"
		"  {\"name\": \"a.b_c-D9\", \"kind\": \"tcp\",\n"
		"   \"match\": [\"10.96.0.1:443\", \"[2001:db8::1]:443\"],\n"
		"   \"upstream\": \"[::1]:6443\", \"fail_mode\": \"closed\"},\n"
		"  {\"name\": \"second\", \"kind\": \"tcp\",\n"
		"   \"match\": [\"[::ffff:10.0.0.1]:3306\"],\n"
		"   \"upstream\": \"10.0.0.1:3306\"}\n"
		" ]}\n");

	cr_assert_str_eq(cfg->cgroup, "/sys/fs/cgroup/unified/sluice-test");
	cr_assert_str_eq(cfg->listen.ipv4, "127.0.0.2");
	cr_assert_str_eq(cfg->listen.ipv6, "::2");
	cr_assert_str_eq(cfg->listen.node, "10.0.0.5");
	cr_assert_eq(cfg->listen.port, 16000);
	cr_assert_eq(cfg->fail_mode, FAIL_OPEN);
	cr_assert_str_eq(cfg->control, "/tmp/sluice.sock");
	cr_assert_eq(cfg->mark, 0xffffffffu);
	cr_assert_eq(cfg->heartbeat_ms, 50);
	cr_assert_eq(cfg->stale_ms, 600000);
	cr_assert_eq(cfg->workers, 256);
	cr_assert_str_eq(cfg->log_level, "debug");
	cr_assert_eq(cfg->n_targets, 2);

	cr_assert_str_eq(cfg->targets[0].name, "a.b_c-D9");
	cr_assert_eq(cfg->targets[0].fail_mode, FAIL_CLOSED);
	cr_assert_eq(cfg->targets[0].n_match, 2);
	cr_assert_str_eq(cfg->targets[0].match[0].text, "10.96.0.1:443");
	cr_assert_str_eq(cfg->targets[0].match[1].text, "[2001:db8::1]:443");
	cr_assert_eq(cfg->targets[0].match[1].family, AF_INET6);
	cr_assert_str_eq(cfg->targets[0].upstream.text, "[::1]:6443");
	cr_assert_eq(cfg->targets[0].upstream.port, 6443);

	cr_assert_str_eq(cfg->targets[1].name, "second");
	/* no fail_mode of its own: the global "open" */
	cr_assert_eq(cfg->targets[1].fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[1].match[0].family, AF_INET);
	cr_assert_str_eq(cfg->targets[1].match[0].text, "10.0.0.1:3306");
	cr_assert_arr_eq(cfg->targets[1].match[0].addr,
			 cfg->targets[1].upstream.addr, 16);
	config_free(cfg);
}

Test(config_good, defaults_when_left_out)
{
	struct config *cfg = parse_ok("{}");

	cr_assert_null(cfg->cgroup);
	cr_assert_str_eq(cfg->listen.ipv4, "127.0.0.1");
	cr_assert_str_eq(cfg->listen.ipv6, "::1");
	cr_assert_null(cfg->listen.node);
	cr_assert_eq(cfg->listen.port, 15443);
	cr_assert_eq(cfg->fail_mode, FAIL_CLOSED);
	cr_assert_str_eq(cfg->control, "/run/sluice/ctl.sock");
	cr_assert_eq(cfg->mark, 0x51ce);
	cr_assert_eq(cfg->mark, 20942);
	cr_assert_eq(cfg->heartbeat_ms, 200);
	cr_assert_eq(cfg->stale_ms, 1000);
	cr_assert_eq(cfg->workers, 0);
	cr_assert_str_eq(cfg->log_level, "info");
	cr_assert_eq(cfg->n_targets, 0);
	cr_assert_null(cfg->targets);
	config_free(cfg);
	config_free(NULL);
}

Test(config_good, partial_listen_keeps_other_defaults)
{
	struct config *cfg = parse_ok("{\"listen\": {\"port\": 9000}}");

	cr_assert_eq(cfg->listen.port, 9000);
	cr_assert_str_eq(cfg->listen.ipv4, "127.0.0.1");
	cr_assert_str_eq(cfg->listen.ipv6, "::1");
	config_free(cfg);
}

Test(config_good, nulls_disable)
{
	struct config *cfg = parse_ok(
		"{\"cgroup\": null,"
		" \"listen\": {\"ipv6\": null, \"node\": null}}");

	cr_assert_null(cfg->cgroup);
	cr_assert_null(cfg->listen.ipv6);
	cr_assert_null(cfg->listen.node);
	cr_assert_str_eq(cfg->listen.ipv4, "127.0.0.1");
	config_free(cfg);
}

Test(config_good, node_may_be_ipv6)
{
	struct config *cfg = parse_ok("{\"listen\": {\"node\": \"fd00::5\"}}");

	cr_assert_str_eq(cfg->listen.node, "fd00::5");
	config_free(cfg);
}

Test(config_good, target_fail_mode_inherits_global)
{
	const char *tpl =
		"{%s \"targets\": ["
		" {\"name\": \"a\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		"  \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"b\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:2\"],"
		"  \"upstream\": \"1.1.1.1:2\", \"fail_mode\": \"open\"},"
		" {\"name\": \"c\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:3\"],"
		"  \"upstream\": \"1.1.1.1:3\", \"fail_mode\": \"closed\"}]}";
	char text[1024];
	struct config *cfg;

	/* global left at its default (closed) */
	snprintf(text, sizeof(text), tpl, "");
	cfg = parse_ok(text);
	cr_assert_eq(cfg->targets[0].fail_mode, FAIL_CLOSED);
	cr_assert_eq(cfg->targets[1].fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[2].fail_mode, FAIL_CLOSED);
	config_free(cfg);

	/* global open: only the target without its own follows */
	snprintf(text, sizeof(text), tpl, "\"fail_mode\": \"open\",");
	cfg = parse_ok(text);
	cr_assert_eq(cfg->fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[0].fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[1].fail_mode, FAIL_OPEN);
	cr_assert_eq(cfg->targets[2].fail_mode, FAIL_CLOSED);
	config_free(cfg);
}

Test(config_good, global_fail_mode_after_targets_in_file)
{
	/* key order in the file does not matter for inheritance */
	struct config *cfg = parse_ok(
		"{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		" \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}],"
		" \"fail_mode\": \"open\"}");

	cr_assert_eq(cfg->targets[0].fail_mode, FAIL_OPEN);
	config_free(cfg);
}

Test(config_good, empty_targets_is_valid)
{
	struct config *cfg = parse_ok("{\"targets\": []}");

	cr_assert_eq(cfg->n_targets, 0);
	config_free(cfg);
}

Test(config_good, match_may_equal_upstream)
{
	struct config *cfg = parse_ok(
		"{\"targets\": [{\"name\": \"pg\", \"kind\": \"tcp\","
		" \"match\": [\"127.0.0.1:5432\"], \"upstream\": \"127.0.0.1:5432\"}]}");

	cr_assert(!memcmp(cfg->targets[0].match[0].addr,
			  cfg->targets[0].upstream.addr, 16));
	config_free(cfg);
}

Test(config_good, limits_reached_exactly)
{
	/* 256 targets, 4 matches each: exactly 1024 entries */
	size_t cap = 256 * 200 + 64, o = 0;
	char *text = malloc(cap);
	struct config *cfg;

	cr_assert_not_null(text);
	o += (size_t)snprintf(text + o, cap - o, "{\"targets\": [");
	for (int t = 0; t < 256; t++) {
		o += (size_t)snprintf(text + o, cap - o,
			"%s{\"name\": \"t%d\", \"kind\": \"tcp\", \"match\": ["
			"\"10.0.%d.1:1\", \"10.0.%d.1:2\", \"10.0.%d.1:3\", \"10.0.%d.1:4\"],"
			" \"upstream\": \"10.1.0.1:1\"}",
			t ? "," : "", t, t, t, t, t);
		cr_assert_lt(o, cap);
	}
	snprintf(text + o, cap - o, "]}");
	cfg = parse_ok(text);
	cr_assert_eq(cfg->n_targets, 256);
	cr_assert_eq(cfg->targets[255].n_match, 4);
	cr_assert_str_eq(cfg->targets[255].match[3].text, "10.0.255.1:4");
	config_free(cfg);
	free(text);
}

Test(config_good, name_of_63_chars)
{
	char text[512];
	struct config *cfg;

	snprintf(text, sizeof(text),
		 "{\"targets\": [{\"name\": \"%063d\", \"kind\": \"tcp\","
		 " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}", 7);
	cfg = parse_ok(text);
	cr_assert_eq(strlen(cfg->targets[0].name), 63);
	config_free(cfg);
}

Test(config_good, names)
{
	cr_assert_str_eq(config_kind_name(TARGET_TCP), "tcp");
	cr_assert_str_eq(config_fail_mode_name(FAIL_CLOSED), "closed");
	cr_assert_str_eq(config_fail_mode_name(FAIL_OPEN), "open");
	cr_assert_str_eq(config_fail_mode_name((enum fail_mode)7), "unknown");
}

/* ----------------------------------------------------------------- load */

Test(config_load, file_sets_source)
{
	static const char text[] = "{\"workers\": 3}\n";
	char *path = write_temp(text, strlen(text));
	struct config *cfg;

	cfg = config_load(path, err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_str_eq(cfg->source, path);
	cr_assert_eq(cfg->workers, 3);
	config_free(cfg);
	unlink(path);
	free(path);
}

Test(config_load, errors_carry_the_path)
{
	static const char text[] = "{\n\"workers\": \"many\"}\n";
	char *path = write_temp(text, strlen(text));
	char want[128];

	errno = 0;
	cr_assert_null(config_load(path, err, sizeof(err)));
	cr_assert_eq(errno, EINVAL);
	snprintf(want, sizeof(want),
		 "%s: workers: expected an integer from 0 to 256", path);
	cr_assert_not_null(strstr(err, want), "%s", err);
	unlink(path);
	free(path);
}

Test(config_load, missing_file)
{
	errno = 0;
	cr_assert_null(config_load("/nonexistent/sluice.json", err,
				   sizeof(err)));
	cr_assert_eq(errno, ENOENT);
	cr_assert_not_null(strstr(err, "/nonexistent/sluice.json: "), "%s",
			   err);
}

Test(config_load, too_big)
{
	size_t n = 1024 * 1024 + 1;
	char *big = malloc(n);
	char *path;

	cr_assert_not_null(big);
	/* valid JSON but for its size: a huge string of spaces */
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	path = write_temp(big, n);
	errno = 0;
	cr_assert_null(config_load(path, err, sizeof(err)));
	cr_assert_eq(errno, EFBIG);
	cr_assert_not_null(strstr(err, "larger than 1 MiB"), "%s", err);
	cr_assert_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
	unlink(path);

	/* exactly 1 MiB is fine */
	big[n - 2] = '}';
	free(path);
	path = write_temp(big, n - 1);
	{
		struct config *cfg = config_load(path, err, sizeof(err));

		cr_assert_not_null(cfg, "%s", err);
		config_free(cfg);
	}
	unlink(path);
	free(path);
	free(big);
}

Test(config_load, nul_byte_is_a_syntax_error)
{
	static const char text[] = "{\"workers\": 1}\0garbage";
	char *path = write_temp(text, sizeof(text) - 1);
	char want[128];

	cr_assert_null(config_load(path, err, sizeof(err)));
	cr_assert_eq(errno, EINVAL);
	snprintf(want, sizeof(want), "%s:1:", path);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	unlink(path);
	free(path);
}

Test(config_load, directory)
{
	cr_assert_null(config_load("/tmp", err, sizeof(err)));
	cr_assert_eq(errno, EISDIR);
	cr_assert_not_null(strstr(err, "/tmp: "), "%s", err);
}

/* ------------------------------------------------------------------ bad */

#define T1(extra) \
	"{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\"," \
	" \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"" extra "}]}"

Test(config_bad, unknown_key_top_level)
{
	parse_bad_exact("{\"foo\": 1}", "t.json: foo: unknown key");
}

Test(config_bad, unknown_key_nested)
{
	parse_bad_exact("{\"listen\": {\"prot\": 1}}",
			"t.json: listen.prot: unknown key");
	parse_bad_exact(T1(", \"foo\": true"),
			"t.json: targets[0].foo: unknown key");
}

Test(config_bad, unknown_key_is_escaped)
{
	parse_bad("{\"a\\nb\\\"c\": 1}", "t.json: a\\x0ab\\\"c: unknown key");
}

Test(config_good, metrics)
{
	struct config *cfg = parse_ok("{\"metrics\": \"127.0.0.1:9477\"}");

	cr_expect(cfg->metrics_on);
	cr_expect_str_eq(cfg->metrics.text, "127.0.0.1:9477");
	cr_expect_eq(cfg->metrics.port, 9477);
	config_free(cfg);
	cfg = parse_ok("{\"metrics\": null}");
	cr_expect(!cfg->metrics_on);
	config_free(cfg);
	cfg = parse_ok("{}");
	cr_expect(!cfg->metrics_on);	/* off unless asked for */
	config_free(cfg);
}

Test(config_bad, metrics)
{
	parse_bad("{\"metrics\": 9477}", "t.json: metrics: expected \"ip:port\" or null, got an integer");
	parse_bad("{\"metrics\": \"localhost\"}", "t.json: metrics: ");
}

Test(config_bad, unsupported_target_keys)
{
	/* a held bearer token is for kubernetes targets only */
	parse_bad(T1(", \"credential\": {\"token_file\": \"p\"}"),
		  "targets[0].credential: token_file is for kubernetes targets");
	/* a held database login is for postgres targets only */
	parse_bad(T1(", \"credential\": {\"password_file\": \"p\"}"),
		  "targets[0].credential: user and password_file are for postgres targets");
}

Test(config_good, postgres_target)
{
	struct config *cfg = parse_ok(
		"{\"targets\": [{\"name\": \"pg\", \"kind\": \"postgres\","
		" \"match\": [\"1.1.1.1:5432\"], \"upstream\": \"1.1.1.1:5432\","
		" \"credential\": {\"user\": \"app\", \"password_file\": \"pg.pass\"}}]}");

	cr_assert_eq(cfg->targets[0].kind, TARGET_POSTGRES);
	cr_assert_str_eq(config_kind_name(cfg->targets[0].kind), "postgres");
	cr_assert_str_eq(cfg->targets[0].cred_user, "app");
	cr_assert_not_null(strstr(cfg->targets[0].password_file, "pg.pass"));
	config_free(cfg);
	parse_bad("{\"targets\": [{\"name\": \"pg\", \"kind\": \"postgres\","
		  " \"match\": [\"1.1.1.1:5432\"], \"upstream\": \"1.1.1.1:5432\","
		  " \"credential\": {\"user\": \"\"}}]}",
		  "targets[0].credential: user: expected a role name of 1 to 63 bytes");
}

#define UID "0c3f6a2e-7d4b-4e1a-9f5c-2b8d1e6a7c90"
#define ISS "\"identity\": {\"issuers\": [{\"issuer\": \"https://k\", \"audiences\": [\"a\", \"b\"], \"keys\": \"sa.pub\"}]," \
	    " \"client_ca\": \"/etc/ca.crt\"}"

Test(config_good, identity_pods_policy_client_auth)
{
	struct config *cfg = parse_ok(
		"{\"policy_dir\": \"pol\", " ISS ","
		" \"pods\": [{\"uid\": \"" UID "\", \"namespace\": \"agents\", \"name\": \"agent-0\","
		" \"service_account\": \"agent\", \"labels\": {\"app\": \"agent\", \"tier\": \"x\"}}],"
		" \"targets\": [{\"name\": \"a\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		" \"upstream\": \"1.1.1.1:1\", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\"},"
		" \"client_auth\": [\"kernel\", \"cert\"]},"
		" {\"name\": \"b\", \"kind\": \"tcp\", \"match\": [\"1.1.1.2:1\"], \"upstream\": \"1.1.1.2:1\"}]}");
	char text[32];

	cr_expect_str_eq(cfg->policy_dir, "pol");	/* no directory: as written */
	cr_assert_eq(cfg->identity.n_issuers, 1);
	cr_expect_str_eq(cfg->identity.issuers[0].issuer, "https://k");
	cr_assert_eq(cfg->identity.issuers[0].n_audiences, 2);
	cr_expect_str_eq(cfg->identity.issuers[0].audiences[1], "b");
	cr_expect_str_eq(cfg->identity.issuers[0].keys, "sa.pub");
	cr_expect_str_eq(cfg->identity.client_ca, "/etc/ca.crt");
	cr_assert_eq(cfg->n_pods, 1);
	cr_expect_str_eq(cfg->pods[0]->uid, UID);
	cr_expect_str_eq(cfg->pods[0]->ns, "agents");
	cr_expect_str_eq(cfg->pods[0]->service_account, "agent");
	cr_expect_str_eq(cfg->pods[0]->source, "config");
	cr_assert_eq(cfg->pods[0]->n_labels, 2);
	cr_expect_str_eq(cfg->pods[0]->label_keys[1], "tier");
	cr_expect_eq(cfg->targets[0].client_auth, CLIENT_AUTH_KERNEL | CLIENT_AUTH_CERT);
	cr_expect_eq(cfg->targets[1].client_auth, CLIENT_AUTH_KERNEL);	/* the default */
	config_client_auth_text(cfg->targets[0].client_auth, text, sizeof(text));
	cr_expect_str_eq(text, "kernel,cert");
	config_free(cfg);

	/* left out: no policy engine, no identity, no pods */
	cfg = parse_ok("{}");
	cr_expect_null(cfg->policy_dir);
	cr_expect_eq(cfg->identity.n_issuers, 0);
	cr_expect_null(cfg->identity.client_ca);
	cr_expect_eq(cfg->n_pods, 0);
	config_free(cfg);
}

Test(config_bad, identity_pods_client_auth)
{
	parse_bad_exact("{\"identity\": {\"issuers\": []}}",
			"t.json: identity.issuers: expected 1 to 32 members");
	parse_bad_exact("{\"identity\": {\"issuers\": [{\"issuer\": \"i\", \"keys\": \"k\"}]}}",
			"t.json: identity.issuers[0].audiences: missing (required)");
	parse_bad_exact("{\"identity\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": [\"a\"]}]}}",
			"t.json: identity.issuers[0].keys: missing (required)");
	parse_bad_exact("{\"identity\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": [\"\"], \"keys\": \"k\"}]}}",
			"t.json: identity.issuers[0].audiences[0]: expected a non-empty string");
	parse_bad_exact("{\"identity\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": [\"a\"], \"keys\": \"k\"},"
			" {\"issuer\": \"i\", \"audiences\": [\"a\"], \"keys\": \"k\"}]}}",
			"t.json: identity.issuers[1]: issuer repeats identity.issuers[0]");
	parse_bad_exact("{\"identity\": {\"jwks_url\": \"x\"}}", "t.json: identity.jwks_url: unknown key");
	parse_bad_exact("{\"pods\": [{\"uid\": \"agent-0\", \"namespace\": \"n\", \"name\": \"x\"}]}",
			"t.json: pods[0].uid: expected a pod UID (36 characters: lower-case hex and \"-\")");
	parse_bad_exact("{\"pods\": [{\"uid\": \"" UID "\", \"name\": \"x\"}]}",
			"t.json: pods[0].namespace: missing (required)");
	parse_bad_exact("{\"pods\": [{\"uid\": \"" UID "\", \"namespace\": \"n\", \"name\": \"x\"},"
			" {\"uid\": \"" UID "\", \"namespace\": \"n\", \"name\": \"y\"}]}",
			"t.json: pods[1]: uid repeats pods[0]");
	parse_bad_exact("{\"pods\": [{\"uid\": \"" UID "\", \"namespace\": \"n\", \"name\": \"x\", \"labels\": {\"a\": 1}}]}",
			"t.json: pods[0].labels: \"a\": expected a string, got an integer");
	parse_bad_exact(T1(", \"client_auth\": \"password\""),
			"t.json: targets[0].client_auth: \"password\": expected \"kernel\", \"jwt\" or \"cert\"");
	parse_bad_exact(T1(", \"client_auth\": []"), "t.json: targets[0].client_auth: expected a non-empty list");
	parse_bad_exact(T1(", \"client_auth\": \"jwt\""),
			"t.json: targets[0].client_auth: \"jwt\": a tcp target carries no token (use \"kernel\" or \"cert\")");
	parse_bad_exact(T1(", \"client_auth\": [\"kernel\", \"cert\"]"),
			"t.json: targets[0].client_auth: \"cert\" needs TLS toward the agent (tls.cert and tls.key)");
	parse_bad_exact(T1(", \"tls\": {\"cert\": \"/c\", \"key\": \"/k\"}, \"client_auth\": \"cert\""),
			"t.json: targets[0].client_auth: \"cert\" needs identity.client_ca");
	parse_bad_exact("{\"policy_dir\": 7}", "t.json: policy_dir: expected a string, got an integer");
}

Test(config_good, store_timeouts_tls_and_credential)
{
	struct config *cfg = parse_ok(
		"{\"store\": {\"path\": \"/tmp/s\", \"mode\": \"async\", \"sync_ms\": 5,"
		" \"retention_days\": 7, \"max_bytes\": 8589934592, \"seal_key\": \"k/seal.key\","
		" \"seal_interval_ms\": 0},"
		" \"timeouts\": {\"connect_ms\": 200, \"handshake_ms\": 300, \"idle_ms\": 400, \"drain_ms\": 0},"
		" \"targets\": [{\"name\": \"a\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		" \"upstream\": \"1.1.1.1:1\", \"tls\": {\"certs\": [{\"cert\": \"/c1\", \"key\": \"k1\"},"
		" {\"cert\": \"c2\", \"key\": \"/k2\"}], \"upstream_ca\": \"ca.crt\", \"upstream_name\": \"api.test\"},"
		" \"credential\": {\"client_cert\": \"me.crt\", \"client_key\": \"me.key\"}}]}");

	cr_assert_str_eq(cfg->store.path, "/tmp/s");
	cr_assert_eq(cfg->store.mode, STORE_MODE_ASYNC);
	cr_assert_eq(cfg->store.sync_ms, 5);
	cr_assert_eq(cfg->store.retention_days, 7);
	cr_assert_eq(cfg->store.max_bytes, 8589934592ull);
	/* config_parse has no file: relative names stay relative */
	cr_assert_str_eq(cfg->store.seal_key, "k/seal.key");
	cr_assert_eq(cfg->store.seal_interval_ms, 0);
	cr_assert_eq(cfg->timeouts.connect_ms, 200);
	cr_assert_eq(cfg->timeouts.handshake_ms, 300);
	cr_assert_eq(cfg->timeouts.idle_ms, 400);
	cr_assert_eq(cfg->timeouts.drain_ms, 0);
	cr_assert_eq(cfg->targets[0].n_certs, 2);
	cr_assert_str_eq(cfg->targets[0].certs[0].cert, "/c1");
	cr_assert_str_eq(cfg->targets[0].certs[1].key, "/k2");
	cr_assert_str_eq(cfg->targets[0].upstream_ca, "ca.crt");
	cr_assert_str_eq(cfg->targets[0].upstream_name, "api.test");
	cr_assert_str_eq(cfg->targets[0].client_cert, "me.crt");
	config_free(cfg);
}

Test(config_good, store_defaults)
{
	struct config *cfg = parse_ok("{}");

	cr_assert_str_eq(cfg->store.path, "/var/lib/sluice");
	cr_assert_eq(cfg->store.mode, STORE_MODE_STRICT);
	cr_assert_eq(cfg->store.sync_ms, 20);
	cr_assert_eq(cfg->store.retention_days, 90);
	cr_assert_eq(cfg->store.max_bytes, 20ull << 30);
	cr_assert_str_eq(cfg->store.seal_key, "/etc/sluice/seal.key");
	cr_assert_eq(cfg->timeouts.idle_ms, 3600000);
	config_free(cfg);
}

Test(config_good, relative_files_resolve_against_the_config_dir)
{
	static const char text[] =
		"{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		" \"upstream\": \"1.1.1.1:1\", \"tls\": {\"cert\": \"srv.crt\", \"key\": \"/abs/srv.key\"}}]}";
	char *path = write_temp(text, sizeof(text) - 1);
	char want[4200];
	struct config *cfg = config_load(path, err, sizeof(err));

	cr_assert_not_null(cfg, "%s", err);
	snprintf(want, sizeof(want), "%.*s/srv.crt", (int)(strrchr(path, '/') - path), path);
	cr_assert_str_eq(cfg->targets[0].certs[0].cert, want);
	cr_assert_str_eq(cfg->targets[0].certs[0].key, "/abs/srv.key");
	config_free(cfg);
	unlink(path);
	free(path);
}

Test(config_bad, store_tls_and_credential_values)
{
	parse_bad("{\"store\": {\"mode\": \"fast\"}}", "t.json: store.mode: expected");
	parse_bad("{\"store\": {\"path\": \"rel\"}}", "t.json: store.path: expected an absolute path");
	parse_bad("{\"store\": {\"bogus\": 1}}", "t.json: store.bogus: unknown key");
	parse_bad("{\"store\": {\"max_bytes\": -1}}", "t.json: store.max_bytes: expected a non-negative");
	parse_bad("{\"timeouts\": {\"idle_ms\": 1}}", "t.json: timeouts.idle_ms: expected an integer from 100");
	parse_bad(T1(", \"tls\": {\"cert\": \"c\"}"), "targets[0].tls.key: missing (cert and key go together)");
	parse_bad(T1(", \"tls\": {\"cert\": \"c\", \"key\": \"k\", \"certs\": []}"),
		  "targets[0].tls: give either");
	parse_bad(T1(", \"tls\": {\"certs\": []}"), "targets[0].tls.certs: expected an array of 1 to 64");
	parse_bad(T1(", \"tls\": {\"certs\": [{\"cert\": \"c\", \"key\": \"k\", \"x\": 1}]}"),
		  "targets[0].tls.certs[0].x: unknown key");
	parse_bad(T1(", \"tls\": {\"upstream_name\": \"a\"}"),
		  "targets[0].tls.upstream_name: needs upstream_ca");
	parse_bad(T1(", \"credential\": {\"client_cert\": \"c\", \"client_key\": \"k\"}"),
		  "targets[0].credential: a client certificate needs TLS toward the upstream");
	parse_bad(T1(", \"credential\": {\"client_cert\": \"c\"}"),
		  "targets[0].credential: client_cert and client_key go together");
}

Test(config_bad, unsupported_kinds)
{
	static const char *const kinds[] = { "mysql" };
	char text[256], want[160];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"targets\": [{\"name\": \"a\", \"kind\": \"%s\","
			 " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}",
			 kinds[i]);
		snprintf(want, sizeof(want),
			 "t.json: targets[0].kind: \"%s\" is not supported by this version yet (supported: tcp, postgres, kubernetes)",
			 kinds[i]);
		parse_bad_exact(text, want);
	}
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"udp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}",
		  "targets[0].kind: unknown kind \"udp\" (supported: tcp, postgres, kubernetes)");
	cr_assert_null(strstr(err, "not supported"));
}

Test(config_bad, wrong_types)
{
	parse_bad_exact("{\"listen\": {\"port\": \"443\"}}",
			"t.json: listen.port: expected an integer from 1 to 65535, got a string");
	parse_bad("{\"listen\": {\"port\": true}}",
		  "t.json: listen.port: expected an integer from 1 to 65535");
	parse_bad("{\"heartbeat_ms\": 200.5}",
		  "heartbeat_ms: expected an integer from 10 to 10000");
	parse_bad("{\"workers\": null}",
		  "workers: expected an integer from 0 to 256");
	parse_bad("{\"listen\": []}", "t.json: listen: expected an object");
	parse_bad("{\"listen\": {\"ipv4\": null}}",
		  "listen.ipv4: expected a string, got null");
	parse_bad("{\"listen\": {\"ipv6\": 6}}",
		  "listen.ipv6: expected a string or null");
	parse_bad("{\"cgroup\": 1}", "t.json: cgroup: expected a string");
	parse_bad("{\"control\": null}", "t.json: control: expected a string");
	parse_bad("{\"fail_mode\": 1}", "t.json: fail_mode: expected a string");
	parse_bad("{\"log_level\": []}", "t.json: log_level: expected a string");
	parse_bad("{\"targets\": {}}", "t.json: targets: expected an array");
	parse_bad("{\"targets\": [1]}", "t.json: targets[0]: expected an object");
	parse_bad("{\"targets\": [{\"name\": 5}]}",
		  "t.json: targets[0].name: expected a string");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": \"1.1.1.1:1\", \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].match: expected an array");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\", 80], \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].match[1]: expected an \"ip:port\"");
	parse_bad(T1(", \"fail_mode\": false"),
		  "targets[0].fail_mode: expected a string");
}

Test(config_bad, top_level_not_an_object)
{
	parse_bad("[]", "t.json: (top level): expected an object, got an array");
}

Test(config_bad, integer_ranges)
{
	parse_bad_exact("{\"listen\": {\"port\": 0}}",
			"t.json: listen.port: expected an integer from 1 to 65535, got 0");
	parse_bad("{\"listen\": {\"port\": 65536}}", "listen.port:");
	parse_bad("{\"mark\": 0}", "mark: expected an integer from 1 to 4294967295");
	parse_bad("{\"mark\": 4294967296}", "mark: expected an integer from 1 to 4294967295");
	parse_bad("{\"mark\": -1}", "mark: expected an integer");
	parse_bad("{\"heartbeat_ms\": 9}", "heartbeat_ms: expected an integer from 10 to 10000");
	parse_bad("{\"heartbeat_ms\": 10001}", "heartbeat_ms:");
	parse_bad("{\"stale_ms\": 600001}", "stale_ms: expected an integer");
	parse_bad("{\"workers\": 257}", "workers: expected an integer from 0 to 256, got 257");
	parse_bad("{\"workers\": -1}", "workers: expected an integer from 0 to 256");
}

Test(config_bad, bad_strings)
{
	parse_bad("{\"fail_mode\": \"maybe\"}",
		  "t.json: fail_mode: \"maybe\": expected \"closed\" or \"open\"");
	parse_bad(T1(", \"fail_mode\": \"Open\""),
		  "t.json: targets[0].fail_mode: \"Open\"");
	parse_bad("{\"log_level\": \"trace\"}", "t.json: log_level: \"trace\"");
	parse_bad("{\"cgroup\": \"sys/fs/cgroup\"}",
		  "t.json: cgroup: expected an absolute path");
	parse_bad("{\"cgroup\": \"\"}", "t.json: cgroup: expected an absolute path");
	parse_bad("{\"control\": \"ctl.sock\"}",
		  "t.json: control: expected an absolute path");
	parse_bad("{\"listen\": {\"ipv4\": \"::1\"}}",
		  "t.json: listen.ipv4: \"::1\" is not an IPv4 address");
	parse_bad("{\"listen\": {\"ipv6\": \"127.0.0.1\"}}",
		  "t.json: listen.ipv6: \"127.0.0.1\" is not an IPv6 address");
	parse_bad("{\"listen\": {\"node\": \"node-1\"}}",
		  "t.json: listen.node: \"node-1\" is not an IPv4 or IPv6 address");
}

Test(config_bad, control_path_must_fit_sun_path)
{
	char text[256], path[120];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"control\": \"%s\"}", path);
	parse_bad(text, "t.json: control: path longer than 107 bytes");
}

Test(config_bad, stale_not_above_heartbeat)
{
	parse_bad_exact("{\"heartbeat_ms\": 500, \"stale_ms\": 500}",
			"t.json: stale_ms: 500 must be greater than heartbeat_ms (500)");
	parse_bad("{\"heartbeat_ms\": 500, \"stale_ms\": 100}",
		  "t.json: stale_ms: 100 must be greater than heartbeat_ms (500)");
	/* the default stale_ms (1000) against a larger heartbeat */
	parse_bad("{\"heartbeat_ms\": 2000}",
		  "t.json: stale_ms: 1000 (the default) must be greater than heartbeat_ms (2000)");
}

Test(config_bad, required_target_keys)
{
	parse_bad("{\"targets\": [{\"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		  " \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].name: missing");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"match\": [\"1.1.1.1:1\"],"
		  " \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].kind: missing");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].match: missing");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"]}]}",
		  "t.json: targets[0].upstream: missing");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": [], \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].match: expected at least one endpoint");
}

Test(config_bad, target_names)
{
	char text[512];

	parse_bad("{\"targets\": [{\"name\": \"\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].name: \"\": expected 1 to 63 characters");
	parse_bad("{\"targets\": [{\"name\": \"a b\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].name: \"a b\"");
	parse_bad("{\"targets\": [{\"name\": \"caf\\u00e9\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}",
		  "t.json: targets[0].name:");
	snprintf(text, sizeof(text),
		 "{\"targets\": [{\"name\": \"%064d\", \"kind\": \"tcp\","
		 " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"}]}", 7);
	parse_bad(text, "t.json: targets[0].name:");
}

Test(config_bad, duplicate_target_name)
{
	parse_bad_exact(
		"{\"targets\": ["
		" {\"name\": \"pg\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		"  \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"pg\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:2\"],"
		"  \"upstream\": \"1.1.1.1:2\"}]}",
		"t.json: targets[1].name: \"pg\" is already the name of targets[0]");
}

Test(config_bad, bad_endpoint)
{
	parse_bad_exact(
		"{\"targets\": ["
		" {\"name\": \"a\", \"kind\": \"tcp\", \"match\": [\"1.1.1.1:1\"],"
		"  \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"b\", \"kind\": \"tcp\","
		"  \"match\": [\"db.example:5432\"], \"upstream\": \"1.1.1.1:2\"}]}",
		"t.json: targets[1].match[0]: \"db.example:5432\" is not an \"ip:port\" or \"[ip6]:port\" endpoint with a port from 1 to 65535");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:0\"}]}",
		  "t.json: targets[0].upstream: \"1.1.1.1:0\" is not");
	parse_bad("{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		  " \"match\": [\"1.1.1.1:1\"], \"upstream\": [\"1.1.1.1:2\"]}]}",
		  "t.json: targets[0].upstream: expected an \"ip:port\"");
}

Test(config_bad, duplicate_match_across_targets)
{
	parse_bad_exact(
		"{\"targets\": ["
		" {\"name\": \"a\", \"kind\": \"tcp\","
		"  \"match\": [\"1.1.1.1:1\", \"[::1]:5432\"], \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"b\", \"kind\": \"tcp\","
		"  \"match\": [\"[0:0::1]:5432\"], \"upstream\": \"1.1.1.1:2\"}]}",
		"t.json: targets[1].match[0]: [::1]:5432 is already matched by targets[0].match[1] (\"a\")");
}

Test(config_bad, duplicate_match_v4_and_mapped)
{
	/* the same IPv4 destination spelt two ways is one map key */
	parse_bad(
		"{\"targets\": ["
		" {\"name\": \"a\", \"kind\": \"tcp\","
		"  \"match\": [\"127.0.0.1:5432\"], \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"b\", \"kind\": \"tcp\","
		"  \"match\": [\"1.2.3.4:1\", \"[::ffff:127.0.0.1]:5432\"],"
		"  \"upstream\": \"1.1.1.1:2\"}]}",
		"t.json: targets[1].match[1]: 127.0.0.1:5432 is already matched by targets[0].match[0]");
}

Test(config_bad, duplicate_match_within_target)
{
	parse_bad(
		"{\"targets\": [{\"name\": \"a\", \"kind\": \"tcp\","
		" \"match\": [\"1.1.1.1:1\", \"1.1.1.2:1\", \"1.1.1.1:1\"],"
		" \"upstream\": \"1.1.1.1:1\"}]}",
		"t.json: targets[0].match[2]: 1.1.1.1:1 is already matched by targets[0].match[0]");
}

Test(config_bad, same_address_other_port_is_not_a_duplicate)
{
	struct config *cfg = parse_ok(
		"{\"targets\": ["
		" {\"name\": \"a\", \"kind\": \"tcp\","
		"  \"match\": [\"1.1.1.1:1\"], \"upstream\": \"1.1.1.1:1\"},"
		" {\"name\": \"b\", \"kind\": \"tcp\","
		"  \"match\": [\"1.1.1.1:2\", \"[::1]:1\"], \"upstream\": \"1.1.1.1:1\"}]}");

	cr_assert_eq(cfg->n_targets, 2);
	config_free(cfg);
}

Test(config_bad, too_many_targets)
{
	size_t cap = 257 * 120 + 64, o = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	o += (size_t)snprintf(text + o, cap - o, "{\"targets\": [");
	for (int t = 0; t < 257; t++)
		o += (size_t)snprintf(text + o, cap - o,
			"%s{\"name\": \"t%d\", \"kind\": \"tcp\","
			" \"match\": [\"10.0.%d.%d:1\"], \"upstream\": \"10.1.0.1:1\"}",
			t ? "," : "", t, t / 256, t % 256);
	cr_assert_lt(o, cap);
	snprintf(text + o, cap - o, "]}");
	parse_bad_exact(text, "t.json: targets: more than 256 targets");
	free(text);
}

Test(config_bad, too_many_match_entries)
{
	/* 2 targets x 512 fill the budget; the third target's one is over */
	size_t cap = 3 * 512 * 24 + 1024, o = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	o += (size_t)snprintf(text + o, cap - o, "{\"targets\": [");
	for (int t = 0; t < 3; t++) {
		int n = t < 2 ? 512 : 1;

		o += (size_t)snprintf(text + o, cap - o,
			"%s{\"name\": \"t%d\", \"kind\": \"tcp\", \"match\": [",
			t ? "," : "", t);
		for (int m = 0; m < n; m++)
			o += (size_t)snprintf(text + o, cap - o,
				"%s\"10.%d.%d.%d:1\"", m ? "," : "", t,
				m / 256, m % 256);
		o += (size_t)snprintf(text + o, cap - o,
			"], \"upstream\": \"10.9.0.1:1\"}");
		cr_assert_lt(o, cap);
	}
	snprintf(text + o, cap - o, "]}");
	parse_bad_exact(text,
			"t.json: targets[2].match: more than 1024 match entries in all");
	free(text);
}

Test(config_bad, syntax_error_line_column)
{
	parse_bad("{\n  \"workers\": 1,\n}", "t.json:3:1: ");
	cr_assert_eq(strncmp(err, "t.json:3:1: ", 12), 0, "%s", err);
	parse_bad("{\"workers\": 1", "t.json:1:");
	parse_bad("", "t.json:1:0: ");
}

Test(config_bad, duplicate_object_keys)
{
	parse_bad("{\n\"workers\": 1,\n\"workers\": 2}", "t.json:3:");
	cr_assert_not_null(strstr(err, "duplicate object key"), "%s", err);
	parse_bad("{\"listen\": {\"port\": 1, \"port\": 2}}", "duplicate");
}

Test(config_bad, null_arguments)
{
	errno = 0;
	cr_assert_null(config_parse(NULL, "t.json", err, sizeof(err)));
	cr_assert_eq(errno, EINVAL);
	/* a NULL or empty error buffer must not be written */
	cr_assert_null(config_parse("{\"foo\": 1}", "t.json", NULL, 0));
	cr_assert_eq(errno, EINVAL);
	err[0] = 'x';
	cr_assert_null(config_parse("{\"foo\": 1}", "t.json", err, 0));
	cr_assert_eq(err[0], 'x');
}

Test(config_bad, small_error_buffer_truncates)
{
	char small[8];

	cr_assert_null(config_parse("{\"foo\": 1}", "t.json", small,
				    sizeof(small)));
	cr_assert_str_eq(small, "t.json:");
}

/* ------------------------------------------------------------- endpoint */

Test(endpoint, ipv4)
{
	static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0xff, 0xff, 1, 2, 3, 4 };
	struct cfg_endpoint ep;

	ep_of("1.2.3.4:5432", &ep);
	cr_assert_eq(ep.family, AF_INET);
	cr_assert_arr_eq(ep.addr, want, 16);
	cr_assert_eq(ep.port, 5432);
	cr_assert_str_eq(ep.text, "1.2.3.4:5432");
}

Test(endpoint, ipv6)
{
	struct cfg_endpoint ep;
	uint8_t want[16];

	ep_of("[::1]:443", &ep);
	inet_pton(AF_INET6, "::1", want);
	cr_assert_eq(ep.family, AF_INET6);
	cr_assert_arr_eq(ep.addr, want, 16);
	cr_assert_eq(ep.port, 443);
	cr_assert_str_eq(ep.text, "[::1]:443");

	ep_of("[2001:DB8:0:0:0:0:0:1]:8080", &ep);
	cr_assert_str_eq(ep.text, "[2001:db8::1]:8080");

	ep_of("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", &ep);
	cr_assert_eq(ep.family, AF_INET6);
	cr_assert_eq(ep.port, 65535);
	cr_assert_str_eq(ep.text,
			 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

Test(endpoint, ipv4_mapped_is_ipv4)
{
	struct cfg_endpoint mapped, plain;

	ep_of("[::ffff:127.0.0.1]:80", &mapped);
	ep_of("127.0.0.1:80", &plain);
	cr_assert_eq(mapped.family, AF_INET);
	cr_assert_str_eq(mapped.text, "127.0.0.1:80");
	cr_assert_arr_eq(mapped.addr, plain.addr, 16);

	/* spelt in hex it is still the same address */
	ep_of("[::FFFF:7f00:1]:80", &mapped);
	cr_assert_eq(mapped.family, AF_INET);
	cr_assert_str_eq(mapped.text, "127.0.0.1:80");
}

Test(endpoint, other_v4_in_v6_forms_stay_ipv6)
{
	struct cfg_endpoint ep;

	/* IPv4-compatible (deprecated) and NAT64 are not IPv4 destinations */
	ep_of("[::1.2.3.4]:80", &ep);
	cr_assert_eq(ep.family, AF_INET6);
	ep_of("[64:ff9b::1.2.3.4]:80", &ep);
	cr_assert_eq(ep.family, AF_INET6);
	cr_assert_str_eq(ep.text, "[64:ff9b::102:304]:80");
}

Test(endpoint, port_bounds)
{
	struct cfg_endpoint ep;

	ep_of("1.2.3.4:1", &ep);
	cr_assert_eq(ep.port, 1);
	ep_of("1.2.3.4:65535", &ep);
	cr_assert_eq(ep.port, 65535);
}

Test(endpoint, refused)
{
	static const char *const bad[] = {
		"", ":", ":80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0",
		"1.2.3.4:65536", "1.2.3.4:99999999999999999999", "1.2.3.4:-1",
		"1.2.3.4:+80", "1.2.3.4: 80", "1.2.3.4:80 ", " 1.2.3.4:80",
		"1.2.3.4:080", "1.2.3.4:0x50", "1.2.3.4:80:81", "1.2.3:80",
		"1.2.3.256:80", "01.2.3.4:80", "1.2.3.4.5:80", "localhost:80",
		"db.example.com:5432", "::1:443", "::1", "[::1]", "[::1]:",
		"[::1]443", "[::1]:0", "[]:80", "[::1:80", "::1]:80", "[[::1]]:80",
		"[::1]]:80", "[::1]:80]", "[1.2.3.4]:80", "[fe80::1%eth0]:80",
		"[::g]:80", "[1:2:3:4:5:6:7:8:9]:80", "garbage", "[",
		"[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]:80",
		"11111111111111111111111111111111111111111111111111111111111:80",
	};
	struct cfg_endpoint ep;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ep, 0xa5, sizeof(ep));
		cr_assert_eq(config_parse_endpoint(bad[i], &ep), -EINVAL,
			     "accepted \"%s\"", bad[i]);
		/* a refusal leaves the output alone */
		cr_assert_eq(ep.port, 0xa5a5, "\"%s\" wrote ep", bad[i]);
	}
	cr_assert_eq(config_parse_endpoint(NULL, &ep), -EINVAL);
	cr_assert_eq(config_parse_endpoint("1.2.3.4:80", NULL), -EINVAL);
}

/* ------------------------------------------------------------- cgroup2 */

static char *find_in(const char *mounts)
{
	char *path = write_temp(mounts, strlen(mounts));
	char *found;
	int saved;

	errno = 0;
	found = config_find_cgroup2(path);
	saved = errno;
	unlink(path);
	free(path);
	errno = saved;
	return found;
}

Test(cgroup2, hybrid_host)
{
	char *mnt = find_in(
		"sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
		"tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0\n"
		"cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,xattr,name=systemd 0 0\n"
		"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
		"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
		"cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n");

	cr_assert_not_null(mnt);
	cr_assert_str_eq(mnt, "/sys/fs/cgroup/unified");
	free(mnt);
}

Test(cgroup2, pure_v2_host)
{
	char *mnt = find_in(
		"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
		"cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
		"cgroup2 /mnt/other cgroup2 rw 0 0\n");

	cr_assert_not_null(mnt);
	cr_assert_str_eq(mnt, "/sys/fs/cgroup");
	free(mnt);
}

Test(cgroup2, none)
{
	char *mnt = find_in(
		"tmpfs /sys/fs/cgroup tmpfs ro 0 0\n"
		"cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
		"cgroup2x /x cgroup2x rw 0 0\n"
		"\n"
		"short\n");

	cr_assert_null(mnt);
	cr_assert_eq(errno, ENOENT);
}

Test(cgroup2, empty_file)
{
	cr_assert_null(find_in(""));
	cr_assert_eq(errno, ENOENT);
}

Test(cgroup2, octal_escapes)
{
	char *mnt = find_in(
		"none /mnt/my\\040cg\\011x\\134y cgroup2 rw 0 0\n");

	cr_assert_not_null(mnt);
	cr_assert_str_eq(mnt, "/mnt/my cg\tx\\y");
	free(mnt);
}

Test(cgroup2, no_trailing_newline)
{
	char *mnt = find_in("cgroup2 /cg cgroup2");

	cr_assert_not_null(mnt);
	cr_assert_str_eq(mnt, "/cg");
	free(mnt);
}

Test(cgroup2, missing_file)
{
	errno = 0;
	cr_assert_null(config_find_cgroup2("/nonexistent/mounts"));
	cr_assert_eq(errno, ENOENT);
}

Test(cgroup2, this_host)
{
	char *mnt;

	errno = 0;
	mnt = config_find_cgroup2(NULL);
	if (!mnt) {
		cr_assert_eq(errno, ENOENT);
		return;
	}
	cr_assert_eq(mnt[0], '/', "%s", mnt);
	free(mnt);
}

Test(config_good, pod_cache)
{
	static const char text[] =
		"{\"pod_cache\": {\"server\": \"https://127.0.10.30:6443/\", \"ca\": \"ca.crt\","
		" \"token_file\": \"/var/run/secrets/token\", \"node\": \"node-1\"}}";
	char *path = write_temp(text, sizeof(text) - 1);
	char want[4200];
	struct config *cfg = config_load(path, err, sizeof(err));

	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->pod_cache.server, "https://127.0.10.30:6443");	/* no trailing "/" */
	snprintf(want, sizeof(want), "%.*s/ca.crt", (int)(strrchr(path, '/') - path), path);
	cr_expect_str_eq(cfg->pod_cache.ca, want);
	cr_expect_str_eq(cfg->pod_cache.token_file, "/var/run/secrets/token");
	cr_expect_null(cfg->pod_cache.client_cert);
	cr_expect_str_eq(cfg->pod_cache.node, "node-1");
	config_free(cfg);
	unlink(path);
	free(path);

	cfg = parse_ok("{\"pod_cache\": {\"server\": \"https://api.example\", \"ca\": \"/ca\","
		       " \"client_cert\": \"/c\", \"client_key\": \"/k\"}}");
	cr_expect_str_eq(cfg->pod_cache.client_cert, "/c");
	cr_expect_str_eq(cfg->pod_cache.client_key, "/k");
	cr_expect_null(cfg->pod_cache.token_file);
	cr_expect_null(cfg->pod_cache.node);	/* $NODE_NAME or the host name */
	config_free(cfg);

	cfg = parse_ok("{}");
	cr_expect_null(cfg->pod_cache.server);	/* no cache */
	config_free(cfg);
}

Test(config_bad, pod_cache)
{
#define PC(x) "{\"pod_cache\": {" x "}}"
	parse_bad_exact(PC("\"ca\": \"/ca\", \"token_file\": \"/t\""),
			"t.json: pod_cache.server: missing (required)");
	parse_bad_exact(PC("\"server\": \"http://a:1\", \"ca\": \"/ca\", \"token_file\": \"/t\""),
			"t.json: pod_cache.server: expected \"https://host[:port]\"");
	parse_bad_exact(PC("\"server\": \"https://\", \"ca\": \"/ca\", \"token_file\": \"/t\""),
			"t.json: pod_cache.server: expected \"https://host[:port]\"");
	parse_bad_exact(PC("\"server\": \"https://a/x?y\", \"ca\": \"/ca\", \"token_file\": \"/t\""),
			"t.json: pod_cache.server: expected \"https://host[:port]\"");
	parse_bad_exact(PC("\"server\": \"https://a b\", \"ca\": \"/ca\", \"token_file\": \"/t\""),
			"t.json: pod_cache.server: spaces or control characters in the URL");
	parse_bad_exact(PC("\"server\": \"https://a\", \"token_file\": \"/t\""),
			"t.json: pod_cache.ca: missing (required: the API server's CA)");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\""),
			"t.json: pod_cache: expected token_file, or client_cert and client_key (one of them)");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\", \"token_file\": \"/t\","
			   " \"client_cert\": \"/c\", \"client_key\": \"/k\""),
			"t.json: pod_cache: expected token_file, or client_cert and client_key (one of them)");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\", \"client_cert\": \"/c\""),
			"t.json: pod_cache: client_cert and client_key go together");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\", \"token_file\": \"\""),
			"t.json: pod_cache.token_file: expected a file name, got an empty string");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\", \"token_file\": \"/t\", \"node\": \"\""),
			"t.json: pod_cache.node: expected 1 to 253 bytes");
	parse_bad_exact(PC("\"server\": \"https://a\", \"ca\": \"/ca\", \"token_file\": \"/t\", \"namespace\": \"x\""),
			"t.json: pod_cache.namespace: unknown key");
	parse_bad_exact("{\"pod_cache\": \"https://a\"}", "t.json: pod_cache: expected an object, got a string");
#undef PC
}

Test(config_good, export)
{
	struct config *cfg = parse_ok(
		"{\"export\": ["
		"{\"name\": \"siem\", \"type\": \"syslog\", \"format\": \"k8s-audit\","
		" \"address\": \"127.0.10.5:6514\", \"tls\": {\"ca\": \"/ca.crt\"}},"
		"{\"name\": \"splunk\", \"type\": \"hec\", \"format\": \"ocsf\","
		" \"address\": \"https://127.0.10.6:8088\", \"token_file\": \"/t\","
		" \"batch\": 7, \"backoff_max_ms\": 2000, \"timeout_ms\": 500},"
		"{\"name\": \"f\", \"type\": \"file\", \"format\": \"cef\","
		" \"path\": \"/var/log/sluice.cef\", \"max_bytes\": 8192, \"keep\": 2}]}");

	cr_assert_eq(cfg->n_exports, 3);
	cr_expect_str_eq(cfg->exports[0].name, "siem");
	cr_expect_eq(cfg->exports[0].type, EXPORT_SYSLOG);
	cr_expect_str_eq(cfg->exports[0].format, "k8s-audit");
	cr_expect_str_eq(cfg->exports[0].tls_ca, "/ca.crt");
	cr_expect_eq(cfg->exports[0].batch, 100);
	cr_expect_eq(cfg->exports[0].backoff_max_ms, 30000);
	cr_expect_eq(cfg->exports[1].type, EXPORT_HEC);
	cr_expect_str_eq(cfg->exports[1].token_file, "/t");
	cr_expect_eq(cfg->exports[1].batch, 7);
	cr_expect_eq(cfg->exports[1].backoff_max_ms, 2000);
	cr_expect_eq(cfg->exports[1].timeout_ms, 500);
	cr_expect_eq(cfg->exports[2].type, EXPORT_FILE);
	cr_expect_str_eq(cfg->exports[2].path, "/var/log/sluice.cef");
	cr_expect_eq(cfg->exports[2].max_bytes, 8192);
	cr_expect_eq(cfg->exports[2].keep, 2);
	config_free(cfg);
}

Test(config_bad, export)
{
#define EX(x) "{\"export\": [{" x "}]}"
#define SY "\"name\": \"s\", \"type\": \"syslog\", \"format\": \"cef\", "
	parse_bad_exact(EX("\"type\": \"file\", \"format\": \"cef\", \"path\": \"/x\""),
			"t.json: export[0].name: missing (required)");
	parse_bad_exact(EX("\"name\": \"a b\", \"type\": \"file\", \"format\": \"cef\", \"path\": \"/x\""),
			"t.json: export[0].name: expected letters, digits, '.', '_' or '-'");
	parse_bad_exact(EX("\"name\": \"a\", \"type\": \"file\", \"format\": \"leef\", \"path\": \"/x\""),
			"t.json: export[0].format: expected \"k8s-audit\", \"ocsf\" or \"cef\"");
	parse_bad_exact(EX("\"name\": \"a\", \"type\": \"kafka\", \"format\": \"cef\""),
			"t.json: export[0].type: expected \"file\", \"syslog\" or \"hec\"");
	parse_bad_exact(EX("\"name\": \"a\", \"type\": \"file\", \"format\": \"cef\""),
			"t.json: export[0]: a file sink needs \"path\"");
	parse_bad_exact(EX(SY "\"address\": \"127.0.0.1\""),
			"t.json: export[0]: address: expected host:port");
	parse_bad_exact(EX(SY "\"address\": \"h:1\", \"token\": \"x\""),
			"t.json: export[0]: a syslog sink takes no token");
	parse_bad_exact(EX(SY "\"address\": \"h:1\", \"tls\": {\"name\": \"x\"}"),
			"t.json: export[0].tls: \"ca\" is required");
	parse_bad_exact(EX(SY "\"address\": \"h:1\", \"tls\": {\"ca\": \"/c\", \"crl\": 1}"),
			"t.json: export[0].tls.crl: unknown key");
	parse_bad_exact(EX("\"name\": \"h\", \"type\": \"hec\", \"format\": \"ocsf\", \"address\": \"ftp://x\", \"token\": \"t\""),
			"t.json: export[0]: address: expected an http:// or https:// URL");
	parse_bad_exact(EX("\"name\": \"h\", \"type\": \"hec\", \"format\": \"ocsf\", \"address\": \"http://x\""),
			"t.json: export[0]: a hec sink needs one of \"token\" or \"token_file\"");
	parse_bad_exact(EX(SY "\"address\": \"h:1\", \"batch\": 0"),
			"t.json: export[0].batch: expected an integer from 1 to 10000, got 0");
	parse_bad_exact(EX(SY "\"address\": \"h:1\", \"sink\": 0"),
			"t.json: export[0].sink: unknown key");
	parse_bad_exact("{\"export\": [{\"name\": \"a\", \"type\": \"file\", \"format\": \"cef\", \"path\": \"/x\"},"
			" {\"name\": \"a\", \"type\": \"file\", \"format\": \"cef\", \"path\": \"/y\"}]}",
			"t.json: export[1]: name repeats export[0]");
	parse_bad_exact("{\"export\": {}}", "t.json: export: expected an array, got an object");
#undef SY
#undef EX
}
