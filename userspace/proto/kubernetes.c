// SPDX-License-Identifier: BSD-2-Clause
/*
 * kind: kubernetes (DESIGN §2-§4): the agent's kubectl keeps its kubeconfig
 * and talks HTTP/1.1 over TLS to what it thinks is the API server. sluice
 * identifies it (a service-account or OIDC JWT in Authorization, verified
 * offline; or the client certificate conn.c's handshake verified), decides
 * every request with session_decide() on the attributes the API server's
 * authorizer would see (k8sreq.h), and sends an allowed request upstream
 * with its own credential and Impersonate-User/Group/Extra, so the cluster's
 * RBAC and audit log see the agent. A refused request is answered here
 * with a Status 403 naming the rule; it never reaches the API server.
 *
 * One request is in flight at a time per connection (HTTP/1.1 clients do
 * not pipeline; what a client sends meanwhile is held, up to K8S_MAX_HELD).
 * Bodies in both directions are forwarded as they arrive, framing and all,
 * so large bodies and watches stream; a 101 answer turns the connection
 * into a tunnel (exec, attach, port-forward), recorded by conn.c as bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "http.h"
#include "identity.h"
#include "jwt.h"
#include "k8sreq.h"
#include "log.h"
#include "policy.h"
#include "proto.h"
#include "session.h"

/* Client bytes held while a response is owed (the next request's). */
#define K8S_MAX_HELD		(1u << 20)
/* Upstream head bytes held (a response head is at most HTTP_MAX_HEAD). */
#define K8S_MAX_UHEAD		(HTTP_MAX_HEAD + 4096)
/* A held bearer token, and a presented one kept to skip re-verifying. */
#define K8S_MAX_TOKEN		16384
/* Builder room: a rewritten head plus the impersonation fields. */
#define K8S_OUT_HEAD		(HTTP_MAX_HEAD + 16384)
#define K8S_EVENT_URI		4096
#define K8S_EVENT_UA		512

enum kc_phase {
	KC_HEAD,	/* reading a request head */
	KC_BODY,	/* its body: forwarded, or dropped when refused */
	KC_WAIT,	/* the whole request is sent, its answer is owed */
	KC_TUNNEL,	/* after 101: bytes both ways */
};

enum ku_phase {
	KU_HEAD,
	KU_BODY,
	KU_TUNNEL,
};

struct kube {
	struct proto_ctx *ctx;
	const struct cfg_target *t;
	int closing;
	/* toward the agent */
	enum kc_phase cph;
	struct http_parser cp;
	struct http_head ch;
	struct proto_out cin;		/* request bytes not yet handled */
	int forward;			/* the current body goes upstream */
	int close_after;		/* the agent asked Connection: close */
	/* the request being answered */
	struct k8s_req *req;
	json_t *ev;			/* its event, sent once it is answered */
	uint64_t t0;
	int owed;			/* the API server owes its answer */
	int head_method;
	uint8_t *answer;		/* ours, sent once its body is read */
	size_t answer_len;
	int answer_code;
	/* toward the API server */
	enum ku_phase uph;
	struct http_parser up;
	struct http_head uh;
	struct proto_out uin;
	int connecting;			/* CONNECT requested */
	char *held_token;		/* credential.token_file, read per connection */
	/* the bearer token already verified on this connection */
	char *seen_token;
	uint8_t *tmp;			/* K8S_OUT_HEAD bytes for builders */
};

