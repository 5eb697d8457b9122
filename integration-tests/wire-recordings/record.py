#!/usr/bin/env python3
"""Records what PostgreSQL clients send: a proxy between a client and a server.

    record.py UPSTREAM_PORT OUT_PREFIX

Listens on a free loopback port (printed on the first line), relays every connection to
127.0.0.1:UPSTREAM_PORT, and writes each connection's frontend messages to OUT_PREFIX-N.wire:
one message a line, as hex (type byte and length included), followed by `# ` and a short
readable summary. Startup-phase packets (SSLRequest, GSSENCRequest, StartupMessage,
CancelRequest) have no type byte. Stops after SECONDS of no new connection (default 5).
"""

import socket
import struct
import sys
import threading

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102


def summary(message: bytes, typed: bool) -> str:
    if not typed:
        code = struct.unpack("!I", message[4:8])[0]
        if code == SSL_REQUEST:
            return "SSLRequest"
        if code == GSS_REQUEST:
            return "GSSENCRequest"
        if code == CANCEL_REQUEST:
            return "CancelRequest"
        params = message[8:].split(b"\0")
        return "StartupMessage " + " ".join(p.decode("utf-8", "replace") for p in params if p)
    kind = chr(message[0])
    body = message[5:]
    text = body.replace(b"\0", b" ").decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else "." for c in text).strip()
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}".rstrip()


class Splitter:
    """Cuts a frontend byte stream into messages."""

    def __init__(self):
        self.buffer = b""
        self.typed = False
        self.messages = []

    def feed(self, data: bytes):
        self.buffer += data
        while True:
            header = 5 if self.typed else 4
            if len(self.buffer) < header:
                return
            length = struct.unpack("!I", self.buffer[header - 4:header])[0]
            total = length + (1 if self.typed else 0)
            if len(self.buffer) < total:
                return
            message, self.buffer = self.buffer[:total], self.buffer[total:]
            self.messages.append((message, summary(message, self.typed)))
            if not self.typed:
                code = struct.unpack("!I", message[4:8])[0]
                if code not in (SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST):
                    self.typed = True


def relay(source, sink, splitter=None):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if splitter is not None:
                splitter.feed(data)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client, upstream_port, path):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    splitter = Splitter()
    back = threading.Thread(target=relay, args=(upstream, client))
    back.start()
    relay(client, upstream, splitter)
    back.join()
    client.close()
    upstream.close()
    with open(path, "w") as out:
        for message, text in splitter.messages:
            out.write(f"{message.hex()}  # {text}\n")
        if splitter.buffer:
            out.write(f"# (connection closed with {len(splitter.buffer)} bytes of an unfinished message)\n")


def main():
    upstream_port, prefix = int(sys.argv[1]), sys.argv[2]
    idle = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(idle)
    print(listener.getsockname()[1], flush=True)
    threads, n = [], 0
    while True:
        try:
            client, _ = listener.accept()
        except socket.timeout:
            break
        n += 1
        t = threading.Thread(target=serve, args=(client, upstream_port, f"{prefix}-{n}.wire"))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
