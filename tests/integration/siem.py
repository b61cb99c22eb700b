#!/usr/bin/python3
"""What the export tests (8x_export_*) need on the receiving side.

  keys FORMAT FILE           the (session, seq, type) of each exported
                             event in FILE, one JSON array per line, in
                             order: FILE holds rsyslog's %rawmsg% lines
                             ("syslog") or the file sink's lines ("file")
  compare-show RECEIVED KIND FORMAT SHOW_JSON...
                             every event of each `sluice -j session show`
                             document arrived, in order, and says what the
                             session's record says
  compare-order RECEIVED KIND FEED_FILE
                             RECEIVED (duplicates dropped, first kept) is
                             exactly the feed order the file sink wrote
  hec                        the stand-in Splunk HEC collector (Splunk is
                             not packaged in Debian): see cmd_hec
"""
import argparse
import http.server
import json
import re
import ssl
import sys
import threading
import time

SYSLOG_RE = re.compile(
    r'^<(\d+)>1 (\S+) (\S+) sluice (\d+) (\S+) '
    r'\[sluice@32473 session="([0-9a-f]{32})"(?: seq="(\d+)")? format="([a-z0-9-]+)"\] (.*)$')


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def event_key(fmt, ev):
    """(session, seq or None for a seal, type, raw event or None)."""
    if fmt == "k8s-audit":
        a = ev["annotations"]
        seq = a.get("sluice.io/seq")
        raw = json.loads(a["sluice.io/event"])
        return (a["sluice.io/session"], int(seq) if seq is not None else None,
                a["sluice.io/type"], raw)
    if fmt == "ocsf":
        md = ev["metadata"]
        typ = ev["unmapped"]["type"]
        return (md["correlation_uid"], None if typ == "seal" else md["sequence"],
                typ, ev["unmapped"]["event"])
    die("unknown format %s" % fmt)


