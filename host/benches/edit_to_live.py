#!/usr/bin/env python3
"""Edit-to-live time per language (BENCHMARKS.md, "The handler author's loop").

For each of rust, python, js and c: a fresh project (`sandserve new`), `sandserve dev` on
it over a small site, then EDITS edits that each change every answer (an `X-Edit: N`
field). Prints, per language, the steps `dev` timed: the first loop (from `dev`'s start
to the first answer) and each edit's build, check, swap and loop (from the saved file's
modification to the first answer of the new version), and their medians.

    host/benches/edit_to_live.py [--edits N] [--tools DIR] [--langs rust,python,js,c]

--tools: the tools cache (SANDSERVE_TOOLS); a new empty folder makes the first loop
cold: the toolchain is installed (PyPI, npm, crates.io) and the compiled-handler cache
(XDG_CACHE_HOME, always fresh here) is empty. Default: the repository's target/tools,
which guest/build-handlers filled (warm). Run with nothing else busy.
"""

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(TOP, "target/release/sandserve")

# The text each edit changes: the field is added before Content-Length the first time.
ANCHOR = {
    "python": ('f"Content-Length: {size}', 'f"X-Edit: {n}\\r\\nContent-Length: {size}'),
    "js": ("Content-Length: ${size}", "X-Edit: {n}\\r\\nContent-Length: ${size}"),
    "rust": ("Content-Length: {length}", "X-Edit: {n}\\r\\nContent-Length: {length}"),
    "c": ("Content-Length: %lld", "X-Edit: {n}\\r\\nContent-Length: %lld"),
}
SOURCE = {"python": "app.py", "js": "handler.js", "rust": "src/lib.rs", "c": "handler.c"}


def edit(path, lang, n):
    text = open(path).read()
    if n == 1:
        old, new = ANCHOR[lang]
        text = text.replace(old, new.replace("{n}", "1"), 1)
    else:
        text = text.replace(f"X-Edit: {n - 1}\\r\\n", f"X-Edit: {n}\\r\\n", 1)
    with open(path, "w") as f:
        f.write(text)


def run(lang, edits, tools, port):
    work = tempfile.mkdtemp(prefix=f"edit-to-live-{lang}-")
    project = os.path.join(work, f"bench-{lang}")
    site = os.path.join(work, "site")
    os.makedirs(site)
    for name, text in [("index.html", "<p>home</p>\n"), ("a.txt", "hello\n"), ("404.html", "no\n")]:
        with open(os.path.join(site, name), "w") as f:
            f.write(text)
    env = dict(os.environ, SANDSERVE_TOOLS=tools, XDG_CACHE_HOME=os.path.join(work, "cache"))
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([BIN, "new", "--lang", lang, project], check=True, env=env, stdout=subprocess.DEVNULL)
    lines = []
    started = time.monotonic()
    dev = subprocess.Popen(
        [BIN, "dev", project, "--root", site, "--listen", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    threading.Thread(target=lambda: [lines.append(l) for l in dev.stdout], daemon=True).start()

    def wait(count):
        while sum(1 for l in lines if l.startswith(("dev: live", "dev: refused"))) < count:
            if dev.poll() is not None:
                raise SystemExit(f"{lang}: dev exited:\n" + "".join(lines))
            time.sleep(0.05)

    wait(1)
    first = time.monotonic() - started
    for n in range(1, edits + 1):
        time.sleep(1.0)  # a person's pause; also lets the poll see a new mtime
        edit(os.path.join(project, SOURCE[lang]), lang, n)
        wait(n + 1)
    dev.terminate()
    dev.wait()
    steps = {"build": [], "check": [], "swap": [], "loop": []}
    edits_seen = 0
    for line in lines:
        if line.startswith("dev: edit"):
            edits_seen += 1
        if edits_seen == 0:
            continue
        for step in ("build", "check", "swap"):
            if line.startswith(f"dev: {step} "):
                m = re.search(r"([0-9.]+) s$", line.strip())
                if m:
                    steps[step].append(float(m.group(1)))
        m = re.search(r"loop ([0-9.]+) s from the save", line)
        if m:
            steps["loop"].append(float(m.group(1)))
    if any("refused" in l for l in lines):
        print(f"{lang}: a build was refused:\n" + "".join(lines))
    return first, steps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--tools", default=os.path.join(TOP, "target/tools"))
    parser.add_argument("--langs", default="rust,python,js,c")
    args = parser.parse_args()
    print(f"tools cache: {args.tools}")
    print("| language | first loop s (dev start → first answer) | build s | check s | swap s | edit → live s (median) | each edit's loop s |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for i, lang in enumerate(args.langs.split(",")):
        first, steps = run(lang, args.edits, os.path.abspath(args.tools), 18400 + i)
        med = lambda xs: f"{statistics.median(xs):.2f}" if xs else "-"
        print(
            f"| {lang} | {first:.1f} | {med(steps['build'])} | {med(steps['check'])} | "
            f"{med(steps['swap'])} | **{med(steps['loop'])}** | {', '.join(f'{x:.2f}' for x in steps['loop'])} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
