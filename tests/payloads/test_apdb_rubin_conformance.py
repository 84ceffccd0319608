"""lsst.dax.apdb's own conformance suite (ApdbTest, ApdbSchemaUpdateTest) against ApdbQserv, on
DuckDB and PostgreSQL workers, with replica chunks on and off."""

import itertools
from pathlib import Path
import unittest

import pytest

pytest.importorskip("lsst.dax.apdb", reason="the rubin extra (lsst-dax-apdb) is not installed")

from lsst.dax.apdb import ApdbTables  # noqa: E402
from lsst.dax.apdb.pixelization import Pixelization  # noqa: E402
from lsst.dax.apdb.tests import ApdbSchemaUpdateTest, ApdbTest  # noqa: E402

from qserv.payloads.apdb.rubin import ApdbQserv  # noqa: E402
from qserv.payloads.apdb.rubin.engines import close_engine  # noqa: E402

SCHEMA = str(Path(__file__).with_name("apdb_conformance_schema.yaml"))
_names = itertools.count()


class QservInstance:
    """A fresh qserv instance per test (``backend``: duckdb or postgres, 2 workers)."""

    backend = "duckdb"

    @pytest.fixture(autouse=True)
    def _qserv_home(self, tmp_path, new_instance):
        self.home = tmp_path / "home"
        new_instance(self.home, self.backend, 2)
        yield
        close_engine(self.home)

    def init(self, database, **kwargs):
        kwargs.setdefault("schema_file", SCHEMA)
        kwargs.setdefault("ss_schema_file", "")
        return ApdbQserv.init_database(home=self.home, database=database, **kwargs)


class QservApdbTest(QservInstance, ApdbTest):
    def make_instance(self, **kwargs):
        kwargs.setdefault("enable_replica", self.enable_replica)
        return self.init(f"apdb{next(_names)}", **kwargs)

    def getDiaObjects_table(self):
        return ApdbTables.DiaObject

    def pixelization(self, config):
        return Pixelization("htm", 20, 64)

    def store_update_records(self, apdb, records, chunk):
        apdb._storeUpdateRecords(records, chunk, store_chunk=True)

    def _count_after_reset_dedup(self, count_before):
        return count_before  # an explicit time: resetDedup does not remove rows


class QservSchemaUpdateTest(QservInstance, ApdbSchemaUpdateTest):
    def make_instance(self, **kwargs):
        return self.init("apdb", **kwargs)  # the same database on every call


class TestApdbDuckDB(QservApdbTest, unittest.TestCase):
    pass


class TestApdbDuckDBReplica(QservApdbTest, unittest.TestCase):
    enable_replica = True
    meta_row_count = 4


class TestApdbPostgres(QservApdbTest, unittest.TestCase):
    backend = "postgres"


class TestApdbPostgresReplica(QservApdbTest, unittest.TestCase):
    backend = "postgres"
    enable_replica = True
    meta_row_count = 4


class TestApdbSchemaUpdateDuckDB(QservSchemaUpdateTest, unittest.TestCase):
    pass


class TestApdbSchemaUpdatePostgres(QservSchemaUpdateTest, unittest.TestCase):
    backend = "postgres"
