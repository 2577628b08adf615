"""``make bench``: what guarding a session costs per request, in one run."""

from __future__ import annotations

import platform
import sys

from benchmarks.overhead import overhead, table


def main() -> None:
    print(f"Python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    print("In-process, one live session, memory store; medians over interleaved batches.\n")
    print(table(overhead()))


if __name__ == "__main__":
    sys.exit(main())