def read_events(kind, fmt, path):
    """Events of a syslog capture or a file sink, in arrival order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if kind == "syslog":
                m = SYSLOG_RE.match(line)
                if not m:
                    die("%s:%d: not a sluice RFC 5424 message: %r" % (path, n, line[:200]))
                pri, _, _, _, msgid, sid, seq, f2, msg = m.groups()
                if f2 != fmt:
                    die("%s:%d: format %s, expected %s" % (path, n, f2, fmt))
                if int(pri) != 13 * 8 + 6:
                    die("%s:%d: PRI %s" % (path, n, pri))
                ev = json.loads(msg)
                key = event_key(fmt, ev)
                # the structured data agrees with the message it frames
                if sid != key[0] or (seq is not None and int(seq) != key[1]) or msgid != key[2]:
                    die("%s:%d: structured data %s/%s/%s vs message %s" %
                        (path, n, sid, seq, msgid, key[:3]))
            elif kind == "hec":
                ev = json.loads(line)
                key = event_key(fmt, ev)
            else:
                key = event_key(fmt, json.loads(line))
            out.append(key)
    return out


def dedup(keys):
    seen, out = set(), []
    for k in keys:
        kk = k[:3]
        if kk not in seen:
            seen.add(kk)
            out.append(k)
    return out


def cmd_keys(a):
    for k in read_events(a.kind, a.format, a.file):
        print(json.dumps(k[:3]))


def cmd_compare_show(a):
    got = dedup(read_events(a.kind, a.format, a.received))
    by_sid = {}
    for k in got:
        by_sid.setdefault(k[0], []).append(k)
    total = 0
    for path in a.show:
        with open(path, encoding="utf-8") as f:
            show = json.load(f)
        sid = show["id"]
        recv = [k for k in by_sid.get(sid, []) if k[1] is not None]
        want = [(e["seq"], e["type"]) for e in show["events"]]
        have = [(k[1], k[2]) for k in recv]
        if have != want:
            die("session %s: received %s\n  session show says %s" % (sid, have, want))
        for k, e in zip(recv, show["events"]):
            for field, val in k[3].items():
                if field in ("time_ns",):
                    continue
                if e.get(field) != val:
                    die("session %s seq %s: %s is %r in the export, %r in session show" %
                        (sid, e["seq"], field, val, e.get(field)))
        seals = [k for k in by_sid.get(sid, []) if k[1] is None]
        if not seals:
            die("session %s: no seal exported" % sid)
        total += len(want)
    print(json.dumps({"sessions": len(a.show), "events": total}))


def cmd_compare_order(a):
    got = [k[:3] for k in dedup(read_events(a.kind, a.format, a.received))]
    feed = [k[:3] for k in read_events("file", a.feed_format, a.feed)]
    if len(set(feed)) != len(feed):
        die("the file sink has duplicates")
    if got != feed:
        missing = [k for k in feed if k not in set(got)]
        extra = [k for k in got if k not in set(feed)]
        first = next((i for i, (x, y) in enumerate(zip(got, feed)) if x != y), None)
        die("received %d, feed %d; missing %s; extra %s; first difference at %s: %s vs %s" %
            (len(got), len(feed), missing[:5], extra[:5], first,
             got[first] if first is not None else None,
             feed[first] if first is not None else None))
    raw = read_events(a.kind, a.format, a.received)
    print(json.dumps({"events": len(feed), "received": len(raw),
                      "duplicates": len(raw) - len(got)}))


# ---- the stand-in Splunk HEC collector ------------------------------------

class Hec:
    """State of the stand-in: which requests fail, and on purpose how."""

    def __init__(self, a):
        self.token = a.token
        self.faults = a.faults.split(",") if a.faults else []
        self.n = 0
        self.lock = threading.Lock()
        self.accepted = open(a.accepted, "a", encoding="utf-8")
        self.log = open(a.log, "a", encoding="utf-8")

    def note(self, **kw):
        self.log.write(json.dumps(kw) + "\n")
        self.log.flush()


def parse_body(body):
    """Concatenated JSON objects, each an HEC event; raises ValueError."""
    dec = json.JSONDecoder()
    text = body.decode("utf-8")
    i, out = 0, []
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i == len(text):
            break
        obj, i = dec.raw_decode(text, i)
        if not isinstance(obj, dict) or "event" not in obj:
            raise ValueError("not an HEC event object: %r" % (obj,))
        if not isinstance(obj.get("time"), (int, float)):
            raise ValueError("no numeric time")
        for k in ("host", "source", "sourcetype"):
            if not isinstance(obj.get(k), str):
                raise ValueError("no %s" % k)
        out.append(obj)
    if not out:
        raise ValueError("empty body")
    return out


def make_handler(hec):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, doc):
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            n = 0
            if self.path != "/services/collector/event":
                hec.note(n=n, answer=404, path=self.path)
                return self.answer(404, {"text": "Not found", "code": 404})
            if self.headers.get("Authorization") != "Splunk " + hec.token:
                hec.note(n=n, answer=401, auth=self.headers.get("Authorization"))
                return self.answer(401, {"text": "Invalid token", "code": 4})
            if self.headers.get("Content-Type") != "application/json":
                hec.note(n=n, answer=400, content_type=self.headers.get("Content-Type"))
                return self.answer(400, {"text": "Bad content type", "code": 6})
            try:
                events = parse_body(body)
            except ValueError as e:
                hec.note(n=n, answer=400, error=str(e))
                return self.answer(400, {"text": "Invalid data format", "code": 6})
            # the faults count the well-formed, authorised requests
            with hec.lock:
                hec.n += 1
                n = hec.n
            fault = hec.faults[n - 1] if n <= len(hec.faults) else "ok"
            if fault == "busy":
                hec.note(n=n, answer=503, events=len(events))
                return self.answer(503, {"text": "Server is busy", "code": 9})
            if fault == "error":
                hec.note(n=n, answer=500, events=len(events))
                return self.answer(500, {"text": "Internal server error", "code": 8})
            if fault == "timeout":
                # longer than the sink's timeout_ms: the sink gives up and
                # sends the batch again; what we keep is counted as a duplicate
                hec.note(n=n, answer="timeout", events=len(events))
                time.sleep(hec_sleep)
                for e in events:
                    hec.accepted.write(json.dumps(e["event"]) + "\n")
                hec.accepted.flush()
                return self.answer(200, {"text": "Success", "code": 0})
            for e in events:
                hec.accepted.write(json.dumps(e["event"]) + "\n")
            hec.accepted.flush()
            hec.note(n=n, answer=200, events=len(events))
            return self.answer(200, {"text": "Success", "code": 0})
    return H


hec_sleep = 3.0


def cmd_hec(a):
    """POST /services/collector/event on ADDR:PORT (TLS with --cert/--key).
    Checks the "Authorization: Splunk TOKEN" header and the body (JSON
    event objects, concatenated); --faults lists what requests 1, 2, ...
    get: busy (503), error (500), timeout (answers after --sleep seconds),
    ok. Events of 200 answers go to --accepted (one per line); every
    request is noted in --log."""
    global hec_sleep
    hec_sleep = a.sleep
    hec = Hec(a)
    srv = http.server.ThreadingHTTPServer((a.addr, a.port), make_handler(hec))
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if a.ready:
        open(a.ready, "w").close()
    srv.serve_forever()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("keys")
    s.add_argument("kind", choices=["syslog", "file", "hec"])
    s.add_argument("format")
    s.add_argument("file")
    s = sub.add_parser("compare-show")
    s.add_argument("received")
    s.add_argument("kind", choices=["syslog", "file", "hec"])
    s.add_argument("format")
    s.add_argument("show", nargs="+")
    s = sub.add_parser("compare-order")
    s.add_argument("received")
    s.add_argument("kind", choices=["syslog", "file", "hec"])
    s.add_argument("format")
    s.add_argument("feed")
    s.add_argument("feed_format")
    s = sub.add_parser("hec")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("--token", required=True)
    s.add_argument("--faults", default="")
    s.add_argument("--sleep", type=float, default=3.0)
    s.add_argument("--accepted", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--ready")
    a = p.parse_args()
    {"keys": cmd_keys, "compare-show": cmd_compare_show,
     "compare-order": cmd_compare_order, "hec": cmd_hec}[a.cmd](a)


if __name__ == "__main__":
    main()
