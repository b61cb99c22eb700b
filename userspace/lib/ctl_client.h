/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control protocol between sluiced and the CLI: JSON over a Unix
 * stream socket (root only), one request object per connection, one
 * response object back, then the daemon closes. Each object is one line.
 *
 *   {"cmd": "status"}
 *     -> {"daemon": {"pid", "version", "started", "uptime_s", "config",
 *                    "cgroup", "listen": ["127.0.0.1:15443", ...],
 *                    "workers"},
 *         "targets": [ target objects as below ],
 *         "connections": {"active": N, "total": N},
 *         "gaps": {"bypassed": N, "refused": N}   (ring-buffer events
 *                                                  drained since start)
 *         "record_lag": null, "export_lag": null} (no recorder yet)
 *   {"cmd": "target list"}
 *     -> {"targets": [{"name", "kind", "match": ["ip:port", ...],
 *                      "upstream", "fail_mode", "active", "total",
 *                      "redirected", "bypassed", "refused"}]}
 *   {"cmd": "conn list", "all": false}
 *     -> {"connections": [{"id", "target", "kind", "state" ("open"|
 *          "closed"), "client", "original", "upstream", "start", "end",
 *          "bytes_up", "bytes_down", "close_reason",
 *          "kernel": {"pid", "tid", "uid", "gid", "comm", "cgroup_id",
 *                     "cgroup", "netns_cookie"}}]}
 *        "all": true adds the most recent closed connections (bounded).
 *   {"cmd": "policy show"}
 *     -> {"enabled", "dir", "policy": policy_json() or null}
 *   {"cmd": "policy reload"}
 *     -> {"ok": true, "message"}, or an error "FILE:LINE:COLUMN: ..." with
 *        the old policy still in force
 *   {"cmd": "policy test", "identity": {...}, "request": {...}}
 *     -> policy_decision_json() of the policy in force
 *   {"cmd": "approval list"} -> {"approvals": [...]}  (approval.h)
 *   {"cmd": "approval grant", "id", "for_s"?: 900} / {"cmd": "approval
 *     deny", "id"} -> {"approval": {...}}; the deciding uid is the caller's
 * Errors: {"error": "message"}.
 */
#ifndef SLUICE_CTL_CLIENT_H
#define SLUICE_CTL_CLIENT_H

#include <jansson.h>

#define SLUICE_CTL_DEFAULT "/run/sluice/ctl.sock"

/*
 * Send `req` (borrowed) to the daemon at `path` and read its answer.
 * Returns the response object (caller json_decref()s) or NULL with errno
 * set: ECONNREFUSED/ENOENT when the daemon is not there, EPROTO for a
 * malformed answer, ETIMEDOUT after timeout_ms.
 */
json_t *ctl_call(const char *path, json_t *req, int timeout_ms);

#endif