static const struct cfg_target *target_of(const struct proto_ctx *ctx)
{
	return &ctx->px->cfg->targets[ctx->target];
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int out(struct kube *k, enum proto_side side, const void *p, size_t n)
{
	return n ? proto_out_append(&k->ctx->out[side], p, n) : 0;
}

/* Drop n bytes from the front of b. */
static void consume(struct proto_out *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static int hold(struct proto_out *b, const uint8_t *p, size_t n, size_t max)
{
	if (b->len + n > max)
		return -EMSGSIZE;
	return proto_out_append(b, p, n);
}

static void event(struct kube *k, json_t *ev)
{
	if (ev) {
		session_event(k->ctx->sess, ev);
		json_decref(ev);
	}
}

/* A string of at most max bytes for an event (a longer one is cut). */
static json_t *text_json(const char *p, size_t n, size_t max)
{
	return json_stringn_nocheck(p, n < max ? n : max);
}

/* The value of the first field named name, or NULL (*len its length). */
static const char *field(const struct kube *k, const char *name, size_t *len)
{
	int i = http_field_find(&k->ch, k->cin.data, name, 0);

	if (i < 0)
		return NULL;
	*len = k->ch.fields[i].value.len;
	return http_at(k->cin.data, k->ch.fields[i].value);
}

/* The request's event is complete: status and duration, then recorded. */
static void request_done(struct kube *k, int status)
{
	if (!k->ev)
		return;
	json_object_set_new(k->ev, "status", json_integer(status));
	json_object_set_new(k->ev, "duration_us", json_integer((json_int_t)(now_us() - k->t0)));
	event(k, k->ev);
	k->ev = NULL;
}

/*
 * An answer of sluice's own to the current request (a Status object),
 * sent once the request's body has been read (and dropped). close: the
 * connection ends after it (the request cannot be framed, or must not go
 * on).
 */
static int answer(struct kube *k, int code, const char *reason, const char *msg, int close)
{
	size_t len;
	int r;

	r = http_k8s_status(code, reason, msg, close, k->tmp, K8S_OUT_HEAD, &len);
	if (r)
		return r;
	free(k->answer);
	k->answer = malloc(len);
	if (!k->answer)
		return -ENOMEM;
	memcpy(k->answer, k->tmp, len);
	k->answer_len = len;
	k->answer_code = code;
	k->forward = 0;
	if (close)
		k->close_after = 1;
	if (k->ev) {
		json_object_set_new(k->ev, "message", json_string(msg));
		json_object_set_new(k->ev, "answered_by", json_string("sluice"));
	}
	return 0;
}

/* Malformed: the error answered at once, and the connection ends. */
static int bad_request(struct kube *k, int status, const char *why)
{
	static const struct {
		int code;
		const char *reason;
	} reasons[] = {
		{ 400, "BadRequest" }, { 414, "RequestURITooLong" },
		{ 431, "RequestHeaderFieldsTooLarge" }, { 501, "NotImplemented" },
		{ 505, "HTTPVersionNotSupported" },
	};
	const char *reason = "BadRequest";
	char msg[200];
	size_t len;

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			reason = reasons[i].reason;
	if (!status)
		status = 400;
	snprintf(msg, sizeof(msg), "sluice: malformed request: %s", why);
	if (!k->ev)
		k->ev = json_pack("{s:s}", "type", "request");
	if (k->ev)
		json_object_set_new(k->ev, "message", json_string(msg));
	request_done(k, status);
	if (!http_k8s_status(status, reason, msg, true, k->tmp, K8S_OUT_HEAD, &len))
		out(k, PROTO_CLIENT, k->tmp, len);
	snprintf(k->ctx->why, sizeof(k->ctx->why), "%s", msg);
	k->closing = 1;
	k->ctx->req |= PROTO_REQ_CLOSE;
	return 0;
}

/* The held credential, read at each connection so it can be rotated. */
static int read_token(struct kube *k)
{
	char buf[K8S_MAX_TOKEN + 2];
	ssize_t n;
	int fd;

	if (!k->t->token_file || k->held_token)
		return 0;
	fd = open(k->t->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0 || n > K8S_MAX_TOKEN)
		return -EINVAL;
	buf[n] = '\0';
	k->held_token = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return k->held_token ? 0 : -ENOMEM;
}

/*
 * Who is asking: a bearer token verified (once per connection and token),
 * else the certificate conn.c verified, else the kernel identity when the
 * target accepts it. Returns 0, or 1 with *why set when refused.
 */
static int authenticate(struct kube *k, const char **why, char *buf, size_t blen)
{
	struct identity *id = k->ctx->id;
	const struct cfg_target *t = k->t;
	struct jwt_identity u = { 0 };
	const char *auth, *tok;
	size_t alen, tlen;
	char vwhy[160];

	auth = field(k, "Authorization", &alen);
	if (!auth) {
		if (id->user.source == JWT_SRC_CERT || (t->client_auth & CLIENT_AUTH_KERNEL))
			return 0;
		*why = "sluice: no credential presented (a bearer token or a client certificate)";
		return 1;
	}
	if (alen < 8 || strncasecmp(auth, "Bearer ", 7)) {
		*why = "sluice: only bearer tokens are accepted in Authorization";
		return 1;
	}
	tok = auth + 7;
	tlen = alen - 7;
	while (tlen && *tok == ' ') {
		tok++;
		tlen--;
	}
	if (!(t->client_auth & CLIENT_AUTH_JWT) || !k->ctx->px->jwt) {
		*why = "sluice: this target takes no bearer tokens";
		return 1;
	}
	if (tlen > K8S_MAX_TOKEN) {
		*why = "sluice: bearer token too long";
		return 1;
	}
	if (k->seen_token && strlen(k->seen_token) == tlen && !memcmp(k->seen_token, tok, tlen) &&
	    id->user.source == JWT_SRC_TOKEN && id->user.expires > (uint64_t)time(NULL))
		return 0;
	free(k->seen_token);
	k->seen_token = NULL;
	if (jwt_verify(k->ctx->px->jwt, tok, tlen, (uint64_t)time(NULL), &u, vwhy,
		       sizeof(vwhy))) {
		jwt_identity_clear(&u);
		snprintf(buf, blen, "sluice: token refused: %s", vwhy);
		*why = buf;
		return 1;
	}
	identity_set_user(id, &u);
	k->seen_token = strndup(tok, tlen);
	if (!k->seen_token)
		return -ENOMEM;
	event(k, json_pack("{s:s, s:o}", "type", "identity", "user", identity_user_json(id)));
	return 0;
}

/* The request attributes as the recording and approvals show them. */
static json_t *request_json(const struct k8s_req *r)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "k8s", "verb",
			 r->verb, "group", r->group, "version", r->version, "resource",
			 r->resource, "subresource", r->subresource, "namespace", r->ns, "name",
			 r->name);
}

