"""/proc sampling for the stress suite (stress.py): which client ports a
worker serves, CPU ticks, RSS, and sums over a weftd's workers.  The fds
and pids themselves: weftdlib."""
import os
import re

from weftdlib import nfds


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                out.add(int(t[8:-1]))
    except OSError:
        pass
    return out


def tcp_table():
    """inode -> (local port, remote port) of every TCP socket."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    rport = int(p[2].rsplit(":", 1)[1], 16)
                    inode = int(p[9])
                    if inode:
                        out[inode] = (lport, rport)
        except OSError:
            pass
    return out


def peer_ports(pid, server_port, tbl=None):
    """Client ports of pid's connections accepted on server_port.  The
    TCP table is read after the process's fds: freeze the process
    (SIGSTOP) for an exact answer, /proc/net/tcp can take a while to read
    (every TIME_WAIT socket of the machine is in it)."""
    inodes = socket_inodes(pid)
    tbl = tbl if tbl is not None else tcp_table()
    out = set()
    for ino in inodes:
        lr = tbl.get(ino)
        if lr is not None and lr[0] == server_port and lr[1] != 0:
            out.add(lr[1])
    return out


def owner_of(pids, client_port, server_port):
    """Which of pids holds the server side of a client's connection."""
    tbl = tcp_table()
    for pid in pids:
        if client_port in peer_ports(pid, server_port, tbl):
            return pid
    return None


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        p = f.read().rsplit(")", 1)[1].split()
    return int(p[11]) + int(p[12])


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return f.read()


def workers_fds_rss(pids):
    """(fds, RSS KiB) summed over pids."""
    return (sum(nfds(x) for x in pids), sum(rss_kb(x) for x in pids))


def rss_split(pids):
    """(RssAnon, RssFile + RssShmem) KiB summed over pids."""
    anon = other = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                st = f.read()
        except OSError:
            continue
        for key, v in re.findall(r"^(Rss\w+):\s+(\d+)", st, re.M):
            if key == "RssAnon":
                anon += int(v)
            else:
                other += int(v)
    return anon, other
