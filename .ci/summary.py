"""Prints CI's summary from the pytest JUnit reports in a folder: counts
per backend, each backend's wall time, and the slowest tests, so that a
creeping suite shows before it reaches the time limit. A backend whose
tests ran in parts (`torch.1.xml`, `torch.2.xml`) is summed over them.

Usage: python .ci/summary.py REPORTS_DIR [SLOWEST]
"""

import glob
import os
import sys
import xml.etree.ElementTree as ET


def main(folder, slowest=15):
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    backends = {}
    timings = []
    for path in sorted(glob.glob(os.path.join(folder, "*.xml"))):
        part = os.path.basename(path)[: -len(".xml")]
        backend = part.split(".")[0]
        root = ET.parse(path).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        tests = int(suite.get("tests"))
        skipped = int(suite.get("skipped"))
        failed = int(suite.get("failures")) + int(suite.get("errors"))
        counts = backends.setdefault(
            backend, {"passed": 0, "failed": 0, "skipped": 0, "walls": []}
        )
        counts["passed"] += tests - skipped - failed
        counts["failed"] += failed
        counts["skipped"] += skipped
        counts["walls"].append(
            _wall_seconds(folder, part, float(suite.get("time")))
        )
        for case in suite.iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            timings.append((float(case.get("time", 0)), backend, name))
    for backend, counts in backends.items():
        walls = counts.pop("walls")
        parts = " + ".join(f"{w:.0f}" for w in walls)
        wall = (
            f"{parts} s" if len(walls) == 1 else f"{sum(walls):.0f} s ({parts})"
        )
        print(
            f"{backend}: {counts['passed']} passed, {counts['failed']} "
            f"failed, {counts['skipped']} skipped in {wall}"
        )
        for key in totals:
            totals[key] += counts[key]
    print(
        f"total: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped"
    )
    timings.sort(reverse=True)
    print(f"\nslowest {slowest} tests:")
    for seconds, backend, name in timings[:slowest]:
        print(f"{seconds:8.1f} s  {backend:10s} {name}")


def _wall_seconds(folder, backend, fallback):
    # .ci/run writes each pytest process's wall time (start-up and
    # collection included) beside its report.
    try:
        with open(os.path.join(folder, f"{backend}.seconds")) as file:
            return float(file.read())
    except (OSError, ValueError):
        return fallback


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
