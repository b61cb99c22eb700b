// SPDX-License-Identifier: BSD-2-Clause
/*
 * The pod table: a small open hash of pod UIDs behind a reader-writer lock.
 * Lookups hand out copies, so an entry replaced by the pod cache while a
 * connection still uses the old one never dangles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pods.h"

#define POD_BUCKETS 256

struct pod_entry {
	struct pod_entry *next;
	struct pod_info *p;
};

struct pod_table {
	pthread_rwlock_t lock;
	struct pod_entry *b[POD_BUCKETS];
	size_t n;
};

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

/*
 * A UID of 36 characters at s, with "-" or (systemd escapes it) "_" as
 * separators at 8, 13, 18 and 23. Copies it to uid with "-".
 */
static bool take_uid(const char *s, size_t len, char uid[POD_UID_LEN + 1])
{
	if (len != POD_UID_LEN)
		return false;
	for (size_t i = 0; i < POD_UID_LEN; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s[i]))
			return false;
		uid[i] = sep ? '-' : s[i];
	}
	uid[POD_UID_LEN] = '\0';
	return true;
}

/* The pod component of one path element, or false. */
static bool pod_elem(const char *e, size_t len, char uid[POD_UID_LEN + 1])
{
	static const char slice[] = ".slice";
	const char *p;

	if (len > 3 && !strncmp(e, "pod", 3))	/* cgroupfs: pod<uid> */
		return take_uid(e + 3, len - 3, uid);
	/* systemd: kubepods[-<qos>]-pod<uid>.slice */
	if (len < sizeof(slice) || strncmp(e, "kubepods", 8) ||
	    memcmp(e + len - (sizeof(slice) - 1), slice, sizeof(slice) - 1))
		return false;
	len -= sizeof(slice) - 1;
	for (p = e + len; p > e && p[-1] != '-'; p--)
		;
	if (p == e || (size_t)(e + len - p) <= 3 || strncmp(p, "pod", 3))
		return false;
	return take_uid(p + 3, e + len - p - 3, uid);
}

/* The container id in one path element, or false. */
static bool container_elem(const char *e, size_t len, char id[POD_CONTAINER_LEN + 1])
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-", "" };
	static const char scope[] = ".scope";

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i]), idl = len - pl;

		if (len < pl || strncmp(e, prefixes[i], pl))
			continue;
		/* systemd driver: "<runtime>-<id>.scope"; cgroupfs: bare or prefixed */
		if (pl && idl > sizeof(scope) - 1 &&
		    !memcmp(e + len - (sizeof(scope) - 1), scope, sizeof(scope) - 1))
			idl -= sizeof(scope) - 1;
		if (idl != POD_CONTAINER_LEN)
			continue;
		for (size_t k = 0; k < idl; k++)
			if (!is_hex(e[pl + k]))
				return false;
		memcpy(id, e + pl, idl);
		id[idl] = '\0';
		return true;
	}
	return false;
}

int pods_parse_cgroup(const char *path, char uid[POD_UID_LEN + 1],
		      char container[POD_CONTAINER_LEN + 1])
{
	const char *e = path, *end;
	bool found = false;

	uid[0] = container[0] = '\0';
	if (!path)
		return -ENOENT;
	/* the innermost pod element wins; the container is the element
	 * right below it */
	for (; *e; e = *end ? end + 1 : end) {
		size_t len;

		end = strchrnul(e, '/');
		len = end - e;
		if (!len)
			continue;
		if (pod_elem(e, len, uid)) {
			const char *c = *end ? end + 1 : end;
			const char *cend = strchrnul(c, '/');

			found = true;
			if (cend == c || !container_elem(c, cend - c, container))
				container[0] = '\0';
		}
	}
	if (!found) {
		uid[0] = '\0';
		return -ENOENT;
	}
	return 0;
}

/* ------------------------------------------------------------- table */

static unsigned bucket(const char *uid)
{
	unsigned h = 2166136261u;

	for (; *uid; uid++)
		h = (h ^ (unsigned char)*uid) * 16777619u;
	return h % POD_BUCKETS;
}

struct pod_table *pod_table_new(void)
{
	struct pod_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (pthread_rwlock_init(&t->lock, NULL)) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void pod_table_free(struct pod_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < POD_BUCKETS; i++) {
		for (struct pod_entry *e = t->b[i], *next; e; e = next) {
			next = e->next;
			pod_info_free(e->p);
			free(e);
		}
	}
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

void pod_info_free(struct pod_info *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_labels; i++) {
		free(p->label_keys[i]);
		free(p->label_values[i]);
	}
	free(p->label_keys);
	free(p->label_values);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->service_account);
	free(p->source);
	free(p);
}

