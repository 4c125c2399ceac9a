#!/usr/bin/env python3
"""Check the asv dashboard in headless Chromium, and save a screenshot.

    python tools/check_dashboard.py [--no-publish] [--screenshot asv_bench/dashboard.png]

1. ``asv publish`` (in asv_bench/) builds the static site in asv_bench/.asv/html
   (skip with --no-publish);
2. the site is served by Python's http.server on 127.0.0.1 (a free port);
3. Debian's ``chromium`` loads, headless, through the DevTools protocol on a pipe
   (--remote-debugging-pipe; standard library only):
     - index.html: the summary grid lists the benchmarks and draws their thumbnails;
     - index.html#<benchmark>: the graph page of a benchmark draws its series (the canvas
       holds coloured pixels, not only axes), for a timing, a peakmem and a track benchmark;
     - index.html#/summarylist lists them, index.html#/regressions loads;
   and fails on any JavaScript exception or failed request;
4. PNG screenshots are saved: a timing graph (--screenshot), the accuracy graph
   (--accuracy-screenshot) and the summary grid (--grid-screenshot).

Exit status 0 when every check passes; the failures are listed otherwise.
"""
import argparse
import base64
import functools
import http.server
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASV_DIR = os.path.join(ROOT, "asv_bench")

# Benchmarks whose graph pages are checked (first one present in the results is used
# per kind); the first timing one is the screenshot.
GRAPH_CANDIDATES = {
    "time": ["bench_logits.Functions.time_call?p-n=1000000&p-reduction=%27mean%27"
             "&x-axis-scale=even",
             "bench_logits.Sizes.time_pass"],
    "peakmem": ["bench_logits.PeakMemory.peakmem_call"],
    "track": ["bench_accuracy.Reference.track_max_ulp?p-dtype=%27float64%27&x-axis-scale=even",
              "bench_accuracy.Config.track_simd_level"],
}


# asv's pages load jQuery, flot, bootstrap, stupidtable and md5 from CDNs.  Without network
# access (CI here) they are replaced by Debian's packaged copies (apt-get install
# libjs-jquery libjs-jquery-flot libjs-jquery-stupidtable node-blueimp-md5 libjs-bootstrap):
# the published html is rewritten to load them from html/vendor/ (--no-vendor to keep the
# CDN links).  Debian's flot is 4.x, a single file that includes the time, selection and
# categories plugins; the orderBars plugin (bar ordering in asv's bar charts) has no Debian
# package and is replaced by a no-op; asv's bundled axislabels plugin (for flot 0.8) is
# dropped since flot 4 draws axis labels itself; a stylesheet gives flot 4's SVG legend the
# white background that flot 0.8 drew (it is black otherwise).
DEBIAN_JS = "/usr/share/javascript"
VENDOR = {  # CDN file name -> Debian file (None: an empty stub)
    "jquery-3.3.1.min.js": "jquery/jquery.min.js",
    "jquery.flot.min.js": "jquery-flot/jquery.flot.js",
    "jquery.flot.time.min.js": None,
    "jquery.flot.selection.min.js": None,
    "jquery.flot.categories.min.js": None,
    "jquery.flot.orderBars.js": None,
    "jquery.flot.axislabels.js": None,  # asv's own copy, for flot 0.8: flot 4 has its own
    "stupidtable.min.js": "jquery-stupidtable/stupidtable.min.js",
    "md5.min.js": "blueimp-md5/md5.min.js",
    "bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
}
_TAG_RE = re.compile(r"""<(script|link)\b[^>]*?(?:src|href)="(https?://[^"]+)"[^>]*>""")


def vendor_offline(html_dir):
    """Rewrite the published pages to load their CDN libraries from html_dir/vendor."""
    missing = [f for f in VENDOR.values() if f and not os.path.exists(os.path.join(DEBIAN_JS, f))]
    if missing:
        raise FileNotFoundError(
            "Debian JS packages missing (apt-get install libjs-jquery libjs-jquery-flot "
            "libjs-jquery-stupidtable node-blueimp-md5 libjs-bootstrap): " + ", ".join(missing))
    vdir = os.path.join(html_dir, "vendor")
    os.makedirs(vdir, exist_ok=True)
    for name, src in VENDOR.items():
        dst = os.path.join(vdir, name)
        if src is None:
            with open(dst, "w") as f:
                f.write("/* not packaged in Debian: no-op stand-in (see tools/check_dashboard.py) */\n")
        else:
            shutil.copyfile(os.path.join(DEBIAN_JS, src), dst)
    with open(os.path.join(vdir, "cbce-offline-fixes.css"), "w") as f:
        f.write(".legendLayer rect.background { fill: #ffffff; fill-opacity: 0.9; "
                "stroke: #bbbbbb; }\n")
    changed = 0
    for page in os.listdir(html_dir):
        if not page.endswith(".html"):
            continue
        path = os.path.join(html_dir, page)
        with open(path) as f:
            text = f.read()

        def local(m):
            tag, url = m.group(1), m.group(2)
            name = url.rsplit("/", 1)[-1]
            if name not in VENDOR:
                return m.group(0)
            if tag == "script":
                return f'<script src="vendor/{name}">'
            return f'<link rel="stylesheet" href="vendor/{name}">'

        new = _TAG_RE.sub(local, text)
        new = new.replace('src="jquery.flot.axislabels.js"', 'src="vendor/jquery.flot.axislabels.js"')
        if "cbce-offline-fixes.css" not in new:
            new = new.replace("</head>", '<link rel="stylesheet" href="vendor/cbce-offline-fixes.css">'
                              "\n</head>", 1)
        if new != text:
            changed += 1
            with open(path, "w") as f:
                f.write(new)
    print(f"== vendored the CDN libraries into {vdir} ({changed} pages rewritten)")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Quiet(http.server.SimpleHTTPRequestHandler):
    """Static files, without a log line per request (errors are seen by the browser)."""

    def log_message(self, fmt, *args):
        pass


