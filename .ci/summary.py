"""Prints CI's summary from the pytest JUnit reports in a folder: counts
per backend, each backend's wall time, and the slowest tests, so that a
creeping suite shows before it reaches the time limit.

Usage: python .ci/summary.py REPORTS_DIR [SLOWEST]
"""

import glob
import os
import sys
import xml.etree.ElementTree as ET


def main(folder, slowest=15):
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    timings = []
    for path in sorted(glob.glob(os.path.join(folder, "*.xml"))):
        backend = os.path.basename(path)[: -len(".xml")]
        root = ET.parse(path).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        tests = int(suite.get("tests"))
        skipped = int(suite.get("skipped"))
        failed = int(suite.get("failures")) + int(suite.get("errors"))
        passed = tests - skipped - failed
        wall = _wall_seconds(folder, backend, float(suite.get("time")))
        print(
            f"{backend}: {passed} passed, {failed} failed, {skipped} "
            f"skipped in {wall:.0f} s"
        )
        totals["passed"] += passed
        totals["failed"] += failed
        totals["skipped"] += skipped
        for case in suite.iter("testcase"):
            name = f"{case.get('classname')}::{case.get('name')}"
            timings.append((float(case.get("time", 0)), backend, name))
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
