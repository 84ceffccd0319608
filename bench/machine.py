"""The machine and library versions a benchmark ran with."""

import os
import platform
from importlib.metadata import PackageNotFoundError, version


def memory_gib():
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def describe(packages):
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{memory_gib():.0f} GiB, Python {platform.python_version()}; " + ", ".join(versions))
