"""Put the latest `make bench` table into docs/PERFORMANCE.md: the text between the markers
<!-- bench:begin --> and <!-- bench:end --> becomes tests/bench/results/latest.md, and its chart
is copied to docs/performance.png.  Run by `make bench-doc`."""

import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
LATEST = os.path.join(ROOT, "tests", "bench", "results", "latest.md")


def main():
    with open(LATEST) as f:
        table = f.read().strip()
    table = table.replace("](latest.png)", "](performance.png)")
    png = os.path.join(os.path.dirname(LATEST), "latest.png")
    if os.path.exists(png):
        shutil.copyfile(png, os.path.join(ROOT, "docs", "performance.png"))
    table = re.sub(r"^## ", "### ", table, flags=re.M)
    with open(DOC) as f:
        doc = f.read()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in doc or end not in doc:
        sys.exit("doc.py: %s has no %s ... %s block" % (DOC, begin, end))
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(DOC, "w") as f:
        f.write(head + begin + "\n" + table + "\n" + end + tail)
    print("doc.py: %s updated from %s" % (os.path.relpath(DOC, ROOT), os.path.relpath(LATEST, ROOT)))


if __name__ == "__main__":
    main()