/*
 * Policy for the request (session_decide). Returns 1 when allowed, 0 when
 * the answer (403) is set.
 */
static int decide(struct kube *k)
{
	struct policy_request preq = { .target = k->t->name, .kind = POLICY_REQ_K8S };
	struct session_decision d;
	char msg[400];
	json_t *request;
	int allowed = 0, r = 0;

	k8s_req_policy(k->req, &preq.k8s);
	request = request_json(k->req);
	if (!request)
		return -ENOMEM;
	session_decide(k->ctx->sess, &preq, request, &d);
	json_decref(request);
	json_object_set_new(k->ev, "decision", json_string(policy_action_name(d.action)));
	json_object_set_new(k->ev, "rule", json_string(d.rule ? d.rule : ""));
	if (d.approval[0])
		json_object_set_new(k->ev, "approval", json_string(d.approval));
	switch (d.action) {
	case POLICY_ALLOW:
		allowed = 1;
		break;
	case POLICY_REVIEW:
		snprintf(msg, sizeof(msg),
			 "sluice: approval %s pending (rule \"%s\"): run sluice approval grant %s",
			 d.approval, d.rule, d.approval);
		r = answer(k, 403, "Forbidden", msg, 0);
		break;
	case POLICY_DENY:
		if (d.approval[0])
			snprintf(msg, sizeof(msg),
				 "sluice: approval %s %s (rule \"%s\")", d.approval,
				 d.approval_state < 0 ? "not recorded" : "denied", d.rule);
		else
			snprintf(msg, sizeof(msg), "sluice: %s denied by sluice policy rule \"%s\"",
				 k->req->verb, d.rule ? d.rule : "");
		r = answer(k, 403, "Forbidden", msg, 0);
		break;
	}
	session_decision_release(&d);
	return r ? r : allowed;
}

