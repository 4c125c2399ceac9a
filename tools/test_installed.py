#!/usr/bin/env python3
"""Run the test suite against the installed cbce, not the source tree.

    python tools/test_installed.py PROJECT_DIR [pytest arguments]

Copies PROJECT_DIR's tests/ (with its reference tables), tools/, include/, the C core
sources that tests read (src/cbce/core/), the generated files gen_registry.py --check
compares, README.md and pyproject.toml into a temporary folder, checks that
`import cbce` there finds the package installed in this Python's environment (sys.prefix:
not PROJECT_DIR, nor a copy in a parent environment), and runs pytest in that folder.  tools/build_release.sh runs it for the repaired wheel and for the
sdist; cibuildwheel's test-command (pyproject.toml) is the same call.  Exit status: pytest's.
"""
import os
import shutil
import subprocess
import sys
import tempfile

# the generated files gen_registry.py --check compares (tests/test_registry.py) included
COPIED = ["tests", "tools", "include", os.path.join("src", "cbce", "core"), "README.md",
          "pyproject.toml"] + [os.path.join("src", "cbce", f)
                               for f in ("_registry.py", "cbce.pxd", "__init__.pyi")]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    project = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="cbce-installed-") as tmp:
        for name in COPIED:
            src, dst = os.path.join(project, name), os.path.join(tmp, name)
            if os.path.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(src, dst)
        where = subprocess.run(
            [sys.executable, "-c", "import cbce, cbce._core; print(cbce.__file__); "
             "print(cbce._core.__file__); print(cbce.__version__)"],
            cwd=tmp, capture_output=True, text=True)
        if where.returncode != 0:
            sys.exit(f"test_installed: cbce does not import:\n{where.stderr}")
        init, core, version = where.stdout.split()
        print(f"test_installed: cbce {version} from {os.path.dirname(init)} "
              f"(extension {os.path.getsize(core) / 1e6:.2f} MB)")
        if not init.startswith(os.path.join(sys.prefix, "")):
            sys.exit(f"test_installed: cbce was imported from {init}, not from this "
                     f"environment ({sys.prefix})")
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *sys.argv[2:]]
        return subprocess.run(cmd, cwd=tmp).returncode


if __name__ == "__main__":
    sys.exit(main())
