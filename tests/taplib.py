"""The TAP scaffolding shared by weft's Python test programs
(test_weftd.py, test_systemd.py): a registry of test functions, a Skip
exception reported as TAP SKIP, a runner that prints TAP, and temp
directories that are all removed at exit, even after a failure."""
import atexit
import shutil
import sys
import tempfile
import traceback

# Every temp dir the tests make is removed at exit, even after failures:
# tempfile.mkdtemp itself is wrapped, so helpers that call it are covered.
_made = []
_mkdtemp = tempfile.mkdtemp


def _tracked_mkdtemp(*a, **kw):
    d = _mkdtemp(*a, **kw)
    _made.append(d)
    return d


tempfile.mkdtemp = _tracked_mkdtemp
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in _made])

tests = []


class Skip(Exception):
    """Raised by a test that cannot run here; reported as TAP SKIP."""


def test(fn):
    """Register fn as a test, in the order of definition."""
    tests.append(fn)
    return fn


def run(cleanup=None):
    """Run every registered test, print TAP, call cleanup() (if any) and
    return the exit status: 1 if a test failed."""
    print("1..%d" % len(tests))
    failed = 0
    for i, fn in enumerate(tests, 1):
        try:
            fn()
            print("ok %d - %s" % (i, fn.__name__))
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (i, fn.__name__, e))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    if cleanup is not None:
        try:
            cleanup()
        except Exception:
            pass
    return 1 if failed else 0