/* The allowed request's head, sent upstream as sluice plus impersonation. */
static int send_head(struct kube *k)
{
	struct identity *id = k->ctx->id;
	const char *groups[64];
	char user[96], sid[33];
	struct http_extra extra[1];
	struct http_rewrite rw = { 0 };
	size_t len;
	int r;

	session_id(k->ctx->sess, sid);
	extra[0] = (struct http_extra){ .key = "sluice-session", .value = sid };
	if (id->user.source != JWT_SRC_NONE && id->user.user) {
		rw.user = id->user.user;
		for (size_t i = 0; i < id->user.n_groups && rw.n_groups < 64; i++) {
			/* the API server adds this one to every impersonated user */
			if (!strcmp(id->user.groups[i], "system:authenticated"))
				continue;
			groups[rw.n_groups++] = id->user.groups[i];
		}
	} else {
		/* kernel identity only: a user RBAC can bind, never sluice's own */
		static const char *const kernel_group = "sluice:kernel";

		snprintf(user, sizeof(user), "sluice:uid:%u", (unsigned)id->uid);
		rw.user = user;
		groups[rw.n_groups++] = kernel_group;
	}
	rw.groups = groups;
	rw.extra = extra;
	rw.n_extra = sid[0] ? 1 : 0;
	rw.bearer = k->held_token;
	json_object_set_new(k->ev, "impersonated", json_string(rw.user));
	r = http_rewrite_request(&k->ch, k->cin.data, &rw, k->tmp, K8S_OUT_HEAD, &len);
	if (r)
		return r;
	r = out(k, PROTO_UPSTREAM, k->tmp, len);
	explicit_bzero(k->tmp, len);
	if (r)
		return r;
	if (!k->connecting) {
		k->connecting = 1;
		k->ctx->req |= PROTO_REQ_CONNECT | PROTO_REQ_TLS_UPSTREAM;
	}
	return 0;
}

/* A whole request head is in k->ch: identify, decide, pass on or answer. */
static int start_request(struct kube *k)
{
	const uint8_t *b = k->cin.data;
	const char *ua, *why = NULL;
	char whybuf[240];
	size_t ualen = 0;
	int r;

	k->t0 = now_us();
	k->forward = 0;
	free(k->answer);
	k->answer = NULL;
	k->answer_len = 0;
	k->head_method = http_span_ieq(b, k->ch.method, "HEAD");
	if (k->ch.flags & HTTP_H_CLOSE)
		k->close_after = 1;
	k->ev = json_pack("{s:s, s:o, s:o}", "type", "request", "method",
			  text_json(http_at(b, k->ch.method), k->ch.method.len, 32), "uri",
			  text_json(http_at(b, k->ch.target), k->ch.target.len, K8S_EVENT_URI));
	if (!k->ev)
		return -ENOMEM;
	ua = field(k, "User-Agent", &ualen);
	if (ua)
		json_object_set_new(k->ev, "user_agent", text_json(ua, ualen, K8S_EVENT_UA));
	r = k8s_req_parse(k->req, http_at(b, k->ch.method), k->ch.method.len,
			  http_at(b, k->ch.target), k->ch.target.len);
	if (r)
		return bad_request(k, r == -ENAMETOOLONG ? 414 : 400,
				   r == -ENAMETOOLONG ? "request target too long" :
				   "request target the proxy cannot read unambiguously");
	json_object_set_new(k->ev, "verb", json_string(k->req->verb));
	json_object_set_new(k->ev, "group", json_string(k->req->group));
	json_object_set_new(k->ev, "version", json_string(k->req->version));
	json_object_set_new(k->ev, "resource", json_string(k->req->resource));
	json_object_set_new(k->ev, "subresource", json_string(k->req->subresource));
	json_object_set_new(k->ev, "namespace", json_string(k->req->ns));
	json_object_set_new(k->ev, "name", json_string(k->req->name));
	if (!k->req->resource_request)
		json_object_set_new(k->ev, "path", json_string(k->req->path));
	json_object_set_new(k->ev, "impersonated", json_null());

	r = authenticate(k, &why, whybuf, sizeof(whybuf));
	if (r < 0)
		return r;
	if (r) {
		json_object_set_new(k->ev, "decision", json_string("deny"));
		json_object_set_new(k->ev, "rule", json_string("(authentication)"));
		return answer(k, 401, "Unauthorized", why, 0);
	}
	if (http_field_find(&k->ch, b, "Impersonate-User", 0) >= 0 ||
	    http_field_find(&k->ch, b, "Impersonate-Group", 0) >= 0 ||
	    http_field_find(&k->ch, b, "Impersonate-Uid", 0) >= 0) {
		/* sluice impersonates the agent; the agent impersonating someone
		 * else would be sluice's privilege, not its own */
		json_object_set_new(k->ev, "decision", json_string("deny"));
		json_object_set_new(k->ev, "rule", json_string("(impersonation)"));
		return answer(k, 403, "Forbidden",
			      "sluice: impersonation by the agent is not passed on", 0);
	}
	r = decide(k);
	if (r <= 0)
		return r;
	r = send_head(k);
	if (r == -EINVAL)
		return answer(k, 400, "BadRequest",
			      "sluice: the identity cannot be carried in a header", 0);
	if (r)
		return r;
	k->forward = 1;
	k->owed = 1;
	http_parser_init(&k->up, HTTP_RESPONSE, k->head_method ? HTTP_P_HEAD_REQUEST : 0);
	k->uph = KU_HEAD;
	return 0;
}

