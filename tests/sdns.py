"""A real systemd for the tests: Debian's /lib/systemd/systemd booted as
PID 1 of private PID, mount, UTS and IPC namespaces, driven through
`nsenter` as an operator would drive a machine (check_systemd.py).

The host must come out of it untouched; other programs' files live in its
/tmp, /run and /var.  So, before systemd starts, in the mount namespace:
- nothing propagates back to the host (`mount --make-rprivate /`);
- /tmp, /var/tmp, /run, /var/log and /var/lib/systemd are fresh tmpfs
  (systemd-tmpfiles empties /tmp at boot, `D /tmp`);
- /etc is read-only; what the tests need there (the `weft` user and
  group, an ld.so cache that knows /usr/local/lib) is bind-mounted first;
- the units that could touch the host (timers, udev, sysctl, modules,
  swap, fstab, the host's own daemons...) are masked in /run, and systemd
  boots only sysinit.target.
Or, for the Debian package test (overlay=True), /usr, /etc and /var are
overlays whose writes go to a tmpfs: dpkg writes its database, files and
the `weft` user there, its triggers their caches (man-db: /var/cache/man,
libc-bin: /etc/ld.so.cache, /var/cache/ldconfig), and the host's stay as
they were.  Docker's /usr/sbin/policy-rc.d (exit 101: no service starts)
is removed in that overlay, as a Debian machine has none.

PID 1 ignores SIGTERM and `timeout` would kill only `unshare`: close()
kills it by its host pid with SIGKILL, which takes down the namespace,
then removes the cgroups systemd made."""
import os
import shlex
import subprocess
import time

SYSTEMD = "/lib/systemd/systemd"

# Units that would act on the host (kernel settings, devices, clock,
# mounts, swap, the host's own services and their timers) or write under
# /etc or /var outside the tmpfs.
MASK = """
timers.target apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer
e2scrub_all.timer fstrim.timer man-db.timer logrotate.timer
systemd-tmpfiles-clean.timer
apt-daily.service apt-daily-upgrade.service dpkg-db-backup.service
e2scrub_all.service e2scrub_reap.service fstrim.service man-db.service
logrotate.service postgresql.service getty.target getty@tty1.service
systemd-timesyncd.service systemd-pstore.service ldconfig.service
systemd-update-done.service systemd-hwdb-update.service
systemd-udevd.service systemd-udev-trigger.service
systemd-udev-settle.service systemd-udevd-control.socket
systemd-udevd-kernel.socket systemd-modules-load.service
kmod-static-nodes.service systemd-sysctl.service systemd-binfmt.service
proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
systemd-remount-fs.service systemd-fsck-root.service
systemd-machine-id-commit.service systemd-firstboot.service
systemd-sysusers.service systemd-random-seed.service
systemd-boot-system-token.service systemd-repart.service
systemd-pcrphase.service systemd-pcrphase-sysinit.service
systemd-quotacheck.service quotaon.service swap.target local-fs.target
local-fs-pre.target remote-fs.target cryptsetup.target
veritysetup.target integritysetup.target
dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount
sys-kernel-tracing.mount sys-kernel-config.mount
sys-fs-fuse-connections.mount tmp.mount
systemd-journald-audit.socket systemd-journal-catalog-update.service
""".split()


class Refused(Exception):
    """unshare (or a mount) is not allowed here: the reason."""


def _cgroup_dirs():
    out = set()
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            out.add(os.path.join(top, d))
    return out


