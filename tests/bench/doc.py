"""Put the latest `make bench` table into docs/PERFORMANCE.md: the text between the markers
<!-- bench:begin --> and <!-- bench:end --> becomes tests/bench/results/latest.md (made again
from latest.json, so a run that was interrupted before it wrote its report still gives one), and
its chart is copied to docs/performance.png.  A partial run is marked so in the heading and says
which workloads it did not reach.  Run by `make bench-doc`."""

import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
LATEST = os.path.join(ROOT, "tests", "bench", "results", "latest.md")


def main():
    data = None
    js = LATEST[:-3] + ".json"
    if os.path.exists(js):
        with open(js) as f:
            data = json.load(f)
        report.write_all(data, os.path.dirname(LATEST))
    elif not os.path.exists(LATEST):
        sys.exit(f"doc.py: no {os.path.relpath(js, ROOT)}: run `make bench` first")
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
    if data and data.get("meta", {}).get("partial"):
        print("doc.py: that run is partial: " + report.partial_status(data["meta"]))


if __name__ == "__main__":
    main()
