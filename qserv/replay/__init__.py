"""Regression replay (issue 20): re-run logged or curated queries and classify each answer.

- ``sources``: the queries to replay (an instance's query log, an exported JSON lines log, a
  corpus directory of ``.sql`` files with expected answers or a reference database).
- ``compare``: classification of one re-run against what was logged or expected (pure).
- ``runner``: re-running them on an instance, concurrently, within a time budget.
- ``report``: text, JSON and JUnit XML reports, regressions first, and the exit code.
- ``cli``: ``qserv replay`` and ``qserv snapshot tag|list|release``.

This package imports nothing heavy itself: the CLI reads these choices when it starts.
"""

FORMATS = ("text", "json", "junit")  # report formats
AS_OF_CHOICES = ("logged", "current")  # what a replayed query reads
