#!/usr/bin/env python3
"""Build the scoring-cost benchmark feed from the five seed digests.

Reads the seed digests in /work/shared/reference/seeds/ (000, 002, 003, 004
are Markdown; 001 is a web page rendered to text), extracts every paper
(arXiv ID, title, authors as written in the seed, abstract), de-duplicates by
ID (first occurrence wins, order = seed file order, then order in the seed)
and writes an arXiv RSS feed for channel cs.LG, one announcement day (Friday
28 Mar 2025), in the same format as
tests/fixtures/arxiv/rss-cs.LG+cs.AI-2025-03-28.xml.

Usage: python3 scripts/make-bench-feed.py [SEED_DIR] [OUT_FILE]
Stdlib only; output is deterministic.
"""

import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SEEDS = "/work/shared/reference/seeds"
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "arxiv", "rss-bench-cs.LG-174.xml")

CHANNEL = "cs.LG"
DATE = "Fri, 28 Mar 2025 00:00:00 -0500"
RIGHTS = "http://creativecommons.org/licenses/by/4.0/"

# The seed tool split the nickname-bearing author "Yun (Eric) Liang" into two
# comma-separated names. Undo exactly that known fault; keep everything else
# as the seed shows it (TeX accents included).
AUTHOR_FIXES = [("Yun (Eric), Liang", "Yun (Eric) Liang")]

ID_RE = re.compile(r"^\d{4}\.\d{4,5}$")


def fix_authors(authors):
    for bad, good in AUTHOR_FIXES:
        authors = authors.replace(bad, good)
    return authors


def parse_markdown(text, name):
    """Seeds 000/002/003/004: '## N. [Title](https://arxiv.org/abs/ID) <a id=...>'
    followed by '**ArXiv ID:**', '**Authors:**', '**Abstract:**' lines."""
    papers = []
    head_re = re.compile(r"^## (\d+)\. \[(.*)\]\(https?://arxiv\.org/abs/([^)\s]+)\)\s*<a id=")
    cur = None
    for line in text.splitlines():
        m = head_re.match(line)
        if m:
            if cur:
                papers.append(cur)
            cur = {"title": m.group(2).strip(), "url_id": m.group(3).strip()}
            continue
        if cur is None:
            continue
        for key, field in (("**ArXiv ID:**", "id"), ("**Authors:**", "authors"),
                           ("**Abstract:**", "abstract")):
            if line.startswith(key) and field not in cur:
                cur[field] = line[len(key):].strip()
    if cur:
        papers.append(cur)
    return check(papers, name)


def parse_webtext(text, name):
    """Seed 001: detail section has 'N. Title' (at column 0), then
    'ArXiv ID: ...', 'Authors: ...', 'Abstract: ...' lines, separated by
    blank lines. The table of contents uses indented '  N. Title Authors: ...'
    lines and is skipped because it has no ArXiv ID line."""
    lines = text.splitlines()
    papers = []
    title_re = re.compile(r"^(\d+)\. (.+)$")
    for i, line in enumerate(lines):
        if not line.startswith("ArXiv ID:"):
            continue
        # nearest preceding non-blank line is the numbered title
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        m = title_re.match(lines[j])
        if not m:
            sys.exit(f"{name}: no title line before line {i + 1}")
        cur = {"title": m.group(2).strip(), "id": line[len("ArXiv ID:"):].strip()}
        # the fields follow until the next ArXiv ID / Comment line
        for k in range(i + 1, min(i + 12, len(lines))):
            l2 = lines[k]
            if l2.startswith("ArXiv ID:") or l2.startswith("Comment:"):
                break
            if l2.startswith("Authors:") and "authors" not in cur:
                cur["authors"] = l2[len("Authors:"):].strip()
            elif l2.startswith("Abstract:") and "abstract" not in cur:
                cur["abstract"] = l2[len("Abstract:"):].strip()
        papers.append(cur)
    return check(papers, name)


def check(papers, name):
    for n, p in enumerate(papers, 1):
        for field in ("id", "title", "authors", "abstract"):
            if not p.get(field):
                sys.exit(f"{name}: paper {n} lacks {field}: {p}")
        if not ID_RE.match(p["id"]):
            sys.exit(f"{name}: paper {n} has odd arXiv ID {p['id']!r}")
        if "url_id" in p and p["url_id"] != p["id"]:
            sys.exit(f"{name}: paper {n} link ID {p['url_id']} != ArXiv ID {p['id']}")
        p["authors"] = fix_authors(p["authors"])
    return papers


def esc(s):
    # Same escaping as the real feed: & < > only (quotes stay literal).
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(papers):
    out = []
    w = out.append
    w("<?xml version='1.0' encoding='UTF-8'?>")
    w('<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
      'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'version="2.0">')
    w("  <channel>")
    w(f"    <title>{CHANNEL} updates on arXiv.org</title>")
    w(f"    <link>http://rss.arxiv.org/rss/{CHANNEL}</link>")
    w(f"    <description>{CHANNEL} updates on the arXiv.org e-print archive.</description>")
    w(f'    <atom:link href="https://rss.arxiv.org/rss/{CHANNEL}" rel="self" type="application/rss+xml"/>')
    w("    <docs>http://www.rssboard.org/rss-specification</docs>")
    w("    <language>en-us</language>")
    w(f"    <lastBuildDate>{DATE}</lastBuildDate>")
    w("    <managingEditor>rss-help@arxiv.org</managingEditor>")
    w(f"    <pubDate>{DATE}</pubDate>")
    w("    <skipDays>")
    w("      <day>Sunday</day>")
    w("      <day>Saturday</day>")
    w("    </skipDays>")
    for p in papers:
        pid = p["id"]
        w("    <item>")
        w(f"      <title>{esc(p['title'])}</title>")
        w(f"      <link>https://arxiv.org/abs/{pid}</link>")
        w(f"      <description>arXiv:{pid}v1 Announce Type: new ")
        w(f"Abstract: {esc(p['abstract'])}</description>")
        w(f'      <guid isPermaLink="false">oai:arXiv.org:{pid}v1</guid>')
        w(f"      <category>{CHANNEL}</category>")
        w(f"      <pubDate>{DATE}</pubDate>")
        w("      <arxiv:announce_type>new</arxiv:announce_type>")
        w(f"      <dc:rights>{RIGHTS}</dc:rights>")
        w(f"      <dc:creator>{esc(p['authors'])}</dc:creator>")
        w("    </item>")
    w("  </channel>")
    w("</rss>")
    return "\n".join(out) + "\n"


def main():
    seeds = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SEEDS
    out_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    files = sorted(f for f in os.listdir(seeds) if f.endswith(".txt"))
    if len(files) != 5:
        sys.exit(f"expected 5 seed digests in {seeds}, found {len(files)}")
    all_papers = []
    for f in files:
        with open(os.path.join(seeds, f), encoding="utf-8") as fh:
            text = fh.read()
        if f.startswith("001_"):
            papers = parse_webtext(text, f)
        else:
            papers = parse_markdown(text, f)
        m = re.search(r"Total relevant papers: (\d+)", text)
        if m and int(m.group(1)) != len(papers):
            sys.exit(f"{f}: parsed {len(papers)} papers, digest says {m.group(1)}")
        print(f"{f}: {len(papers)} papers")
        all_papers.extend(papers)
    seen, unique = set(), []
    for p in all_papers:
        if p["id"] in seen:
            print(f"duplicate {p['id']} dropped: {p['title']}")
            continue
        seen.add(p["id"])
        unique.append(p)
    print(f"total {len(all_papers)} papers, {len(unique)} unique")
    with open(out_path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(render(unique))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
