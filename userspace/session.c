// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "session.h"

struct session_worker {
	struct loop_handler h;		/* the mailbox's eventfd read */
	struct loop *loop;
	struct store *st;
	enum store_mode_cfg mode;
	int efd;
	uint64_t ebuf;
	struct session_rec *mail;	/* pushed by the recorder thread */
};

/* Recorder thread: hand the record back to its worker. */
static void rec_done(struct store_rec *r, int err)
{
	struct session_rec *sr = (struct session_rec *)r;
	struct session_worker *w = sr->owner->w;
	struct session_rec *head;
	uint64_t one = 1;

	/* the error travels in the record itself: len is no longer needed */
	sr->r.len = (size_t)(long)err;
	head = __atomic_load_n(&w->mail, __ATOMIC_RELAXED);
	do {
		sr->mail_next = head;
	} while (!__atomic_compare_exchange_n(&w->mail, &head, sr, 1,
					      __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	if (write(w->efd, &one, sizeof(one)) < 0)
		errno = 0;	/* counter saturated: a wake-up is pending anyway */
}

static void arm(struct session_worker *w)
{
	int err = loop_read(w->loop, &w->h, 0, w->efd, &w->ebuf, sizeof(w->ebuf));

	if (err)
		log_error("cannot arm the recorder mailbox", "{s:s}", "error",
			  strerror(-err));
}

/* Worker thread: everything the recorder has written since the last look. */
static void mailbox(struct loop_handler *h, unsigned op, int res, unsigned more)
{
	struct session_worker *w = (struct session_worker *)h;
	struct session_rec *list, *rev = NULL;

	(void)op;
	(void)res;
	(void)more;
	list = __atomic_exchange_n(&w->mail, NULL, __ATOMIC_ACQUIRE);
	while (list) {		/* restore the order they were written in */
		struct session_rec *next = list->mail_next;

		list->mail_next = rev;
		rev = list;
		list = next;
	}
	arm(w);
	while (rev) {
		struct session_rec *sr = rev;
		struct session *s = sr->owner;
		int err = (int)(long)sr->r.len;

		rev = rev->mail_next;
		s->inflight--;
		if (err && !s->failed) {
			s->failed = 1;
			log_error("recording failed: the session has a hole",
				  "{s:s}", "error", strerror(-err));
		}
		if (sr->owned) {
			free(sr->owned);
			free(sr);
			sr = NULL;
		}
		s->on_written(s, sr, err);
	}
}

struct session_worker *session_worker_new(struct loop *l, struct store *st,
					  enum store_mode_cfg mode)
{
	struct session_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->h.complete = mailbox;
	w->loop = l;
	w->st = mode == STORE_MODE_OFF ? NULL : st;
	w->mode = mode;
	w->efd = eventfd(0, EFD_CLOEXEC);
	if (w->efd < 0) {
		free(w);
		return NULL;
	}
	arm(w);
	return w;
}

void session_worker_free(struct session_worker *w)
{
	if (!w)
		return;
	close(w->efd);
	free(w);
}

/* Queue an event record that owns its text. */
static void submit_event(struct session *s, json_t *ev)
{
	struct session_rec *sr;
	char *text;

	if (!s->recording)
		return;
	json_object_set_new(ev, "time_ns", json_integer((json_int_t)clock_real_ns()));
	text = json_dumps(ev, JSON_COMPACT);
	sr = calloc(1, sizeof(*sr));
	if (!text || !sr) {
		free(text);
		free(sr);
		s->failed = 1;
		return;
	}
	sr->owner = s;
	sr->owned = text;
	sr->r.done = rec_done;
	store_rec_fill(&s->chain, &sr->r, STORE_REC_EVENT, 0, 0, clock_real_ns(),
		       text, strlen(text));
	if (store_submit(s->w->st, &sr->r)) {
		free(text);
		free(sr);
		s->failed = 1;
		return;
	}
	s->inflight++;
	s->records++;
}

int session_begin(struct session *s, struct session_worker *w, json_t *meta)
{
	json_t *ev;
	int err;

	s->w = w;
	if (!w->st)
		return 0;
	err = store_session_begin(w->st, &s->chain, meta);
	if (err) {
		log_error("cannot start a recording", "{s:s}", "error", strerror(-err));
		return err;
	}
	s->recording = 1;
	ev = json_deep_copy(meta);
	if (ev) {
		json_object_set_new(ev, "type", json_string("session_start"));
		submit_event(s, ev);
		json_decref(ev);
	}
	return 0;
}

int session_chunk(struct session *s, struct session_rec *r, int dir,
		  const void *p, size_t len)
{
	if (!s->recording)
		return 2;
	r->owner = s;
	r->owned = NULL;
	r->r.done = rec_done;
	/* record level "metadata": the chunk's place and time, not its bytes */
	store_rec_fill(&s->chain, &r->r, STORE_REC_CHUNK, dir,
		       s->metadata_only ? STORE_F_METADATA_ONLY : 0, clock_real_ns(), p,
		       s->metadata_only ? 0 : len);
	if (store_submit(s->w->st, &r->r)) {
		s->failed = 1;
		return 2;
	}
	s->inflight++;
	s->records++;
	return s->w->mode == STORE_MODE_ASYNC ? 0 : 1;
}

void session_event(struct session *s, json_t *ev)
{
	json_t *copy;

	if (!s->recording)
		return;
	copy = json_deep_copy(ev);
	if (copy)
		submit_event(s, copy);
	json_decref(copy);
}

void session_end(struct session *s, json_t *meta)
{
	json_t *ev;

	if (!s->recording)
		return;
	ev = json_deep_copy(meta);
	if (ev) {
		json_object_set_new(ev, "type", json_string("session_end"));
		submit_event(s, ev);
		json_decref(ev);
	}
	if (s->failed)
		json_object_set_new(meta, "recording", json_string("incomplete"));
	store_session_end(s->w->st, &s->chain, meta);
	s->recording = 0;
}

void session_id(const struct session *s, char out[33])
{
	if (!s->w || !s->w->st) {
		out[0] = '\0';
		return;
	}
	store_sid_format(s->chain.sid, out);
}

/* ------------------------------------------------------------ policy */

static struct {
	pthread_mutex_t lock;
	struct policy *p;
	int enabled;
} cur = { .lock = PTHREAD_MUTEX_INITIALIZER };

void session_policy_set(struct policy *p, int enabled)
{
	struct policy *old;

	pthread_mutex_lock(&cur.lock);
	old = cur.p;
	cur.p = p;
	cur.enabled = enabled;
	pthread_mutex_unlock(&cur.lock);
	policy_free(old);
}

struct policy *session_policy_get(int *enabled)
{
	struct policy *p;

	pthread_mutex_lock(&cur.lock);
	p = policy_ref(cur.p);
	*enabled = cur.enabled;
	pthread_mutex_unlock(&cur.lock);
	return p;
}

int session_policy_reload(const char *dir, char *msg, size_t len)
{
	struct policy *p;

	if (!dir) {
		snprintf(msg, len, "no policy_dir configured: every request is allowed");
		session_policy_set(NULL, 0);
		return 0;
	}
	p = policy_load_dir(dir, msg, len);
	if (!p) {
		int err = -errno;

		log_error("policy refused: the policy in force stays", "{s:s, s:s}", "dir", dir,
			  "error", msg);
		return err;
	}
	snprintf(msg, len, "%zu rules from %zu files, default %s", policy_rule_count(p),
		 policy_file_count(p), policy_action_name(policy_default_action(p)));
	log_info("policy loaded", "{s:s, s:i, s:i, s:s}", "dir", dir, "rules",
		 (int)policy_rule_count(p), "files", (int)policy_file_count(p), "default",
		 policy_action_name(policy_default_action(p)));
	session_policy_set(p, 1);
	return 0;
}

/* A review: granted, denied or (now) pending, by approval id. */
static void review(struct session *s, const struct policy_request *req, json_t *request,
		   struct session_decision *out)
{
	char key[512], sid[33];
	char *req_key = json_dumps(request, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *who = identity_json(s->id);
	int r = -ENOMEM;

	identity_key(s->id, key, sizeof(key));
	session_id(s, sid);
	if (req_key && who) {
		approval_id(key, req->target, req_key, out->approval);
		r = approval_request(s->w ? s->w->st : NULL, out->approval, req->target,
				     out->rule, who, request, sid, clock_real_ns());
	}
	free(req_key);
	json_decref(who);
	out->approval_state = r;
	if (r == APPROVAL_GRANTED)
		out->action = POLICY_ALLOW;
	else if (r == APPROVAL_DENIED || r < 0)
		out->action = POLICY_DENY;
	if (r < 0)
		log_error("approval not recorded: refusing", "{s:s, s:s}", "approval",
			  out->approval, "error", strerror(-r));
}

/* decisions made since start, by action (allow, review, deny) */
static uint64_t decided[3];

void session_decision_counts(uint64_t out[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = __atomic_load_n(&decided[i], __ATOMIC_RELAXED);
}

enum policy_action session_decide(struct session *s, const struct policy_request *req,
				  json_t *request, struct session_decision *out)
{
	int enabled;
	json_t *ev;

	memset(out, 0, sizeof(*out));
	out->pol = session_policy_get(&enabled);
	if (!enabled) {
		out->action = POLICY_ALLOW;
		out->rule = "(no policy)";
		return out->action;
	}
	policy_decide(out->pol, identity_policy(s->id), req, &out->d);
	out->action = out->d.action;
	out->rule = out->d.rule;
	if (out->action == POLICY_REVIEW)
		review(s, req, request, out);
	__atomic_add_fetch(&decided[out->action], 1, __ATOMIC_RELAXED);
	s->metadata_only = out->action != POLICY_DENY && out->d.record == POLICY_RECORD_METADATA;
	ev = policy_decision_json(&out->d, req);
	if (ev) {
		json_object_set_new(ev, "type", json_string("decision"));
		json_object_set_new(ev, "decision",
				    json_string(policy_action_name(out->action)));
		json_object_set(ev, "request", request);
		if (out->approval[0]) {
			json_object_set_new(ev, "approval", json_string(out->approval));
			json_object_set_new(ev, "approval_state",
					    json_string(out->approval_state < 0 ?
								"error" :
								approval_state_name(out->approval_state)));
		}
		session_event(s, ev);
		json_decref(ev);
	}
	return out->action;
}

void session_decision_release(struct session_decision *d)
{
	if (!d)
		return;
	policy_decision_release(&d->d);
	policy_free(d->pol);
	memset(d, 0, sizeof(*d));
}
