"""Run the README's Python blocks and check the outputs they show.

    python docs/scripts/check_readme.py [README.md]

A ```python block with ``>>>`` lines is a doctest (each shown output compared, with
NORMALIZE_WHITESPACE and ELLIPSIS); any other block runs as a script.  The blocks run in
order in one namespace.  Exit status 1, with the differences, if any example fails.
"""
import doctest
import re
import sys

FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def check(path):
    """(failures, examples tried) over the README's ```python blocks."""
    with open(path) as f:
        text = f.read()
    ns = {"__name__": "readme"}
    failures = tries = 0
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 2
        code = m.group(1)
        if ">>>" not in code:
            exec(compile(code, f"{path}:{line}", "exec"), ns)
            continue
        test = doctest.DocTestParser().get_doctest(code, ns, f"{path}:{line}", path, line - 1)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE
                                       | doctest.ELLIPSIS)
        runner.run(test, clear_globs=False)
        ns.update(test.globs)
        failures += runner.failures
        tries += runner.tries
    return failures, tries


def main(argv):
    path = argv[1] if len(argv) > 1 else "README.md"
    failures, tries = check(path)
    print(f"{path}: {tries} examples, {failures} failed")
    return 1 if failures or not tries else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
