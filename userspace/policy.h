/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy engine (DESIGN §4): JSON rule files, and one decision per
 * request that every protocol module asks for the same way.
 *
 * Files. Every "*.json" in the policy directory (names starting with "."
 * skipped, symlinks followed, so a ConfigMap mount works) is loaded in
 * byte order of its name; their rules are concatenated in that order. Each
 * file is {"version": 1, "default"?, "rules"?, "description"?}. "default"
 * ("deny", "allow" or "review") may be set by any number of files as long
 * as they agree; a file setting another value is refused. No file setting
 * it means "deny". A rule:
 *
 *   {"name": N, "match": {...}, "action": "allow"|"deny"|"review",
 *    "mask"?: [{"k8s"|"sql_column"|"pattern": V}, ...],
 *    "record"?: "full"|"metadata", "description"?: TEXT}
 *
 * "match" is required ({} matches everything). Names are 1 to 128 of
 * [A-Za-z0-9-_.:/@], start with a letter or digit, are unique across all
 * files, and "default" is reserved (it names the default in decisions).
 * "mask" only on allow and review rules. Unknown keys, wrong types, empty
 * lists (they could never match) and unknown values are errors. Every load
 * error is one line "FILE:LINE:COLUMN: message": LINE and COLUMN are
 * 1-based, COLUMN counts characters (not bytes) as jansson does. Schema
 * errors point at the first character of the offending key (unknown key)
 * or value (everything else; the rule's "{" for a missing key); JSON
 * syntax errors are where jansson stopped (the last character of the
 * offending token). A member name repeated in one object is a syntax error.
 *
 * Match keys (all optional, all present must match; a list matches when
 * any member does):
 *   identity  users, groups        exact; only an authenticated identity
 *                                  (a verified token or certificate) has
 *                                  a user and groups to match
 *             uids                 integers, the kernel uid
 *             comms                exact, at most 15 bytes (the kernel's)
 *             cgroups              fnmatch(3) globs, flags 0: "*" crosses
 *                                  "/", so "/agents/" followed by "*" is
 *                                  the whole subtree below /agents
 *             pods {namespaces, names, service_accounts, labels {k: v}}
 *                                  the caller's pod; labels: every pair
 *                                  present with that value
 *             authenticated        true / false
 *   target    a name or a list of names
 *   k8s       verbs (RBAC verbs), groups ("" is the core group),
 *             resources (lower-case plurals), subresources, namespaces,
 *             names; "" in subresources/namespaces/names matches a request
 *             without one
 *   sql       classes (read, write, ddl, dcl, admin, tx), tables (ASCII
 *             case-insensitive, as sql.h spells them, no quotes; "t"
 *             matches t in any schema or database, "s.t" only s.t, so
 *             write deny rules unqualified), no_where (bool: a DELETE or
 *             UPDATE without WHERE, or TRUNCATE; an addition to DESIGN §4)
 * A rule with a k8s key matches only Kubernetes requests, with a sql key
 * only SQL; a rule with neither matches every kind, connects included.
 *
 * Decisions. First matching rule wins; none matching gives the default
 * (rule "default"). A SQL request is decided in parts: each statement,
 * each class it involves (sql.h's `classes`: a WITH ... DELETE is read
 * and write) and each table it names (once when it names none), so a
 * rule allowing reads of one table allows neither a join with another
 * nor the DELETE inside a WITH. sql.h does not say which table a class
 * touches, so every class is checked with every table. The message
 * passes only if every part does: deny beats review beats allow. A
 * statement whose names sql.h marks unsure (SQL_F_NAME_UNSURE) cannot be
 * matched by table: rules naming tables then match it when they deny or
 * review and never when they allow. A statement's rule is the one that
 * decided its most restrictive part; the request's, the first statement's
 * with the request's action. The mask of an allowed (or review) request
 * is the union of the masks of every rule that allowed a part of it
 * (masking more than a statement needs is the safe side); record is "full"
 * unless every rule that decided a part says "metadata".
 *
 * Threads. A loaded policy is immutable: any number of threads may decide
 * with it at once. It is reference counted, so the daemon can swap in a
 * new one (policy_load_dir() on SIGHUP; on failure keep the old) while
 * requests in flight finish on the old: take a reference per request.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mask.h"
#include "sql.h"

/* In order of restrictiveness: a larger value wins when combining. */
enum policy_action {
	POLICY_ALLOW = 0,
	POLICY_REVIEW = 1,
	POLICY_DENY = 2,
};

enum policy_record {
	POLICY_RECORD_FULL = 0,		/* events and payload bytes */
	POLICY_RECORD_METADATA = 1,	/* events only */
};

/* The rule name of a decision no rule made. */
#define POLICY_DEFAULT_RULE	"default"
/* The rule name of a decision that failed (out of memory): it denies. */
#define POLICY_ERROR_RULE	"(error)"

/* Limits of what a load accepts. */
#define POLICY_MAX_FILE		(1024 * 1024)	/* bytes per file */
#define POLICY_MAX_FILES	256
#define POLICY_MAX_RULES	4096		/* all files together */
#define POLICY_NAME_MAX		128

/* ------------------------------------------------------------ inputs */

/* The caller's pod, when it runs in one (kernel identity, from the cgroup). */
struct policy_pod {
	const char *ns;			/* namespace */
	const char *name;
	const char *service_account;
	const char *const *label_keys;	/* n_labels each */
	const char *const *label_values;
	size_t n_labels;
};

/*
 * Who is asking: both identities of DESIGN §3. Every pointer is borrowed
 * and may be NULL (unknown); the engine keeps none of them.
 */
struct policy_identity {
	/* presented: matched by users/groups only when authenticated */
	bool authenticated;		/* a token or certificate was verified */
	const char *user;
	const char *const *groups;
	size_t n_groups;
	/* kernel */
	bool has_uid;
	uint32_t uid;
	const char *comm;
	const char *cgroup;		/* cgroup v2 path, "/..." */
	const struct policy_pod *pod;	/* NULL: not in a pod */
};

enum policy_req_kind {
	POLICY_REQ_CONNECT = 0,		/* a tcp target: the connect itself */
	POLICY_REQ_K8S,
	POLICY_REQ_SQL,
};

/* A Kubernetes request as the Kubernetes module decodes it; NULL is "". */
struct policy_k8s_req {
	const char *verb;		/* RBAC verb: get, list, create, ... */
	const char *group;		/* API group, "" core */
	const char *resource;
	const char *subresource;
	const char *ns;			/* namespace */
	const char *name;
};

struct policy_request {
	const char *target;		/* target name */
	enum policy_req_kind kind;
	struct policy_k8s_req k8s;	/* kind K8S */
	/* kind SQL: every statement of the message, as sql_parse() (or
	 * sql_next()) gave them; decide only on a message sql.h accepted whole */
	const struct sql_stmt *stmts;
	size_t n_stmts;
};

/* ----------------------------------------------------------- decision */

struct policy_stmt_decision {
	enum policy_action action;
	const char *rule;		/* borrowed from the policy, or static */
};

struct policy_decision {
	enum policy_action action;
	const char *rule;		/* borrowed from the policy, or
					 * POLICY_DEFAULT_RULE / POLICY_ERROR_RULE */
	/* NULL: nothing to mask (always NULL for deny). Borrowed from the
	 * policy or owned by the decision: valid until
	 * policy_decision_release() and while the policy lives. */
	const struct mask_spec *mask;
	enum policy_record record;
	struct policy_stmt_decision *stmts;	/* kind SQL: n_stmts entries */
	size_t n_stmts;
	struct mask_spec *mask_owned;	/* private */
};

/* --------------------------------------------------------------- API */

struct policy;

/*
 * Load every "*.json" of dir into a new policy (see above for the order
 * and the merge). Returns one reference (release with policy_free()), or
 * NULL with errno set (EINVAL for a file refused, ENOENT/EACCES/... for
 * the directory or a file that cannot be read, ENOMEM) and a one-line
 * message in err. Nothing is shared with any other policy: on failure the
 * caller's current policy is untouched and stays in force. A directory
 * without policy files loads as default deny with no rules.
 */
struct policy *policy_load_dir(const char *dir, char *err, size_t errlen);

/* One file (`sluice policy check FILE`). As policy_load_dir(). */
struct policy *policy_load_file(const char *path, char *err, size_t errlen);

/*
 * One file's text; name is what errors call it. As policy_load_dir().
 * text need not be NUL-terminated.
 */
struct policy *policy_parse(const char *name, const char *text, size_t len, char *err,
			    size_t errlen);

/* Another reference to p (accepts NULL); returns p. Thread-safe. */
struct policy *policy_ref(struct policy *p);

/* Drop a reference; the last one frees. Accepts NULL. Thread-safe. */
void policy_free(struct policy *p);

/* How many rules / files; the default action. */
size_t policy_rule_count(const struct policy *p);
size_t policy_file_count(const struct policy *p);
enum policy_action policy_default_action(const struct policy *p);

/*
 * Decide req for id. p NULL (no policy loaded) denies with rule
 * POLICY_DEFAULT_RULE. Fills d (release with policy_decision_release(),
 * also after an error). Returns 0, or -ENOMEM with d set to deny by
 * POLICY_ERROR_RULE, or -EINVAL for NULL id/req/d (d, if given, then
 * denies too). Borrowed strings in d live as long as p.
 */
int policy_decide(const struct policy *p, const struct policy_identity *id,
		  const struct policy_request *req, struct policy_decision *d);

/* Free what d owns and zero it. Accepts NULL and a zeroed d. */
void policy_decision_release(struct policy_decision *d);

/*
 * {"decision", "rule", "record", "mask"?: [...], "statements"?: [{"decision",
 * "rule", "class"?, "tables"?, "verb"?}]}: "statements" for SQL requests,
 * "class"/"tables"/"verb" when req (may be NULL) is the request d decided.
 * New reference, or NULL on ENOMEM.
 */
json_t *policy_decision_json(const struct policy_decision *d, const struct policy_request *req);

/*
 * The loaded policy for `sluice policy show`: {"version": 1, "default",
 * "files": [...], "rules": [{"name", "file", "line", "column", "match",
 * "action", "mask", "record", "description"?}]}. New reference, or NULL
 * on ENOMEM.
 */
json_t *policy_json(const struct policy *p);

/*
 * `sluice policy test --identity JSON`: an identity shaped like a
 * session's: {"user": {"name", "groups", "authenticated"?, "source"?, ...},
 * "kernel": {"uid", "comm", "cgroup", "pod": {"namespace", "name",
 * "service_account", "labels"}, ...}}. A user with a name is authenticated
 * unless "authenticated": false. Keys a session carries that policy does
 * not match on (pid, gid, issuer, ...) are accepted and ignored; others are
 * refused. j is copied. Returns a new identity (free with
 * policy_identity_free()), or NULL with errno set and "path: message" in err.
 */
struct policy_identity *policy_identity_from_json(json_t *j, char *err, size_t errlen);
void policy_identity_free(struct policy_identity *id);

/*
 * `sluice policy test --request JSON`: {"target": T} (a connect),
 * {"target": T, "k8s": {"verb", "group", "resource", "subresource",
 * "namespace", "name"}}, {"target": T, "sql": "TEXT", "dialect"?:
 * "postgres"|"mysql"} (classified by sql_parse(), default postgres, no
 * mode flags; text sql.h refuses is refused here with its message) or
 * {"target": T, "sql": [{"class", "tables"?, "verb"?, "no_where"?}, ...]}
 * (already classified). j is copied. Returns a new request (free with
 * policy_request_free()), or NULL with errno set and "path: message" in
 * err.
 */
struct policy_request *policy_request_from_json(json_t *j, char *err, size_t errlen);
void policy_request_free(struct policy_request *req);

/* Names, as in the files: "allow"/"review"/"deny", "full"/"metadata".
 * Static strings; "?" for a value out of range. */
const char *policy_action_name(enum policy_action a);
const char *policy_record_name(enum policy_record r);

#endif
