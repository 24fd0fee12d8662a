#!/usr/bin/env python3
"""The tree's structure rules (doc/style.md, section 8), checked:

- no call cycle between the .c files of one layer (lib/, daemon/,
  plugins/): if a.c calls b.c, b.c reaches back only through a pointer;
- no .c file over 800 lines, the test programs of tests/ included (only
  this rule covers them);
- no function over 80 lines, except those in EXCEPTIONS (a table or a
  protocol switch that reads better whole), each with its reason.

Definitions are found the way the code is written (KNF: a function's name
starts its line); calls are any use of a defined name followed by "(" in
another file of the layer, comments and strings left out.  A static
function counts only in its own file.

usage: codecheck.py [-v] SRCDIR   Prints the edges with -v, then the
verdicts; exits 1 if a rule is broken."""
import os
import re
import sys

LAYERS = ("lib", "daemon", "plugins")
# Checked for file length only.
LENGTH_ONLY = ("tests",)
MAX_FILE = 800
MAX_FUNC = 80
# "file:function": why it may be longer than MAX_FUNC lines.
EXCEPTIONS = {}


def strip(src):
    """Comments and string/char literals blanked, line count kept."""
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                 src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", src)


def functions(lines):
    """(name, first line, last line, static) of each definition."""
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"([A-Za-z_]\w*)\(", lines[i])
        if not m or i == 0:
            i += 1
            continue
        # The signature ends at the first { or ; after it.
        j = i
        while j < len(lines) and "{" not in lines[j] and \
                not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= len(lines) or "{" not in lines[j]:
            i = j + 1
            continue
        k = j
        while k < len(lines) and not lines[k].startswith("}"):
            k += 1
        prev = lines[i - 1]
        out.append((m.group(1), i + 1, k + 1, prev.startswith("static")))
        i = k + 1
    return out


def scc(nodes, edges):
    """Tarjan: the strongly connected components of more than one node."""
    idx, low, stack, on, res = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        idx[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in idx:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                res.append(sorted(comp))

    for v in nodes:
        if v not in idx:
            visit(v)
    return res


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    top = args[0] if args else "."
    bad = 0
    longest_file = (0, "")
    longest_func = (0, "")
    for layer in LAYERS:
        d = os.path.join(top, layer)
        files = sorted(f for f in os.listdir(d) if f.endswith(".c"))
        src, defs, public = {}, {}, {}
        for f in files:
            text = open(os.path.join(d, f)).read()
            n = text.count("\n")
            name = layer + "/" + f
            longest_file = max(longest_file, (n, name))
            if n > MAX_FILE:
                print("codecheck: %s: %d lines (most %d)" %
                      (name, n, MAX_FILE))
                bad = 1
            lines = strip(text).split("\n")
            src[f] = lines
            for fn, a, b, static in functions(lines):
                key = name + ":" + fn
                length = b - a + 1
                longest_func = max(longest_func, (length, key))
                if length > MAX_FUNC and key not in EXCEPTIONS:
                    print("codecheck: %s: %d lines (most %d)" %
                          (key, length, MAX_FUNC))
                    bad = 1
                defs.setdefault(f, set()).add(fn)
                if not static:
                    public.setdefault(fn, set()).add(f)
        edges = {}
        for f in files:
            text = "\n".join(src[f])
            for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", text):
                fn = m.group(1)
                if fn in defs.get(f, ()) or fn not in public:
                    continue
                for g in public[fn]:
                    edges.setdefault(f, {}).setdefault(g, set()).add(fn)
        if verbose:
            for f in sorted(edges):
                for g in sorted(edges[f]):
                    print("%s/%s -> %s: %s" % (layer, f, g,
                          ", ".join(sorted(edges[f][g]))))
        cycles = scc(files, edges)
        for c in cycles:
            print("codecheck: %s: call cycle between %s" %
                  (layer, ", ".join(c)))
            bad = 1
        print("codecheck: %s: %d files, %s" %
              (layer, len(files), "no call cycles" if not cycles else
               "%d cycle(s)" % len(cycles)))
    for d in LENGTH_ONLY:
        files = sorted(f for f in os.listdir(os.path.join(top, d))
                       if f.endswith(".c"))
        over = 0
        for f in files:
            n = open(os.path.join(top, d, f)).read().count("\n")
            name = d + "/" + f
            longest_file = max(longest_file, (n, name))
            if n > MAX_FILE:
                print("codecheck: %s: %d lines (most %d)" %
                      (name, n, MAX_FILE))
                bad = over = 1
        print("codecheck: %s: %d files, %s" %
              (d, len(files), "file length only" if not over else
               "file(s) too long"))
    print("codecheck: largest .c file: %s (%d lines); longest function: "
          "%s (%d lines)" % (longest_file[1], longest_file[0],
                             longest_func[1], longest_func[0]))
    return bad


if __name__ == "__main__":
    sys.exit(main())