def probe():
    """None if namespaces and tmpfs mounts work here, else why not."""
    if os.geteuid() != 0:
        return "needs root (unshare --pid --mount)"
    if not os.path.exists(SYSTEMD):
        return SYSTEMD + " is missing (Debian package systemd)"
    try:
        r = subprocess.run(
            ["unshare", "--pid", "--mount", "--fork", "--mount-proc",
             "sh", "-c", "mount --make-rprivate / && "
             "mount -t tmpfs tmpfs /mnt && echo ok"],
            capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare: %s" % e
    if r.returncode != 0 or b"ok" not in r.stdout:
        return "unshare refused: %s" % r.stderr.decode().strip()
    return None


# Fresh tmpfs in the namespace, before systemd starts: systemd-tmpfiles
# empties /tmp at boot, and nothing it or the units write may reach the
# host's /tmp, /run or /var.
TMPFS = ("/tmp", "/var/tmp", "/run", "/var/log", "/var/lib/systemd")


def kept_tops(paths):
    """For each path under one of TMPFS, its topmost directory below that
    mount (/tmp/tmp.X for /tmp/tmp.X/_build/w), each once."""
    tops = []
    for p in paths:
        p = os.path.realpath(p)
        for d in TMPFS:
            if p.startswith(d + "/"):
                top = d + "/" + p[len(d) + 1:].split("/")[0]
                if top not in tops:
                    tops.append(top)
    return tops


class Machine:
    """A booted namespaced systemd.  work: a directory of the caller's;
    binds: (source, target) bind mounts made before /etc goes read-only
    (targets are files or directories that exist on the host);
    units: {name: text} written to /run/systemd/system;
    setup: shell lines run last before systemd starts."""

    def __init__(self, work, binds=(), units=None, setup="", overlay=False,
                 net=False, log=None):
        self.work = work
        self.binds = list(binds)
        self.units = dict(units or {})
        self.setup = setup
        self.overlay = overlay
        # A network namespace of its own (only lo): for fixed ports, such
        # as the packaged weftd.conf's, that must not meet the host's.
        self.net = net
        self.log = log or (lambda s: None)
        self.proc = None
        self.pid = None
        self.cgroups_before = None

    def _script(self):
        w = self.work
        units = os.path.join(w, "units")
        os.makedirs(units, exist_ok=True)
        for name, text in self.units.items():
            with open(os.path.join(units, name), "w") as f:
                f.write(text)
        q = shlex.quote
        lines = [
            "set -eu",
            "mount --make-rprivate /",
        ]
        if self.overlay:
            # Upper dirs on a tmpfs of the namespace's own: what dpkg
            # writes under /usr, /etc and /var/lib never reaches the host.
            lines += [
                "mkdir -p %s/ov" % q(w),
                "mount -t tmpfs tmpfs %s/ov" % q(w),
            ]
            for d in ("usr", "etc", "var"):
                n = d.replace("/", "-")
                lines += [
                    "mkdir -p %s/ov/%s-up %s/ov/%s-work" % (q(w), n, q(w), n),
                    "mount -t overlay overlay -o lowerdir=/%s,upperdir=%s/"
                    "ov/%s-up,workdir=%s/ov/%s-work /%s" % (
                        d, q(w), n, q(w), n, d),
                ]
            lines.append("rm -f /usr/sbin/policy-rc.d")
        # The work directory (and the build tree around it) may itself
        # live under one of the directories that get a fresh tmpfs, as
        # it does in a clone made with mktemp -d: hold it open across
        # the tmpfs mount and bind it back, read-only, at the same path
        # (a mount point, which systemd-tmpfiles does not descend into;
        # read-only in case it did).  --no-canonicalize: mount would
        # turn /proc/self/fd/N into the path it names, now the empty
        # directory on the new tmpfs.
        kept = kept_tops([w])
        for i, top in enumerate(kept):
            lines.append("exec %d<%s" % (7 + i, q(top)))
        for d in TMPFS:
            lines.append("mount -t tmpfs -o mode=0755 tmpfs %s" % d)
        lines.append("chmod 1777 /tmp /var/tmp")
        for i, top in enumerate(kept):
            lines += [
                "mkdir -p %s" % q(top),
                "mount --no-canonicalize --bind /proc/self/fd/%d %s" %
                (7 + i, q(top)),
                "mount -o remount,bind,ro %s" % q(top),
                "exec %d<&-" % (7 + i),
            ]
        for src, dst in self.binds:
            lines.append("mount --bind %s %s" % (q(src), q(dst)))
        lines += [
            "mkdir -p /run/systemd/system",
            "cp -r %s/. /run/systemd/system/" % q(units),
        ]
        for u in MASK:
            if u not in self.units:
                lines.append("ln -sf /dev/null /run/systemd/system/" + u)
        if self.setup:
            lines.append(self.setup)
        if not self.overlay:
            # --rbind: keep the files bound on /etc/... above.
            lines += ["mount --rbind /etc /etc",
                      "mount -o remount,bind,ro /etc"]
        lines += [
            "echo weft-ns-ready",
            "exec env -i container=weft-test "
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
            "/sbin:/bin %s --unit=sysinit.target "
            "--log-target=journal --log-level=info" % SYSTEMD,
        ]
        path = os.path.join(w, "boot.sh")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def boot(self, timeout=90):
        script = self._script()
        self.cgroups_before = _cgroup_dirs()
        self.console = open(os.path.join(self.work, "console.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--mount", "--uts", "--ipc", "--fork",
             "--mount-proc"] + (["--net"] if self.net else []) +
            ["sh", script],
            stdin=subprocess.DEVNULL, stdout=self.console,
            stderr=subprocess.STDOUT)
        end = time.time() + timeout
        # The forked child of unshare is the namespace's PID 1.
        while time.time() < end and self.pid is None:
            try:
                with open("/proc/%d/task/%d/children" %
                          (self.proc.pid, self.proc.pid)) as f:
                    kids = f.read().split()
                if kids:
                    self.pid = int(kids[0])
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise Refused("namespace setup failed: " + self.console_text())
            time.sleep(0.05)
        if self.pid is None:
            raise AssertionError("no namespace PID 1")
        # Up once PID 1 is systemd and answers on its private bus.
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError("systemd exited: " + self.console_text())
            r = self.run(["systemctl", "is-system-running"], timeout=10,
                         check=False)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.2)
        raise AssertionError("systemd did not come up in %ds: %s" %
                             (timeout, self.console_text()))

    def console_text(self):
        try:
            with open(os.path.join(self.work, "console.log"), "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""

    def run(self, argv, timeout=60, check=True, input=None):
        """argv in the namespace (its mounts, its pids)."""
        r = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-m", "-p"] +
            (["-n"] if self.net else []) + ["--"] + list(argv),
            capture_output=True, timeout=timeout, text=True, input=input,
            # Its own session: a signal to a process group inside can
            # never reach the test's.
            start_new_session=True,
            env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                 "/usr/bin:/sbin:/bin", "SYSTEMD_PAGER": "", "LANG": "C.UTF-8",
                 "SYSTEMD_COLORS": "0"})
        self.log("$ %s -> %d\n%s%s" % (" ".join(argv), r.returncode,
                                       r.stdout, r.stderr))
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d: %s%s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def systemctl(self, *args, timeout=60, check=True):
        return self.run(["systemctl"] + list(args), timeout=timeout,
                        check=check)

    def prop(self, unit, name):
        return self.systemctl("show", "-P", name, unit).stdout.strip()

    def close(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.pid = None
        if self.cgroups_before is not None:
            self._remove_cgroups()
            self.cgroups_before = None

    def _remove_cgroups(self):
        """rmdir, deepest first, the cgroups that appeared since boot():
        systemd's init.scope, system.slice... once their processes are
        gone (which the kernel finishes shortly after the kill)."""
        end = time.time() + 20
        while True:
            new = sorted(_cgroup_dirs() - self.cgroups_before,
                         key=lambda p: -p.count("/"))
            left = []
            for d in new:
                try:
                    os.rmdir(d)
                except OSError:
                    left.append(d)
            if not left or time.time() > end:
                return left
            time.sleep(0.2)
