#!/usr/bin/python3
"""Small probes and JSON checks for sluice's integration tests (stdlib only).

  helper.py probe HOST PORT [--family 4|6] [--http PATH] [--timeout S]
      connect() to HOST:PORT and print one JSON object:
      {"ok": true, "sockname": [ip, port], "peername": [ip, port],
       "http_status": 200, "body_len": N, "body_head": "..."}
      or {"ok": false, "errno": "ECONNREFUSED", "error": "..."}.
      Exit 0 when connected (and, with --http, got a response), 3 otherwise.
  helper.py port-free ADDR PORT
      exit 0 when a listening socket could bind ADDR:PORT, 1 when in use.
  helper.py find-conn [--target T] [--pid P] [--client-port N] [--original O]
                      [--need-bytes] < conn-list.json
      print the first connection object matching every filter; exit 1 if none.
  helper.py count-conns [filters as find-conn] < conn-list.json
  helper.py target-field NAME FIELD < target-list.json
  helper.py attach-count < "bpftool -j cgroup show" output
      print {"connect4": n, ...} of the attachments, by attach type.
  helper.py get EXPR < any.json
      print eval(EXPR) with `j` bound to the document (str as is, else JSON);
      empty input is [] (what `bpftool -j cgroup show` prints for nothing).
"""
import argparse
import errno
import json
import socket
import sys


def cmd_probe(a):
    fam = socket.AF_INET6 if a.family == "6" or ":" in a.host else socket.AF_INET
    out = {"ok": False}
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
        out["sockname"] = list(s.getsockname()[:2])
        out["peername"] = list(s.getpeername()[:2])
        if a.http is not None:
            host = "[%s]" % a.host if ":" in a.host else a.host
            req = "GET %s HTTP/1.0\r\nHost: %s:%d\r\nUser-Agent: sluice-probe\r\n\r\n" % (
                a.http, host, a.port)
            s.sendall(req.encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            out["http_status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            out["body_len"] = len(body)
            out["body_head"] = body[:80].decode("latin-1")
            if out["http_status"] is None:
                out["error"] = "no HTTP status line in %r" % data[:80]
                print(json.dumps(out))
                return 3
        out["ok"] = True
    except OSError as e:
        out["errno"] = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
        out["error"] = str(e)
    finally:
        s.close()
    print(json.dumps(out))
    return 0 if out["ok"] else 3


def cmd_port_free(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((a.addr, a.port))
        s.listen(1)
    except OSError as e:
        print("%s:%d: %s" % (a.addr, a.port, e.strerror))
        return 1
    finally:
        s.close()
    return 0


def _port_of(endpoint):
    """'127.0.0.1:5' or '[::1]:5' -> 5"""
    try:
        return int(str(endpoint).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None


def _conns(a):
    doc = json.load(sys.stdin)
    conns = doc.get("connections", []) if isinstance(doc, dict) else doc
    res = []
    for c in conns:
        k = c.get("kernel") or {}
        if a.target is not None and c.get("target") != a.target:
            continue
        if a.pid is not None and k.get("pid") != a.pid:
            continue
        if a.client_port is not None and _port_of(c.get("client")) != a.client_port:
            continue
        if a.original is not None and c.get("original") != a.original:
            continue
        if a.need_bytes and not (c.get("bytes_up", 0) > 0 and c.get("bytes_down", 0) > 0):
            continue
        res.append(c)
    return res


def cmd_find_conn(a):
    res = _conns(a)
    if not res:
        return 1
    print(json.dumps(res[0]))
    return 0


def cmd_count_conns(a):
    print(len(_conns(a)))
    return 0


def cmd_target_field(a):
    doc = json.load(sys.stdin)
    targets = doc.get("targets", []) if isinstance(doc, dict) else doc
    for t in targets:
        if t.get("name") == a.name:
            v = t.get(a.field)
            print(v if isinstance(v, str) else json.dumps(v))
            return 0
    print("target %s not in %s" % (a.name, json.dumps(doc)), file=sys.stderr)
    return 1


ATTACH_NAMES = {  # libbpf's names -> bpftool's older short ones
    "cgroup_inet4_connect": "connect4",
    "cgroup_inet6_connect": "connect6",
    "cgroup_sock_ops": "sock_ops",
    "cgroup_inet4_getpeername": "getpeername4",
    "cgroup_inet6_getpeername": "getpeername6",
}


def cmd_attach_count(a):
    text = sys.stdin.read().strip()
    doc = json.loads(text) if text else []
    counts = {}
    for p in doc or []:
        t = p.get("attach_type", "?")
        t = ATTACH_NAMES.get(t, t)
        counts[t] = counts.get(t, 0) + 1
    print(json.dumps(counts, sort_keys=True))
    return 0


def cmd_get(a):
    text = sys.stdin.read().strip()
    j = json.loads(text) if text else []  # bpftool -j prints nothing for nothing
    v = eval(a.expr, {"j": j, "len": len, "sum": sum, "any": any, "all": all})
    print(v if isinstance(v, str) else json.dumps(v))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("probe")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--family", choices=["4", "6"])
    s.add_argument("--http")
    s.add_argument("--timeout", type=float, default=5.0)
    s.set_defaults(fn=cmd_probe)
    s = sub.add_parser("port-free")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.set_defaults(fn=cmd_port_free)
    for name, fn in (("find-conn", cmd_find_conn), ("count-conns", cmd_count_conns)):
        s = sub.add_parser(name)
        s.add_argument("--target")
        s.add_argument("--pid", type=int)
        s.add_argument("--client-port", type=int)
        s.add_argument("--original")
        s.add_argument("--need-bytes", action="store_true")
        s.set_defaults(fn=fn)
    s = sub.add_parser("target-field")
    s.add_argument("name")
    s.add_argument("field")
    s.set_defaults(fn=cmd_target_field)
    s = sub.add_parser("attach-count")
    s.set_defaults(fn=cmd_attach_count)
    s = sub.add_parser("get")
    s.add_argument("expr")
    s.set_defaults(fn=cmd_get)
    a = p.parse_args()
    try:
        return a.fn(a)
    except (ValueError, json.JSONDecodeError) as e:
        print("helper.py %s: bad input: %s" % (a.cmd, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
