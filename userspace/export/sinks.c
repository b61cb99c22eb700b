// SPDX-License-Identifier: BSD-2-Clause
/*
 * The three sink types (sinks.h). Everything here runs on the exporter's
 * thread with blocking calls bounded by the sink's timeout_ms.
 *
 * - file: one JSON object (or CEF line) per line, appended with write(2);
 *   past max_bytes the file is fsynced, renamed to <path>.1 (older ones
 *   shift to .2 ... .<keep>, the oldest dropped) and a new one begun.
 * - syslog: RFC 5424 messages, "<PRI>1 TIMESTAMP HOST sluice PID MSGID
 *   [sluice@32473 session=.. seq=..] MSG", facility 13 (log audit),
 *   severity informational, each framed "LEN SP MSG" (RFC 6587 octet
 *   counting), over TCP or, with tls.ca, TLS 1.2+ verified against that CA
 *   (RFC 5425). Syslog has no application acknowledgement: a batch counts
 *   as delivered once the kernel says the peer acknowledged every byte
 *   (SIOCOUTQ reaches 0), which is as far as TCP can tell.
 *   32473 is the private enterprise number RFC 5612 sets aside for
 *   documentation; sluice has none of its own.
 * - hec: Splunk HTTP Event Collector through libcurl: one POST of the
 *   batch as concatenated {"time","host","source","sourcetype","event"}
 *   objects, "Authorization: Splunk <token>"; HTTP 200 is delivered,
 *   anything else (or no answer within timeout_ms) is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "formats.h"
#include "log.h"
#include "sinks.h"

#define TOKEN_MAX	4096
#define HOST_MAX	256
#define SD_ID		"sluice@32473"
#define SYSLOG_PRI	(13 * 8 + 6)	/* log audit, informational */
#define HEC_PATH	"/services/collector/event"
#define HEC_ANSWER_MAX	4096
#define OUTQ_POLL_US	2000

struct sink {
	const struct cfg_export *cfg;
	char host[HOST_MAX];
	char *token;			/* hec */
	/* file */
	int fd;
	uint64_t size;
	/* syslog */
	int sock;
	SSL_CTX *ctx;
	SSL *ssl;
	/* hec */
	CURL *curl;
	struct curl_slist *headers;
	char *url;
};

static int buf_printf(struct fmt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int buf_printf(struct fmt_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -EOVERFLOW;
	return fmt_buf_add(b, tmp, (size_t)n);
}

const char *sink_type_name(enum export_type t)
{
	switch (t) {
	case EXPORT_FILE:
		return "file";
	case EXPORT_SYSLOG:
		return "syslog";
	case EXPORT_HEC:
		return "hec";
	}
	return "?";
}

/* A token file: its first line, at most TOKEN_MAX bytes. */
static char *read_token(const char *path, char *err, size_t errlen)
{
	char *buf = malloc(TOKEN_MAX + 1);
	ssize_t n = -1;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, TOKEN_MAX);
		close(fd);
	}
	if (n <= 0) {
		snprintf(err, errlen, "%s: %s", path,
			 n == 0 ? "empty" : strerror(errno));
		free(buf);
		errno = n == 0 ? EINVAL : errno;
		return NULL;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* ---- file ------------------------------------------------------------- */

static int file_open(struct sink *s, char *err, size_t errlen)
{
	struct stat st;

	s->fd = open(s->cfg->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0 || fstat(s->fd, &st)) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", s->cfg->path, strerror(e));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return -e;
	}
	s->size = (uint64_t)st.st_size;
	return 0;
}

/* path.(keep-1) -> path.keep, ..., path -> path.1; the new file is empty. */
static int file_rotate(struct sink *s, char *err, size_t errlen)
{
	char from[PATH_MAX], to[PATH_MAX];
	const char *p = s->cfg->path;

	if (fsync(s->fd)) {
		snprintf(err, errlen, "fsync %s: %s", p, strerror(errno));
		return -errno;
	}
	close(s->fd);
	s->fd = -1;
	for (unsigned i = s->cfg->keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", p);
		else
			snprintf(from, sizeof(from), "%s.%u", p, i - 1);
		snprintf(to, sizeof(to), "%s.%u", p, i);
		if (rename(from, to) && errno != ENOENT) {
			snprintf(err, errlen, "rotate %s: %s", from, strerror(errno));
			return -errno;
		}
	}
	if (!s->cfg->keep)
		unlink(p);
	return file_open(s, err, errlen);
}