/* The request's body has been read: our answer goes now, or we wait. */
static int request_sent(struct kube *k)
{
	int r = 0;

	if (!k->forward) {
		r = out(k, PROTO_CLIENT, k->answer, k->answer_len);
		request_done(k, k->answer_code);
		free(k->answer);
		k->answer = NULL;
		k->answer_len = 0;
		if (k->close_after) {
			k->closing = 1;
			k->ctx->req |= PROTO_REQ_CLOSE;
		}
		k->cph = KC_HEAD;
		return r;
	}
	k->cph = k->owed ? KC_WAIT : KC_HEAD;
	return 0;
}

/* Requests from what the agent sent, as far as they go. */
static int client_run(struct kube *k)
{
	struct http_span sp;
	size_t used;
	int r;

	while (!k->closing) {
		switch (k->cph) {
		case KC_HEAD:
			if (!k->cin.len)
				return 0;
			r = http_parse_head(&k->cp, k->cin.data, k->cin.len, &k->ch);
			if (r == -EAGAIN)
				return 0;
			if (r)
				return bad_request(k, k->cp.status, k->cp.why);
			r = start_request(k);
			if (r || k->closing)
				return r;
			consume(&k->cin, k->ch.size);
			if (k->ch.flags & HTTP_H_UPGRADE) {
				/* after the 101 the bytes are the stream's, not HTTP */
				k->cph = k->forward ? KC_WAIT : KC_HEAD;
				if (!k->forward)
					return request_sent(k);
				break;
			}
			k->cph = KC_BODY;
			if (k->ch.body == HTTP_BODY_NONE && (r = request_sent(k)))
				return r;
			break;
		case KC_BODY:
			if (!k->cin.len)
				return 0;
			r = http_body(&k->cp, k->cin.data, k->cin.len, &used, &sp);
			if (r < 0)
				return bad_request(k, k->cp.status, k->cp.why);
			if (k->forward && out(k, PROTO_UPSTREAM, k->cin.data, used))
				return -ENOMEM;
			consume(&k->cin, used);
			if (r == 1) {
				http_parser_init(&k->cp, HTTP_REQUEST, 0);
				if ((r = request_sent(k)))
					return r;
			}
			break;
		case KC_WAIT:
			return 0;
		case KC_TUNNEL:
			r = out(k, PROTO_UPSTREAM, k->cin.data, k->cin.len);
			k->cin.len = 0;
			return r;
		}
	}
	return 0;
}