def serve(directory):
    handler = functools.partial(Quiet, directory=directory)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class Browser:
    """Minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, exe, width=1400, height=900):
        self.profile = tempfile.mkdtemp(prefix="cbce-dashboard-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies/events on fd 4.
        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--mute-audio",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
                f"--window-size={width},{height}", "about:blank"]

        def wire():  # in the child: the pipe ends onto fds 3 and 4, inheritable
            import fcntl
            r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(args, preexec_fn=wire,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=False)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.no_results = set()
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        pages = [t for t in targets if t["type"] == "page"]
        if pages:
            target = pages[0]["targetId"]
        else:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Network.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            remaining = deadline - time.time()
            if remaining <= 0 or not select.select([self.from_chrome], [], [], remaining)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (crashed?)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=60, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error evaluating {expression[:60]!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression, timeout=30.0, poll=0.25):
        """Poll a JS expression until it is truthy; return its last value."""
        deadline = time.time() + timeout
        value = None
        while time.time() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(poll)
        return value

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)

    def js_errors(self):
        """JS exceptions and failed requests since the last navigation.

        A 404 for graphs/summary/<benchmark>.json is not an error: asv writes no summary
        for a benchmark without any result (skipped everywhere, e.g. PyTorch not installed).
        """
        out = []
        for ev in self.events:
            if ev["method"] == "Runtime.exceptionThrown":
                d = ev["params"]["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text"))
            elif ev["method"] == "Network.loadingFailed":
                out.append(f"request failed: {ev['params'].get('errorText')}")
            elif ev["method"] == "Network.responseReceived":
                status = ev["params"]["response"]["status"]
                url = ev["params"]["response"]["url"]
                if status == 404 and "/graphs/summary/" in url:
                    self.no_results.add(url.split("/graphs/summary/")[1].split(".json")[0])
                elif status >= 400:
                    out.append(f"HTTP {status} for {ev['params']['response']['url']}")
        return out

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self.to_chrome, self.from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


# JavaScript run in the page: the number of "coloured" pixels (series lines/points, not the
# grey/black axes and grid) over the flot canvases inside `selector`.
COLOURED_PIXELS = r"""
(function(selector) {
  var total = 0, canvases = 0;
  document.querySelectorAll(selector + ' canvas').forEach(function(c) {
    if (!c.width || !c.height) return;
    canvases += 1;
    var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (var i = 0; i < d.length; i += 4) {
      var r = d[i], g = d[i+1], b = d[i+2], a = d[i+3];
      if (a > 64 && (Math.max(r, g, b) - Math.min(r, g, b)) > 60) total += 1;
    }
  });
  return {canvases: canvases, coloured: total};
})(%s)
"""


def publish():
    print("== asv publish")
    subprocess.run([sys.executable, "-m", "asv", "publish"], cwd=ASV_DIR, check=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--no-publish", action="store_true", help="use the existing html folder")
    ap.add_argument("--html-dir", default=os.path.join(ASV_DIR, ".asv", "html"))
    ap.add_argument("--screenshot", default=os.path.join(ASV_DIR, "dashboard.png"),
                    help="PNG of a graph page (default asv_bench/dashboard.png)")
    ap.add_argument("--grid-screenshot", default=os.path.join(ASV_DIR, "dashboard-grid.png"),
                    help="PNG of the summary grid ('' to skip)")
    ap.add_argument("--accuracy-screenshot",
                    default=os.path.join(ASV_DIR, "dashboard-accuracy.png"),
                    help="PNG of the max-ulp accuracy graph ('' to skip)")
    ap.add_argument("--no-vendor", action="store_true",
                    help="keep the CDN links (needs network access in the browser)")
    ap.add_argument("--benchmark", help="graph page for the screenshot (a benchmark name)")
    ap.add_argument("--min-commits", type=int, default=1,
                    help="fail if the dashboard covers fewer commits than this")
    args = ap.parse_args(argv)

    if not args.no_publish:
        publish()
    index = os.path.join(args.html_dir, "index.json")
    if not os.path.exists(index):
        print(f"FAIL: {index} not found (run asv publish first)")
        return 1
    with open(index) as f:
        meta = json.load(f)
    benchmarks = meta.get("benchmarks", {})
    revisions = meta.get("revision_to_hash", {})
    print(f"== site: {len(benchmarks)} benchmarks, {len(revisions)} commits with results, "
          f"params {sorted(meta.get('params', {}))}")

    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    check(len(benchmarks) > 0, "index.json lists benchmarks")
    check(len(revisions) >= args.min_commits,
          f"results for >= {args.min_commits} commits (have {len(revisions)})")

    if not args.no_vendor:
        vendor_offline(args.html_dir)

    exe = find_chromium()
    if exe is None:
        print("FAIL: chromium not found (apt-get install chromium)")
        return 1
    httpd = serve(args.html_dir)
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    print(f"== serving {args.html_dir} at {base}; browser {exe}")
    browser = Browser(exe)
    try:
        # 1. the summary grid
        browser.navigate(base + "index.html")
        n = browser.wait_for(
            "document.querySelectorAll('#summarygrid-display .benchmark-container').length", 30)
        check(bool(n) and n >= min(len(benchmarks), 1), f"summary grid shows benchmarks ({n})")
        grid = browser.wait_for(
            "document.querySelectorAll('#summarygrid-display .benchmark-plot canvas').length", 30)
        check(bool(grid), f"summary grid thumbnails drawn ({grid} canvases)")
        title = browser.evaluate("document.title")
        check("cbce" in (title or ""), f"page title names the project ({title!r})")
        errs = browser.js_errors()
        check(not errs, "index.html: no JS errors or failed requests" + (f": {errs}" if errs else ""))
        if args.grid_screenshot:
            browser.screenshot(args.grid_screenshot)
            print(f"   saved {args.grid_screenshot}")

        # 2. graph pages
        for kind, candidates in GRAPH_CANDIDATES.items():
            names = [args.benchmark] if (args.benchmark and kind == "time") else candidates
            # a benchmark with results (asv writes graphs/summary/<name>.json for those)
            name = next((b for b in names if b.split("?")[0] in benchmarks and os.path.exists(
                os.path.join(args.html_dir, "graphs", "summary", b.split("?")[0] + ".json"))),
                None)
            if name is None:
                check(False, f"a {kind} benchmark among {names} has results")
                continue
            # The check loads the graph without presentation options ("even" spacing draws
            # nothing for a single commit); the screenshot uses them where there is history.
            plain = name.replace("&x-axis-scale=even", "").replace("?x-axis-scale=even", "")
            # a full page load per graph (distinct query string), so checks are independent
            browser.navigate(base + f"index.html?check={kind}#" + plain)
            res = browser.wait_for(
                "(function(){var r=%s; return r.coloured > 10 ? r : null;})()"
                % (COLOURED_PIXELS % json.dumps("#main-graph")).strip(), 30)
            res = res or browser.evaluate(COLOURED_PIXELS % json.dumps("#main-graph"))
            check(bool(res) and res.get("coloured", 0) > 10,
                  f"graph of {plain} draws its series ({res})")
            errs = browser.js_errors()
            check(not errs, f"graph of {plain}: no JS errors" + (f": {errs}" if errs else ""))
            shot = {"time": args.screenshot, "track": args.accuracy_screenshot}.get(kind)
            if shot:
                if name != plain and len(revisions) >= 2:
                    browser.navigate(base + f"index.html?shot={kind}#" + name)
                    browser.wait_for(
                        "(function(){var r=%s; return r.coloured > 10 ? r : null;})()"
                        % (COLOURED_PIXELS % json.dumps("#main-graph")).strip(), 30)
                time.sleep(1.0)
                browser.screenshot(shot)
                print(f"   saved {shot}")

        # 3. the benchmark list and the regressions page
        browser.navigate(base + "index.html?check=list#/summarylist")
        rows = browser.wait_for("document.querySelectorAll('#summarylist-body tr').length", 30)
        check(bool(rows), f"benchmark list shows rows ({rows})")
        browser.navigate(base + "index.html?check=regressions#/regressions")
        ok = browser.wait_for("document.querySelectorAll('#regressions-body *').length", 30)
        errs = browser.js_errors()
        check(bool(ok) and not errs, "regressions view loads" + (f": {errs}" if errs else ""))
    finally:
        browser.close()
        httpd.shutdown()
    if browser.no_results:
        print(f"   note: {len(browser.no_results)} benchmark(s) without any result (skipped "
              f"everywhere): {sorted(browser.no_results)}")
    if failures:
        print(f"\ndashboard check FAILED ({len(failures)}):")
        for f in failures:
            print("  -", f)
        return 1
    print("\ndashboard check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