static int file_deliver(struct sink *s, const struct sink_item *items, size_t n,
			char *err, size_t errlen)
{
	int ret = 0;

	if (s->fd < 0 && (ret = file_open(s, err, errlen)))
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct iovec iov[2] = {
			{ (void *)items[i].text, items[i].len }, { "\n", 1 },
		};
		size_t want = items[i].len + 1, done = 0;

		if (s->size && s->size + want > s->cfg->max_bytes &&
		    (ret = file_rotate(s, err, errlen)))
			return ret;
		while (done < want) {
			ssize_t w = writev(s->fd, iov, 2);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				ret = -errno;
				snprintf(err, errlen, "write %s: %s", s->cfg->path,
					 strerror(errno));
				close(s->fd);
				s->fd = -1;	/* reopen; a torn line is possible */
				return ret;
			}
			done += (size_t)w;
			for (int k = 0; k < 2 && w > 0; k++) {
				size_t t = (size_t)w < iov[k].iov_len ? (size_t)w : iov[k].iov_len;

				iov[k].iov_base = (char *)iov[k].iov_base + t;
				iov[k].iov_len -= t;
				w -= (ssize_t)t;
			}
		}
		s->size += want;
	}
	return 0;
}

/* ---- syslog ----------------------------------------------------------- */

static void syslog_drop(struct sink *s)
{
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->sock >= 0) {
		close(s->sock);
		s->sock = -1;
	}
}

static int tls_errmsg(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "connection closed");
	ERR_clear_error();
	return -EPROTO;
}

/* host and port of "host:port" / "[v6]:port". */
static int split_hostport(const char *a, char *host, size_t hl, char *port, size_t pl)
{
	const char *c;
	size_t n;

	if (a[0] == '[') {
		const char *e = strchr(a, ']');

		if (!e || e[1] != ':')
			return -EINVAL;
		n = (size_t)(e - a - 1);
		a++;
		c = e + 1;
	} else {
		c = strrchr(a, ':');
		if (!c)
			return -EINVAL;
		n = (size_t)(c - a);
	}
	if (n >= hl || strlen(c + 1) >= pl || !c[1])
		return -EINVAL;
	memcpy(host, a, n);
	host[n] = '\0';
	strcpy(port, c + 1);
	return 0;
}

static int tcp_connect(const char *host, const char *port, unsigned ms,
		       char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	int fd = -1, e = ECONNREFUSED, rc, one = 1;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "%s:%s: %s", host, port, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		socklen_t sl = sizeof(e);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			e = errno;
		} else {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			rc = poll(&p, 1, (int)ms);
			if (rc <= 0)
				e = rc ? errno : ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl))
				e = errno;
		}
		if (!e)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect %s:%s: %s", host, port, strerror(e));
		return -e;
	}
	/* blocking from here, every call bounded */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int syslog_connect(struct sink *s, char *err, size_t errlen)
{
	const struct cfg_export *c = s->cfg;
	char host[HOST_MAX], port[16];
	unsigned char ip[16];
	const char *name;
	int fd;

	if (split_hostport(c->address, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "bad address %s", c->address);
		return -EINVAL;
	}
	fd = tcp_connect(host, port, c->timeout_ms, err, errlen);
	if (fd < 0)
		return fd;
	s->sock = fd;
	if (!s->ctx)
		return 0;
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || !SSL_set_fd(s->ssl, fd))
		return tls_errmsg(err, errlen, "TLS setup");
	name = c->tls_name ? c->tls_name : host;
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name);
	} else {
		SSL_set_tlsext_host_name(s->ssl, name);
		SSL_set1_host(s->ssl, name);
	}
	if (SSL_connect(s->ssl) != 1) {
		long v = SSL_get_verify_result(s->ssl);

		if (v != X509_V_OK) {
			snprintf(err, errlen, "TLS to %s: certificate: %s",
				 c->address, X509_verify_cert_error_string(v));
			ERR_clear_error();
			return -EPROTO;
		}
		return tls_errmsg(err, errlen, "TLS handshake");
	}
	return 0;
}

/* The peer has closed or reset: a write would go nowhere (or die later). */
static bool peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* RFC 5424 PARAM-VALUE: '"', '\' and ']' escaped with '\'. */
static int sd_value(struct fmt_buf *b, const char *v)
{
	int err = 0;

	for (; *v && !err; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			err = fmt_buf_add(b, "\\", 1);
		if (!err)
			err = fmt_buf_add(b, v, 1);
	}
	return err;
}

