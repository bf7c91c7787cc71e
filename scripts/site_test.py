#!/usr/bin/env python3
"""site_test.py - `make site-test`: opens every page of the docs site in
headless Chromium and checks what a reader would notice.

    python3 scripts/site_test.py [--verbose] [--exercises CH,...] SITE_DIR SCREENSHOT.png [SUMMARY]

For each build/site/*.html, opened as a file:// URL:
  - the page loaded: it has a title;
  - every <img> finished loading and has a width (complete && naturalWidth > 0);
  - every local link leads to a file that exists and, if it has a #anchor,
    to an element with that id (web links are not followed: this never
    leaves the machine);
  - on a chapter page (NN-*.html), every folded solution - a <details>
    whose <summary> says "Show the solution" - is closed when the page
    loads, its code not shown, and opens, its code shown, when its summary
    is clicked (a real click, through WebDriver); the page of a chapter
    named in --exercises folds at least one.
Then it saves a screenshot of one chapter page.  It prints one line (one
per page too with --verbose) and writes that line, without its prefix, to
SUMMARY if given.

Chromium is driven through chromedriver's WebDriver HTTP API, with nothing
but the standard library (urllib, json, subprocess).  chromedriver is started
here, on a loopback port, in its own process group; that group (chromedriver
and the Chromium it starts) is ended in a `finally`, so a failing check
never leaves a browser behind.  As root (CI) Chromium needs --no-sandbox.
"""
import base64
import html.parser
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few WebDriver commands this test needs, over plain HTTP."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read().decode())["value"]
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise RuntimeError("WebDriver %s %s failed: %s" % (method, path, detail[:500]))

    def wait_until_up(self, proc, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("chromedriver exited with status %d" % proc.returncode)
            try:
                if self.call("GET", "/status", timeout=2).get("ready"):
                    return
            except (urllib.error.URLError, ConnectionError, RuntimeError, OSError):
                pass
            time.sleep(0.1)  # polling a server that gives no other signal
        raise RuntimeError("chromedriver did not answer within %d s" % seconds)

    def start(self, chromium, user_data_dir):
        args = ["--headless=new", "--disable-gpu", "--window-size=1280,900",
                "--user-data-dir=" + user_data_dir, "--no-first-run",
                "--no-default-browser-check", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--disable-extensions", "--allow-file-access-from-files"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root otherwise
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def go(self, url):
        self.call("POST", "/session/%s/url" % self.session, {"url": url})

    def title(self):
        return self.call("GET", "/session/%s/title" % self.session)

    def script(self, source):
        return self.call("POST", "/session/%s/execute/sync" % self.session,
                         {"script": source, "args": []})

    def elements(self, css):
        found = self.call("POST", "/session/%s/elements" % self.session,
                          {"using": "css selector", "value": css})
        return [next(iter(e.values())) for e in found]

    def click(self, element):
        self.call("POST", "/session/%s/element/%s/click" % (self.session, element), {})

    def screenshot(self):
        return base64.b64decode(self.call("GET", "/session/%s/screenshot" % self.session))

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "/session/%s" % self.session, timeout=10)
            except Exception:
                pass  # the process group is killed next anyway
            self.session = None


# Runs in the page: the state of every image once loading has finished, and
# every link target as the browser resolved it.
PAGE_PROBE = """
const imgs = Array.from(document.images).map(i => ({
  src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth}));
const links = Array.from(document.querySelectorAll('a[href]')).map(a => a.href);
return {imgs: imgs, links: links, ready: document.readyState};
"""


# Runs in the page: the state of every folded solution, in page order.  Each
# gets a data attribute so that WebDriver can find its summary to click it.
SOLUTIONS_PROBE = """
const blocks = Array.from(document.querySelectorAll('details')).filter(d => {
  const s = d.querySelector(':scope > summary');
  return s && s.textContent.trim() === 'Show the solution';
});
return blocks.map((d, i) => {
  d.querySelector(':scope > summary').setAttribute('data-site-test-solution', i);
  const body = Array.from(d.children).filter(c => c.tagName !== 'SUMMARY');
  // A closed <details> keeps its content laid out but hidden
  // (content-visibility), so offsetHeight alone would say "shown".
  const visible = c => c.checkVisibility ? c.checkVisibility() : c.offsetHeight > 0;
  return {open: d.open, shown: body.some(visible),
          code: d.querySelectorAll('pre').length};
});
"""


def check_solutions(wd, page, problems):
    """Every folded solution is closed on load and opens when clicked.
    Returns how many the page has."""
    before = wd.script(SOLUTIONS_PROBE)
    for i, b in enumerate(before):
        if b["open"] or b["shown"]:
            problems.append("%s: solution block %d is open when the page loads" % (page, i + 1))
        if b["code"] == 0:
            problems.append("%s: solution block %d holds no code" % (page, i + 1))
    for summary in wd.elements("summary[data-site-test-solution]"):
        wd.click(summary)
    after = wd.script(SOLUTIONS_PROBE)
    for i, b in enumerate(after):
        if not (b["open"] and b["shown"]):
            problems.append("%s: solution block %d did not open when its summary was clicked"
                            % (page, i + 1))
    return len(before)


class IdCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


_ids_cache = {}


def ids_in(path):
    if path not in _ids_cache:
        collector = IdCollector()
        with open(path, encoding="utf-8", errors="replace") as f:
            collector.feed(f.read())
        _ids_cache[path] = collector.ids
    return _ids_cache[path]


def check_link(page, href, problems):
    url = urllib.parse.urlparse(href)
    if url.scheme in ("http", "https", "mailto"):
        return  # not fetched: the test stays on this machine
    if url.scheme != "file":
        problems.append("%s: link with an unexpected scheme: %s" % (page, href))
        return
    target = urllib.parse.unquote(url.path)
    if not os.path.exists(target):
        problems.append("%s: link to %s, which does not exist" % (page, href))
        return
    if url.fragment and target.endswith(".html"):
        anchor = urllib.parse.unquote(url.fragment)
        if anchor not in ids_in(target):
            problems.append("%s: link to #%s, but %s has no such id"
                            % (page, anchor, os.path.basename(target)))


def main():
    args = sys.argv[1:]
    verbose = bool(args) and args[0] == "--verbose"
    if verbose:
        args = args[1:]
    # --exercises 02-mutex,03-manager-task,...: the chapters whose pages must
    # hold at least one folded solution (the chapters with an exercise).
    exercises = set()
    if len(args) >= 2 and args[0] == "--exercises":
        exercises = set(x for x in args[1].split(",") if x)
        args = args[2:]
    if len(args) not in (2, 3):
        print("usage: site_test.py [--verbose] [--exercises CH,...] SITE_DIR SCREENSHOT.png [SUMMARY]",
              file=sys.stderr)
        return 2
    site, shot_path = os.path.abspath(args[0]), args[1]
    summary_path = args[2] if len(args) == 3 else None
    pages = sorted(f for f in os.listdir(site) if f.endswith(".html"))
    if not pages:
        print("site-test: no pages in %s (run make docs)" % site, file=sys.stderr)
        return 1
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        print("site-test: chromium and chromedriver are needed: scripts/setup.sh browser",
              file=sys.stderr)
        return 1

    # SIGTERM (a CI timeout, make being stopped) must run the clean-up in
    # `finally` too: turn it into an ordinary exit.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    port = free_port()
    profile = tempfile.mkdtemp(prefix="site-test-chromium-")
    log = open(os.path.join(profile, "chromedriver.log"), "w")
    # Its own session and process group, so that it and every Chromium
    # process it starts can be ended together, by this group's id only.
    driver_proc = subprocess.Popen([chromedriver, "--port=%d" % port, "--allowed-ips=127.0.0.1"],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wd = WebDriver(port)
    problems = []
    checked_imgs = checked_links = checked_solutions = 0
    try:
        wd.wait_until_up(driver_proc)
        wd.start(chromium, os.path.join(profile, "profile"))
        for page in pages:
            path = os.path.join(site, page)
            wd.go("file://" + urllib.parse.quote(path))
            title = wd.title()
            if not title.strip():
                problems.append("%s: no title: the page did not load" % page)
            probe = wd.script(PAGE_PROBE)
            for img in probe["imgs"]:
                checked_imgs += 1
                if not img["complete"] or img["width"] <= 0:
                    problems.append("%s: image %s did not load" % (page, img["src"]))
            for href in probe["links"]:
                checked_links += 1
                check_link(page, href, problems)
            solutions = 0
            if page[:2].isdigit() and page[2] == "-":
                solutions = check_solutions(wd, page, problems)
                checked_solutions += solutions
                if page[:-len(".html")] in exercises and solutions == 0:
                    problems.append("%s: the chapter has an exercise but its page folds no "
                                    "solution (<details> with \"Show the solution\")" % page)
            if verbose:
                print("site-test: %-24s %-45.45s %2d image(s), %3d link(s), %d folded solution(s)"
                      % (page, title, len(probe["imgs"]), len(probe["links"]), solutions))
        chapter = next((p for p in pages if p[:2].isdigit() and p[:2] != "00"), pages[0])
        wd.go("file://" + urllib.parse.quote(os.path.join(site, chapter)))
        os.makedirs(os.path.dirname(os.path.abspath(shot_path)), exist_ok=True)
        with open(shot_path, "wb") as f:
            f.write(wd.screenshot())
        if verbose:
            print("site-test: screenshot of %s in %s" % (chapter, shot_path))
    except Exception as e:  # report, then clean up below
        problems.append("the browser run failed: %s" % e)
        try:
            with open(os.path.join(profile, "chromedriver.log")) as f:
                tail = f.read()[-2000:]
            problems.append("chromedriver's log ends with:\n" + tail)
        except OSError:
            pass
    finally:
        wd.quit()
        try:
            os.killpg(driver_proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            driver_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(driver_proc.pid, signal.SIGKILL)
            driver_proc.wait()
        # Chromium children in the same group that outlived chromedriver.
        try:
            os.killpg(driver_proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(profile, ignore_errors=True)

    for p in problems:
        print("site-test: FAIL " + p, file=sys.stderr)
    if problems:
        return 1
    line = ("%d pages loaded, %d images shown, %d links lead somewhere, "
            "%d solution block(s) closed on load and open on a click"
            % (len(pages), checked_imgs, checked_links, checked_solutions))
    print("site-test: " + line)
    if summary_path:
        with open(summary_path, "w") as f:
            f.write("%d pages, %d images, %d links, %d solution block(s): all work\n"
                    % (len(pages), checked_imgs, checked_links, checked_solutions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
