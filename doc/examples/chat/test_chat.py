#!/usr/bin/env python3
"""Checks a weftd serving chat.so (one worker) from the outside.

usage: test_chat.py PORT room     three clients chat, a fourth never reads
       test_chat.py PORT stop PID  SIGTERM to weftd: clients are told

room: three clients exchange several MB while a fourth connects and never
reads.  Each of the three must get every line of the two others, whole
and in order, and the fourth must be dropped (EOF or a reset) rather than
stall them.  Timeouts are hang guards only.  A talker keeps at most
WINDOW lines ahead of what it got from each other talker, as a real chat
is paced by people: the room is then never faster than a reader that
reads, and only the one that never reads falls behind by its queue.

stop: two clients connect, weftd gets SIGTERM, and each must read
"* server going down" and then EOF.

Exits 0, or 1 with what went wrong.
"""
import os
import signal
import socket
import sys
import threading

HOST = "127.0.0.1"
GUARD = 60  # seconds: a hang guard, not a measurement
SIZE = 4000  # bytes per line


def lines_per_sender():
    """Enough that the slow client's share cannot all fit in the kernel's
    buffers: what weftd's socket may buffer for it (tcp_wmem's maximum),
    twice over, and a megabyte more."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem = int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4 << 20
    return max(300, (2 * wmem + (1 << 20)) // (3 * SIZE) + 1)


LINES = lines_per_sender()
WINDOW = 16  # lines a talker may be ahead of each other talker


class Client:
    """A connection whose lines a thread collects as they come."""

    def __init__(self, port, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(GUARD)
        self.sock.connect((HOST, port))
        self.file = self.sock.makefile("rb")
        self.lines = []
        self.count = {}  # chat lines got, by sender
        self.eof = False
        self.error = None
        self.cond = threading.Condition()
        self.name = self.welcome()

    def welcome(self):
        line = self.file.readline()
        prefix = b"* welcome, you are "
        if not line.startswith(prefix) or not line.endswith(b"\n"):
            sys.exit("expected a welcome line, got %r" % line[:100])
        return line[len(prefix):-1].decode()

    def start(self):
        threading.Thread(target=self.collect, daemon=True).start()

    def collect(self):
        try:
            for line in self.file:
                with self.cond:
                    self.lines.append(line)
                    if not line.startswith(b"* "):
                        who = line.split(b": ", 1)[0].decode()
                        self.count[who] = self.count.get(who, 0) + 1
                    self.cond.notify_all()
        except OSError as e:
            self.error = e
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(lambda: pred() or self.eof, GUARD):
                sys.exit("%s: nothing for %d s (hang guard)" % (what, GUARD))
            if not pred():
                sys.exit("%s: connection ended (%s) after %d lines" %
                         (what, self.error, len(self.lines)))


def payload(name, i):
    head = ("%s-%d-" % (name, i)).encode()
    return head + b"x" * (SIZE - len(head)) + b"\n"


def send_all(c, others, errors):
    try:
        for i in range(LINES):
            if i >= WINDOW:
                c.wait_for(lambda: all(c.count.get(o.name, 0) >= i - WINDOW
                                       for o in others),
                           "%s pacing line %d" % (c.name, i))
            c.sock.sendall(payload(c.name, i))
    except (OSError, SystemExit) as e:
        errors.append("%s: send: %s" % (c.name, e))


def chat_lines(c):
    """The chat lines c got (notices such as '* user2 joined' left out)."""
    return [l for l in c.lines if not l.startswith(b"* ")]


def room(port):
    talkers = [Client(port) for _ in range(3)]
    for c in talkers:
        c.start()
    # Smaller than any one line, so that its window closes at once.
    slow = Client(port, rcvbuf=4096)
    errors = []
    senders = [threading.Thread(target=send_all,
                                args=(c, [o for o in talkers if o is not c],
                                      errors))
               for c in talkers]
    for t in senders:
        t.start()
    for t in senders:
        t.join(GUARD)
    if errors:
        sys.exit("; ".join(errors))
    for c in talkers:
        c.wait_for(lambda c=c: len(chat_lines(c)) >= 2 * LINES,
                   "%s waiting for %d lines" % (c.name, 2 * LINES))
    for c in talkers:
        got = chat_lines(c)
        if len(got) != 2 * LINES:
            sys.exit("%s: %d chat lines, expected %d" %
                     (c.name, len(got), 2 * LINES))
        for o in talkers:
            if o is c:
                continue
            prefix = ("%s: " % o.name).encode()
            from_o = [l[len(prefix):] for l in got if l.startswith(prefix)]
            want = [payload(o.name, i) for i in range(LINES)]
            if from_o != want:
                sys.exit("%s: the lines from %s are not all there, whole "
                         "and in order (%d of %d)" %
                         (c.name, o.name, len(from_o), LINES))
        if any(l.startswith(("%s: " % c.name).encode()) for l in got):
            sys.exit("%s: got its own lines back" % c.name)
    # The slow client must have been dropped: its connection ends (with
    # EOF or a reset) long before it could have read everything.
    total = 0
    try:
        while True:
            data = slow.sock.recv(65536)
            if not data:
                break
            total += len(data)
    except socket.timeout:
        sys.exit("the client that never read was not dropped")
    except ConnectionResetError:
        pass
    sent = 3 * LINES * (SIZE + len("userNN: "))
    if total >= sent:
        sys.exit("the slow client got everything (%d bytes)" % total)
    # /quit: a goodbye, then EOF, and the others are told.
    first, rest = talkers[0], talkers[1:]
    first.sock.sendall(b"/quit\r\n")
    first.wait_for(lambda: first.eof, "%s waiting for EOF" % first.name)
    bye = ("* bye, %s\n" % first.name).encode()
    if first.lines[-1] != bye:
        sys.exit("%s: expected %r last, got %r" %
                 (first.name, bye, first.lines[-1][:100]))
    left = ("* %s left\n" % first.name).encode()
    for c in rest:
        c.wait_for(lambda c=c: left in c.lines, "%s waiting for %r" %
                   (c.name, left))
    print("3 clients got %d lines each; the slow one was dropped after "
          "%d bytes" % (2 * LINES, total))


def stop(port, pid):
    clients = [Client(port) for _ in range(2)]
    for c in clients:
        c.start()
    os.kill(pid, signal.SIGTERM)
    for c in clients:
        c.wait_for(lambda c=c: b"* server going down\n" in c.lines,
                   "%s waiting for the stop notice" % c.name)
        with c.cond:
            if not c.cond.wait_for(lambda c=c: c.eof, GUARD):
                sys.exit("%s: no EOF after the stop notice" % c.name)
        if c.lines[-1] != b"* server going down\n":
            sys.exit("%s: lines after the stop notice: %r" %
                     (c.name, c.lines[-1][:100]))
    print("both clients were told the server is going down")


def main():
    port, what = int(sys.argv[1]), sys.argv[2]
    if what == "room":
        room(port)
    elif what == "stop":
        stop(port, int(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
