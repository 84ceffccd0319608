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


def postgres_description(dsn="host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=10"):
    """The PostgreSQL server and Q3C versions, or why they are not known."""
    try:
        import psycopg2

        connection = psycopg2.connect(dsn)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                server = cursor.fetchone()[0]
                cursor.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'q3c'")
                q3c = cursor.fetchone()
        finally:
            connection.close()
        return f"PostgreSQL {server}, Q3C {q3c[0] if q3c else '(not installed)'}"
    except Exception as error:  # the report says so instead of failing
        return f"PostgreSQL unavailable ({error.__class__.__name__})"