static int client_input(struct kube *k, const uint8_t *p, size_t len)
{
	if (k->cph == KC_TUNNEL)
		return out(k, PROTO_UPSTREAM, p, len);
	if (k->cph == KC_BODY && k->forward && !k->cin.len) {
		/* a large body: what frames it is read in place */
		struct http_span sp;
		size_t used, off = 0;
		int r;

		while (off < len) {
			r = http_body(&k->cp, p + off, len - off, &used, &sp);
			if (r < 0)
				return bad_request(k, k->cp.status, k->cp.why);
			if (out(k, PROTO_UPSTREAM, p + off, used))
				return -ENOMEM;
			off += used;
			if (r == 1) {
				http_parser_init(&k->cp, HTTP_REQUEST, 0);
				if ((r = request_sent(k)))
					return r;
				break;
			}
		}
		p += off;
		len -= off;
		if (!len)
			return 0;
	}
	if (hold(&k->cin, p, len, K8S_MAX_HELD))
		return bad_request(k, 400, "more sent ahead of an answer than the proxy holds");
	return client_run(k);
}

/* The API server's answer has ended: the next request may go. */
static int response_done(struct kube *k)
{
	int close = k->uh.flags & HTTP_H_CLOSE;

	k->owed = 0;
	request_done(k, k->uh.status);
	if (close || k->close_after) {
		k->closing = 1;
		k->ctx->req |= PROTO_REQ_CLOSE;
		return 0;
	}
	k->uph = KU_HEAD;
	if (k->cph == KC_WAIT) {
		k->cph = KC_HEAD;
		return client_run(k);
	}
	return 0;
}

static int server_fail(struct kube *k, const char *why)
{
	char msg[200];
	size_t len;

	snprintf(msg, sizeof(msg), "sluice: malformed answer from the API server: %s", why);
	/* the agent learns it only when no part of the answer went out yet */
	if (k->owed && k->uph == KU_HEAD &&
	    !http_k8s_status(502, "BadGateway", msg, true, k->tmp, K8S_OUT_HEAD, &len))
		out(k, PROTO_CLIENT, k->tmp, len);
	request_done(k, 502);
	snprintf(k->ctx->why, sizeof(k->ctx->why), "%s", msg);
	k->closing = 1;
	k->ctx->req |= PROTO_REQ_CLOSE;
	return 0;
}

