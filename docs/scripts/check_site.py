"""Check the built documentation in headless Chromium and save screenshots.

    python docs/scripts/check_site.py [--html docs/_build/html] [--shots docs/_build/screenshots]

Serves the built site on 127.0.0.1 and loads, in Debian's ``chromium`` driven through the
DevTools protocol (tools/check_dashboard.py's client), the index, the Python API reference,
the accuracy page and the performance page.  Each must load with no JavaScript exception,
console error, failed request or HTTP error; every <img> must have decoded (naturalWidth >
0) and the page must hold what it is for (figures, API entries).  A PNG screenshot of each
page, and of each figure scrolled into view, goes to the screenshot folder.
Exit status 0 when every check passes; the failures are listed otherwise.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from check_dashboard import Browser, find_chromium, serve  # noqa: E402

# page -> (JS expression counting what the page is for, the least count, what it counts)
PAGES = {
    "index.html": ("document.querySelectorAll('article img').length", 1, "figures"),
    "api/python.html": ("document.querySelectorAll('dl.py.function, dl.py.class').length", 20,
                        "documented functions and classes"),
    "background/why-exact.html": ("document.querySelectorAll('article img').length", 2,
                                  "figures"),
    "background/performance.html": ("document.querySelectorAll('article img').length", 3,
                                    "figures"),
}

IMAGES = """
Array.from(document.querySelectorAll('img')).map(function(i) {
  return {src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
          width: i.naturalWidth};
})
"""


def console_errors(events):
    """Console errors and error log entries among DevTools events."""
    out = []
    for ev in events:
        p = ev.get("params", {})
        if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
            out.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                     for a in p.get("args", [])))
        elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(f"log error: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
    return out


def check_page(browser, base, page, shots):
    failures = []
    browser.navigate(f"{base}/{page}")
    if not browser.wait_for("document.readyState === 'complete'", timeout=30):
        return [f"{page}: did not finish loading"]
    # images decoded, then a moment for late scripts (search index, theme) to report errors
    browser.wait_for("Array.from(document.images).every(i => i.complete)", timeout=20)
    time.sleep(1.0)
    browser.call("Runtime.evaluate", expression="0")   # drain pending events
    errors = browser.js_errors() + console_errors(browser.events)
    failures += [f"{page}: {e}" for e in errors]
    expr, least, what = PAGES[page]
    count = browser.evaluate(expr)
    if count < least:
        failures.append(f"{page}: {count} {what}, expected at least {least}")
    images = browser.evaluate(IMAGES)
    for img in images:
        if not img["ok"]:
            failures.append(f"{page}: image {img['src']} did not render")
    stem = page.replace("/", "_").replace(".html", "")
    browser.screenshot(os.path.join(shots, f"{stem}.png"))
    for k in range(browser.evaluate("document.querySelectorAll('article img').length")):
        browser.evaluate(f"document.querySelectorAll('article img')[{k}]"
                         ".scrollIntoView({block: 'center'})")
        time.sleep(0.3)
        browser.screenshot(os.path.join(shots, f"{stem}_figure{k + 1}.png"))
    print(f"{page}: {count} {what}, {len(images)} images, {len(errors)} errors")
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", default=os.path.join(ROOT, "docs", "_build", "html"))
    ap.add_argument("--shots", default=os.path.join(ROOT, "docs", "_build", "screenshots"))
    args = ap.parse_args(argv)
    exe = find_chromium()
    if exe is None:
        print("chromium not found (apt-get install chromium)")
        return 1
    os.makedirs(args.shots, exist_ok=True)
    httpd = serve(args.html)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    browser = Browser(exe, width=1400, height=1000)
    failures = []
    try:
        browser.call("Log.enable")
        for page in PAGES:
            failures += check_page(browser, base, page, args.shots)
    finally:
        browser.close()
        httpd.shutdown()
    for f in failures:
        print("FAIL", f)
    print(f"site check: {len(PAGES)} pages, {len(failures)} failures; screenshots in "
          f"{args.shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