/* One framed message appended to b. */
static int syslog_frame(struct sink *s, struct fmt_buf *b, const struct sink_item *it)
{
	struct fmt_buf m = { 0 };
	char ts[FMT_TIME_LEN], msgid[33];
	size_t k = 0;
	int err;

	fmt_time(it->time_ns, ts);
	/* MSGID: 1-32 printable US-ASCII characters */
	for (const char *p = it->type ? it->type : ""; *p && k < 32; p++)
		if (*p >= 33 && *p <= 126)
			msgid[k++] = *p;
	if (!k)
		msgid[k++] = '-';
	msgid[k] = '\0';
	err = buf_printf(&m, "<%d>1 %s %s sluice %d %s [" SD_ID " session=\"",
			 SYSLOG_PRI, ts, s->host, (int)getpid(), msgid) ?:
	      sd_value(&m, it->sid ? it->sid : "");
	if (!err && !it->is_seal)
		err = buf_printf(&m, "\" seq=\"%llu", (unsigned long long)it->seq);
	err = err ?: buf_printf(&m, "\" format=\"%s\"] ", s->cfg->format) ?:
	      fmt_buf_add(&m, it->text, it->len) ?:
	      buf_printf(b, "%zu ", m.len) ?: fmt_buf_add(b, m.p, m.len);
	free(m.p);
	return err;
}

static int send_all(struct sink *s, const char *p, size_t n, char *err,
		    size_t errlen)
{
	while (n) {
		int w;

		if (s->ssl) {
			w = SSL_write(s->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
			if (w <= 0)
				return tls_errmsg(err, errlen, "TLS write");
		} else {
			w = (int)send(s->sock, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				snprintf(err, errlen, "send: %s", strerror(errno));
				return -errno;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Wait until the peer has acknowledged every byte we sent. */
static int wait_acked(struct sink *s, char *err, size_t errlen)
{
	uint64_t end = clock_mono_ns() + (uint64_t)s->cfg->timeout_ms * 1000000ull;
	int outq = 0;

	for (;;) {
		if (ioctl(s->sock, SIOCOUTQ, &outq)) {
			snprintf(err, errlen, "SIOCOUTQ: %s", strerror(errno));
			return -errno;
		}
		if (!outq)
			return 0;
		if (peer_gone(s->sock)) {
			snprintf(err, errlen, "peer closed with %d bytes unacknowledged",
				 outq);
			return -ECONNRESET;
		}
		if (clock_mono_ns() > end) {
			snprintf(err, errlen, "peer acknowledged nothing for %u ms "
				 "(%d bytes waiting)", s->cfg->timeout_ms, outq);
			return -ETIMEDOUT;
		}
		usleep(OUTQ_POLL_US);
	}
}

static int syslog_deliver(struct sink *s, const struct sink_item *items,
			  size_t n, char *err, size_t errlen)
{
	struct fmt_buf b = { 0 };
	int ret = 0;

	if (s->sock >= 0 && peer_gone(s->sock))
		syslog_drop(s);
	if (s->sock < 0 && (ret = syslog_connect(s, err, errlen)))
		goto out;
	for (size_t i = 0; i < n && !ret; i++)
		ret = syslog_frame(s, &b, &items[i]);
	if (ret) {
		snprintf(err, errlen, "framing: %s", strerror(-ret));
		goto out;
	}
	ret = send_all(s, b.p, b.len, err, errlen);
	if (!ret)
		ret = wait_acked(s, err, errlen);
out:
	if (ret)
		syslog_drop(s);
	free(b.p);
	return ret;
}

static int syslog_init(struct sink *s, char *err, size_t errlen)
{
	if (!s->cfg->tls_ca)
		return 0;
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->ctx ||
	    !SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) ||
	    SSL_CTX_load_verify_locations(s->ctx, s->cfg->tls_ca, NULL) != 1)
		return tls_errmsg(err, errlen, s->cfg->tls_ca);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

/* ---- hec -------------------------------------------------------------- */

struct answer {
	char buf[HEC_ANSWER_MAX + 1];
	size_t len;
};

static size_t hec_answer(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct answer *a = ctx;
	size_t n = size * nmemb, room = HEC_ANSWER_MAX - a->len;

	/* keep the start, discard the rest: a reason fits in 4 KiB */
	memcpy(a->buf + a->len, p, n < room ? n : room);
	a->len += n < room ? n : room;
	a->buf[a->len] = '\0';
	return n;
}

static int hec_init(struct sink *s, char *err, size_t errlen)
{
	const struct cfg_export *c = s->cfg;
	struct fmt_buf auth = { 0 };
	size_t al = strlen(c->address);

	if (c->token_file) {
		s->token = read_token(c->token_file, err, errlen);
		if (!s->token)
			return -errno;
	} else {
		s->token = strdup(c->token ? c->token : "");
	}
	s->url = malloc(al + sizeof(HEC_PATH));
	if (!s->token || !s->url)
		return -ENOMEM;
	/* a bare origin gets the event endpoint; a path is taken as given */
	memcpy(s->url, c->address, al + 1);
	{
		const char *p = strstr(c->address, "://");

		if (!p || !strchr(p + 3, '/'))
			strcat(s->url, HEC_PATH);
	}
	s->curl = curl_easy_init();
	if (!s->curl || buf_printf(&auth, "Authorization: Splunk ") ||
	    fmt_buf_add(&auth, s->token, strlen(s->token))) {
		free(auth.p);
		return -ENOMEM;
	}
	s->headers = curl_slist_append(NULL, auth.p);
	free(auth.p);
	if (s->headers)
		s->headers = curl_slist_append(s->headers,
					       "Content-Type: application/json");
	if (!s->headers)
		return -ENOMEM;
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, hec_answer);
	if (c->tls_ca)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, c->tls_ca);
	return 0;
}

static int hec_deliver(struct sink *s, const struct sink_item *items, size_t n,
		       char *err, size_t errlen)
{
	char curl_err[CURL_ERROR_SIZE] = "", sourcetype[64];
	struct answer *a = calloc(1, sizeof(*a));
	struct fmt_buf b = { 0 };
	long code = 0;
	CURLcode rc;
	int ret = 0;

	if (!a)
		return -ENOMEM;
	snprintf(sourcetype, sizeof(sourcetype), "sluice:%s", s->cfg->format);
	for (size_t i = 0; i < n && !ret; i++) {
		json_t *e = json_pack("{s:f, s:s, s:s, s:s, s:O}", "time",
				      (double)(items[i].time_ns / 1000000) / 1000.0,
				      "host", s->host, "source", "sluice",
				      "sourcetype", sourcetype, "event", items[i].v);
		char *t = e ? json_dumps(e, JSON_COMPACT) : NULL;

		ret = t ? fmt_buf_add(&b, t, strlen(t)) : -ENOMEM;
		free(t);
		json_decref(e);
	}
	if (ret) {
		snprintf(err, errlen, "building the request: %s", strerror(-ret));
		goto out;
	}
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, b.p);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, curl_err);
	rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", s->url,
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECOMM;
		goto out;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		a->buf[strcspn(a->buf, "\r\n")] = '\0';
		snprintf(err, errlen, "%s: HTTP %ld: %.200s", s->url, code, a->buf);
		ret = -EPROTO;
	}