static int dup_str(char **dst, const char *s)
{
	*dst = NULL;
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

struct pod_info *pod_info_dup(const struct pod_info *p)
{
	struct pod_info *c = calloc(1, sizeof(*c));
	int err = 0;

	if (!c)
		return NULL;
	err |= dup_str(&c->uid, p->uid);
	err |= dup_str(&c->ns, p->ns);
	err |= dup_str(&c->name, p->name);
	err |= dup_str(&c->service_account, p->service_account);
	err |= dup_str(&c->source, p->source);
	if (!err && p->n_labels) {
		c->label_keys = calloc(p->n_labels, sizeof(char *));
		c->label_values = calloc(p->n_labels, sizeof(char *));
		if (!c->label_keys || !c->label_values)
			err = -ENOMEM;
		for (size_t i = 0; !err && i < p->n_labels; i++) {
			c->n_labels = i + 1;
			err |= dup_str(&c->label_keys[i], p->label_keys[i]);
			err |= dup_str(&c->label_values[i], p->label_values[i]);
		}
	}
	if (err) {
		pod_info_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

int pod_table_put(struct pod_table *t, const struct pod_info *p)
{
	struct pod_entry **slot, *e;
	struct pod_info *c;
	char uid[POD_UID_LEN + 1];

	if (!t || !p || !p->uid || !take_uid(p->uid, strlen(p->uid), uid))
		return -EINVAL;
	c = pod_info_dup(p);
	if (!c)
		return -ENOMEM;
	memcpy(c->uid, uid, sizeof(uid));	/* as the cgroup parser spells it */
	pthread_rwlock_wrlock(&t->lock);
	for (slot = &t->b[bucket(uid)]; *slot; slot = &(*slot)->next)
		if (!strcmp((*slot)->p->uid, c->uid))
			break;
	if (*slot) {
		pod_info_free((*slot)->p);
		(*slot)->p = c;
		c = NULL;
	} else if ((e = calloc(1, sizeof(*e)))) {
		e->p = c;
		*slot = e;
		t->n++;
		c = NULL;
	}
	pthread_rwlock_unlock(&t->lock);
	if (c) {
		pod_info_free(c);
		return -ENOMEM;
	}
	return 0;
}

int pod_table_del(struct pod_table *t, const char *uid)
{
	struct pod_entry **slot, *e = NULL;

	if (!t || !uid)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	for (slot = &t->b[bucket(uid)]; *slot; slot = &(*slot)->next)
		if (!strcmp((*slot)->p->uid, uid))
			break;
	if (*slot) {
		e = *slot;
		*slot = e->next;
		t->n--;
	}
	pthread_rwlock_unlock(&t->lock);
	if (!e)
		return -ENOENT;
	pod_info_free(e->p);
	free(e);
	return 0;
}

struct pod_info *pod_table_get(struct pod_table *t, const char *uid)
{
	struct pod_info *c = NULL;

	errno = ENOENT;
	if (!t || !uid)
		return NULL;
	pthread_rwlock_rdlock(&t->lock);
	for (struct pod_entry *e = t->b[bucket(uid)]; e; e = e->next) {
		if (!strcmp(e->p->uid, uid)) {
			c = pod_info_dup(e->p);
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return c;
}

size_t pod_table_count(struct pod_table *t)
{
	size_t n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->n;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

json_t *pod_info_json(const struct pod_info *p)
{
	json_t *labels = json_object();

	for (size_t i = 0; labels && i < p->n_labels; i++)
		json_object_set_new(labels, p->label_keys[i], json_string(p->label_values[i]));
	return json_pack("{s:s, s:s?, s:s?, s:s?, s:o?, s:s?}", "uid", p->uid,
			 "namespace", p->ns, "name", p->name,
			 "service_account", p->service_account, "labels", labels,
			 "source", p->source);
}

json_t *pod_table_json(struct pod_table *t)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < POD_BUCKETS; i++)
		for (struct pod_entry *e = t->b[i]; e; e = e->next)
			if (json_array_append_new(arr, pod_info_json(e->p))) {
				json_decref(arr);
				arr = NULL;
				goto out;
			}
out:
	pthread_rwlock_unlock(&t->lock);
	return arr;
}
