"""Check memtrace's HTML page as a browser's parser would see it.

Usage: check_html.py FILE

Fails (exit 1) when the page refers to anything outside itself (scripts,
styles, fonts, images, frames, links other than to its own anchors), when
a script holds text that would end it early, or when its two drawings (the
timeline and the flame graph) are not well-formed XML. Prints what a reader
sees where names from the traced program appear:
  title TEXT        the page's <title>
  code TEXT         each <code> (process names, allocators)
  summary TEXT      each stack's summary line
  warning TEXT      each warning
  timeline POINTS SERIES
"""
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser


def fail(msg):
    print("check_html: " + msg, file=sys.stderr)
    sys.exit(1)


class Page(HTMLParser):
    VOID = {"meta", "br", "hr", "input", "wbr", "area", "col", "source", "track", "param"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open = []          # [tag, text] of each open element
        self.out = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("link", "iframe", "object", "embed", "img", "frame", "base"):
            fail(f"<{tag}> refers outside the page")
        if "src" in a:
            fail(f"<{tag} src=...>")
        for k, v in a.items():
            if k in ("href", "xlink:href") and not (v or "").startswith("#"):
                fail(f"a link out of the page: {v}")
            if "url(" in (v or ""):
                fail(f"url() in an attribute: {v}")
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.open.append([tag, ""])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        while self.open:
            t, text = self.open.pop()
            if t != tag:
                continue
            in_list = any(o[0] == "ul" for o in self.open)
            if tag in ("title", "code", "summary") or (tag == "li" and in_list):
                self.out.append(("warning" if tag == "li" else tag) + " " + text)
            if tag == "style" and ("@import" in text or "url(" in text):
                fail("the style loads something")
            break

    def handle_data(self, data):
        for o in self.open:
            o[1] += data


def main():
    raw = open(sys.argv[1], "rb").read()
    try:
        html = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(f"not UTF-8: {e}")
    if not html.startswith("<!DOCTYPE html>"):
        fail("no doctype")
    # A script ends at the first "</script" whatever its quotes say.
    for m in re.finditer(r"<script[^>]*>(.*?)</script>", html, re.S | re.I):
        body = m.group(1)
        if "<!--" in body or "</script" in body.lower():
            fail("a script holds text that would end it early")
    page = Page()
    page.feed(html)
    page.close()
    if page.scripts != 2:
        fail(f"{page.scripts} scripts, not 2 (the flame graph's and the page's)")
    for name, pattern in (("timeline", r'<svg class="timeline".*?</svg>'),
                          ("flame graph", r'<svg xmlns="http://www.w3.org/2000/svg" '
                                          r'version="1.1" id="fg".*?</svg>')):
        m = re.search(pattern, html, re.S)
        if not m:
            fail(f"no {name}")
        try:
            svg = ET.fromstring(m.group(0).encode("utf-8"))
        except ET.ParseError as e:
            fail(f"the {name} is not XML: {e}")
        if name == "timeline":
            ns = "{http://www.w3.org/2000/svg}"
            points = len(svg.get("data-t").split(","))
            series = [p for p in svg.iter(ns + "path") if p.get("class") == "s"]
            for p in series:
                if len(p.get("data-v").split(",")) != points:
                    fail("a series without a value (or gap) per point")
            page.out.append(f"timeline {points} {len(series)}")
    sys.stdout.buffer.write(("\n".join(page.out) + "\n").encode("utf-8"))


main()