out:
	free(b.p);
	free(a);
	return ret;
}

/* ---- the sink ------------------------------------------------------- */

struct sink *sink_new(const struct cfg_export *cfg, char *err, size_t errlen)
{
	struct sink *s = calloc(1, sizeof(*s));
	int ret = 0;

	if (!s)
		return NULL;
	s->cfg = cfg;
	s->fd = -1;
	s->sock = -1;
	if (gethostname(s->host, sizeof(s->host) - 1) || !s->host[0])
		strcpy(s->host, "-");
	for (char *p = s->host; *p; p++)	/* RFC 5424 HOSTNAME: PRINTUSASCII */
		if (*p < 33 || *p > 126)
			*p = '-';
	switch (cfg->type) {
	case EXPORT_FILE:
		break;
	case EXPORT_SYSLOG:
		ret = syslog_init(s, err, errlen);
		break;
	case EXPORT_HEC:
		ret = hec_init(s, err, errlen);
		if (ret == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		break;
	}
	if (ret) {
		sink_free(s);
		errno = -ret;
		return NULL;
	}
	return s;
}

int sink_deliver(struct sink *s, const struct sink_item *items, size_t n,
		 char *err, size_t errlen)
{
	err[0] = '\0';
	if (!n)
		return 0;
	switch (s->cfg->type) {
	case EXPORT_FILE:
		return file_deliver(s, items, n, err, errlen);
	case EXPORT_SYSLOG:
		return syslog_deliver(s, items, n, err, errlen);
	case EXPORT_HEC:
		return hec_deliver(s, items, n, err, errlen);
	}
	return -EINVAL;
}

void sink_free(struct sink *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		fsync(s->fd);
		close(s->fd);
	}
	syslog_drop(s);
	SSL_CTX_free(s->ctx);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	free(s->url);
	if (s->token)
		OPENSSL_cleanse(s->token, strlen(s->token));
	free(s->token);
	free(s);
}