static int server_input(struct kube *k, const uint8_t *p, size_t len)
{
	struct http_span sp;
	size_t used;
	int r;

	if (k->uph == KU_TUNNEL)
		return out(k, PROTO_CLIENT, p, len);
	while (len && !k->closing) {
		if (!k->owed)
			return server_fail(k, "bytes with no request outstanding");
		if (k->uph == KU_BODY) {
			r = http_body(&k->up, p, len, &used, &sp);
			if (r < 0)
				return server_fail(k, k->up.why);
			if (out(k, PROTO_CLIENT, p, used))
				return -ENOMEM;
			p += used;
			len -= used;
			if (r == 1 && (r = response_done(k)))
				return r;
			continue;
		}
		/* a head: held until whole */
		if (hold(&k->uin, p, len, K8S_MAX_UHEAD))
			return server_fail(k, "response head too long");
		p += len;
		len = 0;
		r = http_parse_head(&k->up, k->uin.data, k->uin.len, &k->uh);
		if (r == -EAGAIN)
			return 0;
		if (r)
			return server_fail(k, k->up.why);
		if (out(k, PROTO_CLIENT, k->uin.data, k->uh.size))
			return -ENOMEM;
		/* what follows the head is handled as fresh input */
		{
			size_t rest = k->uin.len - k->uh.size;
			uint8_t *tail = NULL;

			if (rest) {
				tail = malloc(rest);
				if (!tail)
					return -ENOMEM;
				memcpy(tail, k->uin.data + k->uh.size, rest);
			}
			k->uin.len = 0;
			if (k->uh.flags & HTTP_H_INTERIM) {
				http_parser_init(&k->up, HTTP_RESPONSE,
						 k->head_method ? HTTP_P_HEAD_REQUEST : 0);
			} else if (k->uh.status == 101) {
				request_done(k, 101);
				k->uph = KU_TUNNEL;
				k->cph = KC_TUNNEL;
				r = out(k, PROTO_CLIENT, tail, rest);
				if (!r && k->cin.len) {
					r = out(k, PROTO_UPSTREAM, k->cin.data, k->cin.len);
					k->cin.len = 0;
				}
				free(tail);
				return r;
			} else if (k->uh.body == HTTP_BODY_NONE) {
				r = response_done(k);
				if (r) {
					free(tail);
					return r;
				}
			} else {
				k->uph = KU_BODY;
			}
			r = rest ? server_input(k, tail, rest) : 0;
			free(tail);
			return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ the ops */

static void *k8s_open(struct proto_ctx *ctx)
{
	struct kube *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ctx = ctx;
	k->t = target_of(ctx);
	k->req = malloc(sizeof(*k->req));
	k->tmp = malloc(K8S_OUT_HEAD);
	if (!k->req || !k->tmp) {
		free(k->req);
		free(k->tmp);
		free(k);
		return NULL;
	}
	http_parser_init(&k->cp, HTTP_REQUEST, 0);
	/* the agent speaks TLS from its first byte */
	ctx->req |= PROTO_REQ_TLS_CLIENT;
	return k;
}

static int k8s_connected(void *st)
{
	struct kube *k = st;
	int r = read_token(k);

	if (r) {
		snprintf(k->ctx->why, sizeof(k->ctx->why), "credential.token_file: %s",
			 strerror(-r));
		return r;
	}
	return 0;
}

static int k8s_input(void *st, enum proto_side side, const uint8_t *p, size_t len)
{
	struct kube *k = st;
	int r;

	if (k->closing)
		return 0;
	if (!p) {
		if (side == PROTO_UPSTREAM && k->owed && k->uph == KU_BODY &&
		    k->uh.body == HTTP_BODY_CLOSE) {
			request_done(k, k->uh.status);	/* delimited by the close */
		} else if (side == PROTO_CLIENT && k->owed && k->uph == KU_BODY &&
			   k->cph == KC_WAIT) {
			/* a client leaving a streamed answer (a watch, logs -f)
			 * ends it: the normal way a watch stops */
			if (k->ev)
				json_object_set_new(k->ev, "ended_by", json_string("client"));
			request_done(k, k->uh.status);
		} else if (k->owed || k->cph == KC_BODY ||
			   (k->cph == KC_HEAD && k->cin.len)) {
			if (k->ev)
				json_object_set_new(k->ev, "ended_by",
						    json_string(side == PROTO_CLIENT ? "client" : "upstream"));
			request_done(k, k->owed && k->uph == KU_BODY ? k->uh.status : 0);
			snprintf(k->ctx->why, sizeof(k->ctx->why), "the %s closed inside a message",
				 side == PROTO_CLIENT ? "client" : "API server");
		}
		return 0;
	}
	if (!len)
		return 0;
	r = side == PROTO_CLIENT ? client_input(k, p, len) : server_input(k, p, len);
	if (r && !k->ctx->why[0])
		snprintf(k->ctx->why, sizeof(k->ctx->why), "%s", strerror(-r));
	return r;
}

static int k8s_secret(void *st, enum proto_side side)
{
	(void)st;
	(void)side;
	/* a bearer token rides in every request head: the bytes toward the
	 * API server never carry the agent's (it is removed), but the
	 * client's do; kept, like the head, for the recording's integrity
	 * only at the policy's record level */
	return 0;
}

static void k8s_close(void *st)
{
	struct kube *k = st;

	if (!k)
		return;
	json_decref(k->ev);
	free(k->cin.data);
	free(k->uin.data);
	free(k->answer);
	if (k->held_token) {
		explicit_bzero(k->held_token, strlen(k->held_token));
		free(k->held_token);
	}
	free(k->seen_token);
	free(k->req);
	free(k->tmp);
	free(k);
}

const struct proto_ops k8s_proto_ops = {
	.name = "kubernetes",
	.open = k8s_open,
	.input = k8s_input,
	.connected = k8s_connected,
	.secret = k8s_secret,
	.close = k8s_close,
};
