// SPDX-License-Identifier: BSD-2-Clause
/*
 * Client side of the control protocol (see ctl_client.h): one request line
 * out, one response line back, all under one deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "ctl_client.h"

/* A response larger than this is refused: the daemon's answers are bounded. */
#define CTL_MAX_RESPONSE	(16u << 20)
#define CTL_READ_CHUNK		65536

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on fd until `deadline` (ms, CLOCK_MONOTONIC). 0 or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long long left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

static int ctl_connect(const char *path, int timeout_ms, int *fdp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};
	size_t len = strlen(path);
	int fd, err;

	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, len);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A blocking connect() to a Unix socket whose backlog is full waits,
	 * bounded by SO_SNDTIMEO; a non-blocking one fails with EAGAIN and
	 * cannot be polled for. So connect blocking, then switch.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EINPROGRESS)
			errno = ETIMEDOUT;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;
	int err;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			err = wait_fd(fd, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read one line (or everything up to EOF) into a malloc'd buffer; *outp is
 * the caller's to free, *lenp excludes the newline. 0 or -errno.
 */
static int recv_line(int fd, long long deadline, char **outp, size_t *lenp)
{
	char *buf = NULL, *nl, *tmp;
	size_t len = 0, cap = 0;
	ssize_t n;
	int err = 0;

	for (;;) {
		if (cap - len < CTL_READ_CHUNK) {
			size_t ncap = cap ? cap * 2 : CTL_READ_CHUNK;

			if (ncap > CTL_MAX_RESPONSE + 1)
				ncap = CTL_MAX_RESPONSE + 1;
			if (ncap <= len) {
				err = -EMSGSIZE;
				goto out;
			}
			tmp = realloc(buf, ncap);
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			buf = tmp;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				err = -errno;
				goto out;
			}
			err = wait_fd(fd, POLLIN, deadline);
			if (err)
				goto out;
			continue;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			len = (size_t)(nl - buf);
			break;
		}
		if (len > CTL_MAX_RESPONSE) {
			err = -EMSGSIZE;
			goto out;
		}
	}
	if (len > CTL_MAX_RESPONSE) {
		err = -EMSGSIZE;
		goto out;
	}
	*outp = buf;
	*lenp = len;
	buf = NULL;
out:
	free(buf);
	return err;
}

json_t *ctl_call(const char *path, json_t *req, int timeout_ms)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	char *line = NULL, *resp_text = NULL;
	json_t *resp = NULL;
	json_error_t jerr;
	size_t len = 0;
	int fd = -1, err;

	if (!path || !req) {
		err = -EINVAL;
		goto out;
	}
	line = json_dumps(req, JSON_COMPACT);
	if (!line) {
		err = -ENOMEM;
		goto out;
	}
	err = ctl_connect(path, timeout_ms > 0 ? timeout_ms : 1, &fd);
	if (err)
		goto out;
	err = send_all(fd, line, strlen(line), deadline);
	if (!err)
		err = send_all(fd, "\n", 1, deadline);
	if (err)
		goto out;
	err = recv_line(fd, deadline, &resp_text, &len);
	if (err)
		goto out;
	resp = json_loadb(resp_text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!resp || !json_is_object(resp)) {
		json_decref(resp);
		resp = NULL;
		err = -EPROTO;
	}
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(resp_text);
	if (err)
		errno = -err;
	return resp;
}
