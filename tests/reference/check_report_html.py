#!/usr/bin/env python3
"""Checks an HTML report (`bedrock-cost-exporter report --format html`) with a real HTML5 parser:
html5lib in strict mode, which raises on any parse error the WHATWG algorithm reports (a missing
doctype, a stray end tag, a bad character reference, ...). Then, on the parsed tree: one
self-contained file (no script, no external resource: no src/href/xlink:href/srcset attribute, no
URL scheme in any attribute or in the CSS, no @import), an inline <style> with @media print rules,
an inline <svg> bar chart per currency, a table per currency. Prints what it found as JSON (table
headers and body rows), exits non-zero with the reason otherwise.

usage: check_report_html.py FILE
"""
import json
import re
import sys

import html5lib

NS = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


def text(el):
    return "".join(el.itertext()).strip()


def fail(message):
    print(f"check_report_html: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    raw = open(sys.argv[1], "rb").read()
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
    try:
        doc = parser.parse(raw, transport_encoding="utf-8")
    except html5lib.html5parser.ParseError as e:
        fail(f"not valid HTML5: {e}")
    if not raw.lstrip().lower().startswith(b"<!doctype html>"):
        fail("no <!DOCTYPE html> first")
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        local = tag.split("}")[-1]
        if local in ("script", "link", "img", "iframe", "object", "embed", "base", "use", "image"):
            fail(f"<{local}> in a self-contained report")
        for name, value in el.attrib.items():
            short = name.split("}")[-1]
            if short in ("src", "href", "srcset", "action", "formaction", "poster", "data"):
                fail(f"<{local} {short}=...>: a reference to another resource")
            if re.search(r"[a-z][a-z0-9+.-]*://", value, re.I) or "url(" in value.lower():
                fail(f"<{local} {short}={value!r}>: an external URL")
            if short.startswith("on"):
                fail(f"<{local} {short}>: an event handler")
    styles = [text(s) for s in doc.iter(NS + "style")]
    if not styles:
        fail("no inline <style>")
    css = "\n".join(styles)
    if "@media print" not in css:
        fail("no @media print rules")
    if re.search(r"url\(|@import|://", css, re.I):
        fail("the CSS loads something")
    charts = list(doc.iter(SVG + "svg"))
    tables = list(doc.iter(NS + "table"))
    sections = []
    for table in tables:
        head = [text(th) for th in table.iter(NS + "th")]
        body = []
        for part in ("tbody", "tfoot"):
            for section in table.iter(NS + part):
                for tr in section.iter(NS + "tr"):
                    body.append({"class": tr.get("class"), "cells": [text(td) for td in tr.iter(NS + "td")]})
        sections.append({"headers": head, "rows": body})
    bars = [len(list(svg.iter(SVG + "rect"))) for svg in charts]
    print(json.dumps({
        "title": text(next(doc.iter(NS + "title"))),
        "h2": [text(h) for h in doc.iter(NS + "h2")],
        "charts": len(charts),
        "bars": bars,
        "tables": sections,
        "status": [text(s) for s in doc.iter(NS + "span") if "status" in (s.get("class") or "")],
        "notes": [text(p) for div in doc.iter(NS + "div") if div.get("class") == "notes" for p in div.iter(NS + "p")],
    }))


if __name__ == "__main__":
    main()
