"""Run the README's Python blocks and check the values they show.

    python docs/scripts/check_readme.py [README.md]

Each ```python block runs as a script; a line whose comment starts with "->" must be an
expression whose repr() equals the text after the arrow.  Exit status 1, naming the line,
on any difference or exception.
"""
import re
import sys

FENCE = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
SHOWN = re.compile(r"^(?P<code>.*?)\s*#\s*->\s*(?P<want>.+?)\s*$")


def check(text):
    """The failures (one message each) of the README's ```python blocks."""
    failures = []
    for block_no, block in enumerate(FENCE.findall(text), 1):
        def shown(line_no, code, got, want):
            if repr(got) != want:
                failures.append(f"block {block_no} line {line_no}: {code} gives {got!r}, "
                                f"the README shows {want}")
        lines = []
        for line_no, line in enumerate(block.splitlines(), 1):
            m = SHOWN.match(line)
            lines.append(line if not m else
                         f"__shown({line_no}, {m['code'].strip()!r}, {m['code'].strip()}, "
                         f"{m['want']!r})")
        try:
            exec("\n".join(lines), {"__shown": shown})
        except Exception as e:  # noqa: BLE001 - reported with the block
            failures.append(f"block {block_no} raised {type(e).__name__}: {e}")
    return failures


def main(argv):
    path = argv[1] if len(argv) > 1 else "README.md"
    with open(path) as f:
        failures = check(f.read())
    for msg in failures:
        print(msg)
    print(f"{path}: {'OK' if not failures else f'{len(failures)} wrong'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
