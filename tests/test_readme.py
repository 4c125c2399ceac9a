"""Every ```python block of README.md runs, and shows what it prints.

Convention: a block with ``>>>`` lines is a doctest (each shown output is compared, with
NORMALIZE_WHITESPACE and ELLIPSIS; an exception shows ``Traceback (most recent call last):``
and its last line); any other block is executed as a script. The blocks run in order in one
namespace, as a reader would type them. The README's shell commands are run by .ci/run.
"""
import doctest
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "README.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 2        # first line of the block's code
        out.append((line, m.group(1)))
    return out


BLOCKS = _blocks()


def test_readme_has_python_blocks():
    assert BLOCKS, f"{README}: no ```python block found"
    assert any(">>>" in code for _, code in BLOCKS), (
        f"{README}: no ```python block shows outputs (>>> lines) to check")


@pytest.fixture(scope="module")
def namespace():
    return {"__name__": "readme"}


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"README.md:{ln}" for ln, _ in BLOCKS])
def test_readme_block(line, code, namespace):
    if ">>>" in code:
        test = doctest.DocTestParser().get_doctest(code, namespace, f"README.md:{line}",
                                                  README, line - 1)
        runner = doctest.DocTestRunner(
            optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
        report = []
        runner.run(test, out=report.append, clear_globs=False)
        namespace.update(test.globs)          # DocTest works on a copy of the namespace
        assert runner.failures == 0, (
            f"README.md block at line {line}: {runner.failures} of {runner.tries} examples "
            f"differ:\n" + "".join(report))
    else:
        exec(compile(code, f"README.md:{line}", "exec"), namespace)
