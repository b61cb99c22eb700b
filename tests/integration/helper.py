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
  helper.py sink ADDR PORT OUTPREFIX [--conns N] [--ready FILE]
      TCP server: each accepted connection's bytes go, unbuffered, to
      OUTPREFIX.<n> (n = 0, 1, ...) as they arrive; exits after N
      connections ended (default 1). Touches FILE once listening.
  helper.py send HOST PORT FILE [--chunk B] [--delay S] [--timeout S]
      connect, send FILE in B-byte writes with S seconds between them; print
      {"ok", "sockname", "sent", "error"}; exit 0 when all was sent.
  helper.py clienthello [--sni NAME] > FILE
      the bytes of a real TLS ClientHello (Python's ssl), nothing sent.
  helper.py raw HOST PORT [--send-file F] [--then close|half|wait]
                [--timeout S]
      connect, send F's bytes, then close at once (close), shutdown(WR)
      and read (half), or just read (wait) until the peer closes or S
      seconds; print {"ok", "sockname", "sent", "received", "head_hex",
      "peer_closed", "reset", "timed_out", "seconds"}.
  helper.py tls-dribble HOST PORT --ca CA [--name N] [--byte-delay S]
                [--record-size B] [--path P] [--host H]
      a TLS client (ssl.MemoryBIO) whose ClientHello goes out one byte per
      send() (TCP_NODELAY, S seconds apart), re-framed first into TLS
      records of at most B bytes of handshake each when --record-size is
      given; then an HTTP/1.0 GET of P. Verifies the server against CA
      for N (default HOST). Prints {"ok", "sockname", "version",
      "http_status", "body"}; exit 0 when it got a response.
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


def cmd_sink(a):
    import os
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(16)
    if a.ready:
        open(a.ready, "w").close()
    import threading
    done = []

    def serve(conn, n):
        fd = os.open("%s.%d" % (a.outprefix, n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        total = 0
        err = None
        try:
            while True:
                b = conn.recv(262144)
                if not b:
                    break
                os.write(fd, b)  # unbuffered: on disk as it arrives
                total += len(b)
        except OSError as e:
            err = str(e)
        os.close(fd)
        conn.close()
        done.append({"conn": n, "received": total, "error": err})

    threads = []
    for n in range(a.conns):
        conn, _ = ls.accept()
        t = threading.Thread(target=serve, args=(conn, n))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    ls.close()
    print(json.dumps(sorted(done, key=lambda d: d["conn"])))
    return 0


def _connect(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def cmd_send(a):
    import time
    out = {"ok": False, "sent": 0}
    try:
        s = _connect(a.host, a.port, a.timeout)
        out["sockname"] = list(s.getsockname()[:2])
        with open(a.file, "rb") as f:
            while True:
                b = f.read(a.chunk)
                if not b:
                    break
                s.sendall(b)
                out["sent"] += len(b)
                if a.delay:
                    time.sleep(a.delay)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(a.timeout)
        while s.recv(65536):
            pass
        s.close()
        out["ok"] = True
    except OSError as e:
        out["errno"] = errno.errorcode.get(e.errno, "") if e.errno else type(e).__name__
        out["error"] = str(e)
    print(json.dumps(out))
    return 0 if out["ok"] else 3


def _client_ctx(cafile=None):
    import ssl
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _first_flight(ctx, name):
    import ssl
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outb, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return obj, inc, outb, outb.read()


def cmd_clienthello(a):
    _, _, _, hello = _first_flight(_client_ctx(), a.sni or "localhost")
    sys.stdout.buffer.write(hello)
    return 0


def cmd_raw(a):
    import time
    out = {"ok": False, "sent": 0, "received": 0, "head_hex": "",
           "peer_closed": False, "reset": False, "timed_out": False}
    t0 = time.monotonic()
    try:
        s = _connect(a.host, a.port, a.timeout)
        out["sockname"] = list(s.getsockname()[:2])
        out["ok"] = True
        if a.send_file:
            with open(a.send_file, "rb") as f:
                data = f.read()
            s.sendall(data)
            out["sent"] = len(data)
        if a.then == "close":
            s.close()
        else:
            if a.then == "half":
                s.shutdown(socket.SHUT_WR)
            head = b""
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        out["peer_closed"] = True
                        break
                    out["received"] += len(b)
                    if len(head) < 64:
                        head += b[:64 - len(head)]
            except socket.timeout:
                out["timed_out"] = True
            except ConnectionResetError:
                out["reset"] = out["peer_closed"] = True
            out["head_hex"] = head.hex()
            s.close()
    except OSError as e:
        out["errno"] = errno.errorcode.get(e.errno, "") if e.errno else type(e).__name__
        out["error"] = str(e)
    out["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))
    return 0 if out["ok"] else 3


def _reframe(flight, size):
    """Split the handshake bytes of TLS records into records of <= size."""
    out = b""
    off = 0
    while off + 5 <= len(flight):
        typ, ver, ln = flight[off], flight[off + 1:off + 3], int.from_bytes(flight[off + 3:off + 5], "big")
        body = flight[off + 5:off + 5 + ln]
        off += 5 + ln
        for i in range(0, len(body), size):
            part = body[i:i + size]
            out += bytes([typ]) + ver + len(part).to_bytes(2, "big") + part
    return out + flight[off:]


def cmd_tls_dribble(a):
    import ssl
    import time
    out = {"ok": False}
    name = a.name or a.host
    try:
        obj, inc, outb, hello = _first_flight(_client_ctx(a.ca), name)
        if a.record_size:
            hello = _reframe(hello, a.record_size)
        out["hello_bytes"] = len(hello)
        s = _connect(a.host, a.port, a.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out["sockname"] = list(s.getsockname()[:2])
        for i in range(len(hello)):
            s.send(hello[i:i + 1])
            time.sleep(a.byte_delay)

        def pump_in():
            b = s.recv(65536)
            if not b:
                inc.write_eof()
                return False
            inc.write(b)
            return True

        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = outb.read()
                if pending:
                    s.sendall(pending)
                if not pump_in():
                    raise OSError("server closed during the handshake")
        s.sendall(outb.read())
        out["version"] = obj.version()
        host = a.http_host or a.host
        obj.write(("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: sluice-dribble\r\n\r\n"
                   % (a.path, host)).encode())
        s.sendall(outb.read())
        data = b""
        while True:
            try:
                b = obj.read(65536)
                if not b:
                    break
                data += b
            except ssl.SSLWantReadError:
                pending = outb.read()
                if pending:
                    s.sendall(pending)
                if not pump_in():
                    break
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                break
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].split()
        out["http_status"] = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        out["body"] = body[:200].decode("latin-1")
        out["ok"] = out["http_status"] is not None
    except (OSError, ssl.SSLError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))
    return 0 if out["ok"] else 3


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
    s = sub.add_parser("sink")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("outprefix")
    s.add_argument("--conns", type=int, default=1)
    s.add_argument("--ready")
    s.set_defaults(fn=cmd_sink)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("file")
    s.add_argument("--chunk", type=int, default=65536)
    s.add_argument("--delay", type=float, default=0.0)
    s.add_argument("--timeout", type=float, default=30.0)
    s.set_defaults(fn=cmd_send)
    s = sub.add_parser("clienthello")
    s.add_argument("--sni")
    s.set_defaults(fn=cmd_clienthello)
    s = sub.add_parser("raw")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--send-file")
    s.add_argument("--then", choices=["close", "half", "wait"], default="wait")
    s.add_argument("--timeout", type=float, default=10.0)
    s.set_defaults(fn=cmd_raw)
    s = sub.add_parser("tls-dribble")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--ca", required=True)
    s.add_argument("--name")
    s.add_argument("--byte-delay", type=float, default=0.002)
    s.add_argument("--record-size", type=int)
    s.add_argument("--path", default="/index.html")
    s.add_argument("--host", dest="http_host")
    s.add_argument("--timeout", type=float, default=10.0)
    s.set_defaults(fn=cmd_tls_dribble)
    a = p.parse_args()
    try:
        return a.fn(a)
    except (ValueError, json.JSONDecodeError) as e:
        print("helper.py %s: bad input: %s" % (a.cmd, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
