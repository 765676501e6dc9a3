"""Check a flame graph SVG as an XML parser and a geometry would.

Usage: check_svg.py FILE [--embedded]

Parses FILE with expat (strict XML 1.0: well-formed, valid UTF-8, no
forbidden characters), then checks every frame (<g class="f">): its rect
is as wide as its bytes' share of the root, placed at its offset's share,
inside its parent's range, and children never hold more than their parent.
Prints one line per frame: depth, bytes, fill, then the frame's name (the
first line of its <title>), so that the caller can compare names. Exits 1
with a message on the first problem. With --embedded, FILE is an HTML page
and the <svg id="fg"> element inside it is checked.
"""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print("check_svg: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    path = sys.argv[1]
    data = open(path, "rb").read()
    if "--embedded" in sys.argv:
        m = re.search(rb'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" id="fg".*?</svg>',
                      data, re.S)
        if not m:
            fail("no flame graph in the page")
        data = m.group(0)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        fail(f"not XML: {e}")
    if root.tag != NS + "svg":
        fail(f"root is {root.tag}")
    width = float(root.get("data-w"))
    pad = float(root.get("data-pad"))
    frames = []
    for g in root.iter(NS + "g"):
        if g.get("class") != "f":
            continue
        rect = g.find(NS + "rect")
        title = g.find(NS + "title")
        text = g.find(NS + "text")
        if rect is None or title is None or text is None:
            fail("a frame without rect, title or text")
        frames.append({
            "v": int(g.get("data-v")), "o": int(g.get("data-o")), "d": int(g.get("data-d")),
            "x": float(rect.get("x")), "w": float(rect.get("width")),
            "fill": rect.get("fill"), "name": (title.text or "").split("\n")[0],
            "label": text.text or "",
        })
    scripts = list(root.iter(NS + "script"))
    if len(scripts) != 1:
        fail(f"{len(scripts)} scripts")
    for el in root.iter():
        for k, v in el.attrib.items():
            if k.endswith("href") or "url(" in v:
                fail(f"a reference to another file: {k}={v}")
    if not frames:
        print("no frames")
        return
    total = frames[0]["v"]
    if frames[0]["d"] != 0 or frames[0]["o"] != 0:
        fail("the first frame is not the root")
    by_depth = {}
    for f in frames:
        if abs(f["w"] - f["v"] / total * width) > 0.01:
            fail(f"width {f['w']} for {f['v']} of {total} bytes")
        if abs(f["x"] - (pad + f["o"] / total * width)) > 0.01:
            fail(f"x {f['x']} for offset {f['o']}")
        if f["o"] + f["v"] > total:
            fail("a frame past the root's end")
        by_depth.setdefault(f["d"], []).append(f)
    # Frames of one depth do not overlap, and each lies within a frame of
    # the depth below.
    for d, fs in by_depth.items():
        fs.sort(key=lambda f: f["o"])
        for a, b in zip(fs, fs[1:]):
            if a["o"] + a["v"] > b["o"]:
                fail(f"frames overlap at depth {d}")
        if d == 0:
            continue
        for f in fs:
            if not any(p["o"] <= f["o"] and f["o"] + f["v"] <= p["o"] + p["v"]
                       for p in by_depth.get(d - 1, [])):
                fail(f"a frame at depth {d} has no parent")
    for d in by_depth:
        if sum(f["v"] for f in by_depth[d]) > total:
            fail(f"depth {d} holds more than the root")
    out = sys.stdout.buffer
    for f in frames:
        out.write(f"{f['d']} {f['v']} {f['fill']} ".encode() + f["name"].encode("utf-8") + b"\n")


main()
