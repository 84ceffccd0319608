"""TAP async jobs (UWS 1.1) in the central state: phases, ownership, list filters, clean-up."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from qserv.errors import NotFoundError, UserError
from qserv.instance import init_instance, read_instance
from qserv.meta import tap_jobs
from qserv.meta.models import TapJob
from qserv.meta.store import MetaStore
from qserv.meta.tap_jobs import (
    ABORTABLE, ACTIVE, FINAL, PHASES, abort_job, complete_job, create_job, delete_job, expired_jobs, fail_job,
    get_job, interrupted_jobs, list_jobs, parse_uws_time, queue_job, requeue_interrupted, set_destruction,
    set_execution_duration, set_parameters, start_job, uws_time,
)

DESTROY = datetime(2030, 1, 1)


def make_store(url):
    store = MetaStore(url)
    store.ensure_current()
    return store


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        home = init_instance(tmp_path / "home", workers=1)
        url = read_instance(home)["meta_url"]
    else:
        name = request.getfixturevalue("new_postgres_database")().split("dbname=")[1]
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    store = make_store(url)
    yield store
    store.dispose()


def new_job(store, owner="alice", phase=None, **fields):
    """A job committed in its own session, optionally forced into ``phase``; returns its id."""
    with store.session() as session:
        job = create_job(session, owner, {"QUERY": "SELECT 1", "LANG": "ADQL"}, 600, DESTROY)
        if phase is not None:
            job.phase = phase
        for name, value in fields.items():
            setattr(job, name, value)
        return job.id


def load(store, job_id):
    with store.session() as session:
        return session.get(TapJob, job_id)


def test_phase_tables():
    assert PHASES == ("PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "UNKNOWN", "HELD",
                      "SUSPENDED", "ARCHIVED")
    assert ACTIVE == ("QUEUED", "EXECUTING")
    assert FINAL == ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
    assert set(ABORTABLE) == {"PENDING", "QUEUED", "EXECUTING", "UNKNOWN", "HELD", "SUSPENDED"}


# -- creation and ownership -------------------------------------------------------------------

def test_create_stores_a_pending_job_with_normalized_parameters(any_store):
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    with any_store.session() as session:
        job = create_job(session, "alice", {"QUERY": "SELECT TOP 5 * FROM Object", "Lang": "ADQL", "MAXREC": 10,
                                            "upload": "t1,param:t1"}, 600, DESTROY, run_id="my run")
        job_id = job.id
    job = load(any_store, job_id)
    assert re.fullmatch(r"[0-9a-f]{16}", job_id)
    assert (job.owner, job.run_id, job.phase, job.execution_duration_s, job.destruction_time) == (
        "alice", "my run", "PENDING", 600, DESTROY)
    assert job.parameters == {"query": "SELECT TOP 5 * FROM Object", "lang": "ADQL", "maxrec": "10",
                              "upload": "t1,param:t1"}
    assert before <= job.creation_time <= datetime.now(timezone.utc).replace(tzinfo=None)
    assert (job.start_time, job.end_time, job.error_message, job.result_path, job.result_mime,
            job.result_rows, job.overflow, job.query_id) == (None, None, None, None, None, None, False, None)


def test_job_ids_differ(store):
    assert len({new_job(store) for _ in range(20)}) == 20


@pytest.mark.parametrize("parameters, duration, message", [
    ({"QUERY": "a", "query": "b"}, 600, "parameter QUERY is given twice"),
    ({}, 0, "positive number of seconds, got 0"),
    ({}, -5, "positive number of seconds, got -5"),
    ({}, 1.5, "whole number of seconds"),
    ({}, None, "whole number of seconds"),
])
def test_create_rejects_bad_input(store, parameters, duration, message):
    with store.session() as session, pytest.raises(UserError, match=re.escape(message)):
        create_job(session, "alice", parameters, duration, DESTROY)


def test_a_job_is_visible_only_to_its_owner_and_admins(store):
    job_id = new_job(store, owner="bob")
    with store.session() as session:
        assert get_job(session, job_id, "bob").id == job_id
        assert get_job(session, job_id, "alice", is_admin=True).id == job_id
        with pytest.raises(NotFoundError) as someone_else:
            get_job(session, job_id, "alice")
        with pytest.raises(NotFoundError) as missing:
            get_job(session, "0123456789abcdef", "alice")
        with pytest.raises(NotFoundError, match="no job"):
            get_job(session, "0123456789abcdef", "alice", is_admin=True)
    # the same answer as for a job that does not exist: existence is not revealed
    assert str(someone_else.value) == f"no job {job_id!r}"
    assert str(missing.value) == "no job '0123456789abcdef'"
    assert someone_else.value.http_status == 404


# -- phase changes ----------------------------------------------------------------------------

def test_a_job_runs_to_completion(any_store):
    job_id = new_job(any_store)
    with any_store.session() as session:
        assert queue_job(session, job_id) is True
    assert load(any_store, job_id).phase == "QUEUED"
    with any_store.session() as session:
        assert start_job(session, job_id) is True
    started = load(any_store, job_id)
    assert started.phase == "EXECUTING" and started.start_time is not None and started.end_time is None
    with any_store.session() as session:
        assert complete_job(session, job_id, "/results/x.vot", "application/x-votable+xml", 42, True, 7) is True
    job = load(any_store, job_id)
    assert (job.phase, job.result_path, job.result_mime, job.result_rows, job.overflow, job.query_id) == (
        "COMPLETED", "/results/x.vot", "application/x-votable+xml", 42, True, 7)
    assert job.start_time == started.start_time and job.end_time >= job.start_time
    with any_store.session() as session, pytest.raises(UserError, match=f"job {job_id} is COMPLETED: cannot run it"):
        queue_job(session, job_id)


def test_transitions_accept_a_job_object_and_update_it(store):
    with store.session() as session:
        job = create_job(session, "alice", {}, 60, DESTROY)
        assert queue_job(session, job) and job.phase == "QUEUED"
        assert start_job(session, job) and job.phase == "EXECUTING"
        assert fail_job(session, job, "boom", query_id=3) and job.phase == "ERROR"
        assert (job.error_message, job.query_id) == ("boom", 3) and job.end_time is not None


@pytest.mark.parametrize("phase", PHASES)
def test_queue(store, phase):
    job_id = new_job(store, phase=phase)
    with store.session() as session:
        if phase in ("PENDING", "HELD"):
            assert queue_job(session, job_id) is True
        elif phase in ACTIVE:
            assert queue_job(session, job_id) is False  # already queued: a second RUN changes nothing
        else:
            with pytest.raises(UserError, match=f"job {job_id} is {phase}: cannot run it"):
                queue_job(session, job_id)
    assert load(store, job_id).phase == ("QUEUED" if phase in ("PENDING", "HELD") else phase)


@pytest.mark.parametrize("phase", PHASES)
def test_start(store, phase):
    job_id = new_job(store, phase=phase)
    with store.session() as session:
        if phase == "QUEUED":
            assert start_job(session, job_id) is True
        elif phase in ("PENDING", "HELD"):
            with pytest.raises(UserError, match=f"job {job_id} is {phase}: queue it before starting it"):
                start_job(session, job_id)
        else:
            assert start_job(session, job_id) is False  # no longer QUEUED: left alone
    job = load(store, job_id)
    assert job.phase == ("EXECUTING" if phase == "QUEUED" else phase)
    assert (job.start_time is not None) == (phase == "QUEUED")


@pytest.mark.parametrize("phase", PHASES)
def test_complete(store, phase):
    job_id = new_job(store, phase=phase)
    with store.session() as session:
        if phase == "EXECUTING":
            assert complete_job(session, job_id, "/r", "text/csv", 1, False, None) is True
        elif phase == "ABORTED":
            assert complete_job(session, job_id, "/r", "text/csv", 1, False, None) is False
        else:
            with pytest.raises(UserError, match=f"job {job_id} is {phase}: cannot complete it"):
                complete_job(session, job_id, "/r", "text/csv", 1, False, None)
    job = load(store, job_id)
    assert job.phase == ("COMPLETED" if phase == "EXECUTING" else phase)
    assert job.result_path == ("/r" if phase == "EXECUTING" else None)


@pytest.mark.parametrize("phase", PHASES)
def test_fail(store, phase):
    job_id = new_job(store, phase=phase)
    with store.session() as session:
        if phase in ("QUEUED", "EXECUTING"):
            assert fail_job(session, job_id, "no column 'x'", query_id=5) is True
        elif phase == "ABORTED":
            assert fail_job(session, job_id, "no column 'x'") is False
        else:
            with pytest.raises(UserError, match=f"job {job_id} is {phase}: cannot fail it"):
                fail_job(session, job_id, "no column 'x'")
    job = load(store, job_id)
    failed = phase in ("QUEUED", "EXECUTING")
    assert job.phase == ("ERROR" if failed else phase)
    assert (job.error_message, job.query_id) == (("no column 'x'", 5) if failed else (None, None))
    assert (job.end_time is not None) == failed


@pytest.mark.parametrize("phase", PHASES)
def test_abort(store, phase):
    ended = datetime(2026, 1, 1) if phase in FINAL else None
    job_id = new_job(store, phase=phase, end_time=ended)
    with store.session() as session:
        assert abort_job(session, job_id) is (phase not in FINAL)
    job = load(store, job_id)
    if phase in FINAL:  # a no-op
        assert (job.phase, job.end_time) == (phase, ended)
    else:
        assert job.phase == "ABORTED" and job.end_time is not None


def test_abort_of_a_missing_job(store):
    with store.session() as session, pytest.raises(NotFoundError, match="no job 'nope'"):
        abort_job(session, "nope")
    with store.session() as session, pytest.raises(NotFoundError, match="no job 'nope'"):
        queue_job(session, "nope")


def test_runner_calls_on_a_deleted_job_return_false(store):
    job_id = new_job(store, phase="QUEUED")
    with store.session() as session:
        delete_job(session, session.get(TapJob, job_id))
    with store.session() as session:
        assert start_job(session, job_id) is False
        assert complete_job(session, job_id, "/r", "text/csv", 1, False, None) is False
        assert fail_job(session, job_id, "boom") is False


def test_an_abort_from_another_session_wins_over_the_runner(any_store):
    """The web layer aborts in its own session while the runner holds the job: the runner's
    start (and later its completion) must not bring the job back."""
    job_id = new_job(any_store, phase="QUEUED")
    with any_store.session() as runner:
        job = runner.get(TapJob, job_id)
        assert job.phase == "QUEUED"
        with any_store.session() as web:
            assert abort_job(web, job_id) is True
        assert start_job(runner, job) is False
        assert job.phase == "ABORTED"  # the runner's copy is refreshed
    running_id = new_job(any_store, phase="EXECUTING")
    with any_store.session() as runner:
        job = runner.get(TapJob, running_id)
        with any_store.session() as web:
            assert abort_job(web, running_id) is True
        assert complete_job(runner, job, "/r", "text/csv", 3, False, 1) is False
        assert fail_job(runner, job, "cancelled") is False
    job = load(any_store, running_id)
    assert (job.phase, job.result_path, job.error_message) == ("ABORTED", None, None)


# -- changes of a pending job -----------------------------------------------------------------

def test_execution_duration(store):
    job_id = new_job(store)
    with store.session() as session:
        job = session.get(TapJob, job_id)
        assert set_execution_duration(session, job, 120, 3600) == 120
        assert set_execution_duration(session, job, "300", 3600) == 300  # as sent in a form
        assert set_execution_duration(session, job, 99999, 3600) == 3600  # clamped
    assert load(store, job_id).execution_duration_s == 3600


@pytest.mark.parametrize("value, message", [
    (0, "positive number of seconds, got 0"),
    (-1, "positive number of seconds, got -1"),
    ("-1", "positive number of seconds, got -1"),
    ("1.5", "whole number of seconds"),
    (1.5, "whole number of seconds"),
    ("soon", "whole number of seconds"),
    ("", "whole number of seconds"),
    (True, "whole number of seconds"),
])
def test_execution_duration_rejects_bad_values(store, value, message):
    job_id = new_job(store)
    with store.session() as session, pytest.raises(UserError, match=re.escape(message)):
        set_execution_duration(session, session.get(TapJob, job_id), value, 3600)
    assert load(store, job_id).execution_duration_s == 600


@pytest.mark.parametrize("phase", [p for p in PHASES if p != "PENDING"])
def test_only_a_pending_job_changes_duration_and_parameters(store, phase):
    job_id = new_job(store, phase=phase)
    with store.session() as session:
        job = session.get(TapJob, job_id)
        with pytest.raises(UserError, match=f"job {job_id} is {phase}: its execution duration can only change"):
            set_execution_duration(session, job, 60, 3600)
        with pytest.raises(UserError, match=f"job {job_id} is {phase}: its parameters can only change"):
            set_parameters(session, job, {"MAXREC": "5"})
    job = load(store, job_id)
    assert job.execution_duration_s == 600 and "maxrec" not in job.parameters


def test_set_parameters_adds_and_replaces(store):
    job_id = new_job(store)
    with store.session() as session:
        job = session.get(TapJob, job_id)
        assert set_parameters(session, job, {"MAXREC": 5, "Query": "SELECT 2"}) == {
            "query": "SELECT 2", "lang": "ADQL", "maxrec": "5"}
    assert load(store, job_id).parameters == {"query": "SELECT 2", "lang": "ADQL", "maxrec": "5"}


def test_destruction_is_clamped_and_may_change_in_any_phase(store):
    job_id = new_job(store, phase="COMPLETED")
    latest = datetime(2029, 6, 1)
    with store.session() as session:
        job = session.get(TapJob, job_id)
        assert set_destruction(session, job, datetime(2028, 1, 1, 12), latest) == datetime(2028, 1, 1, 12)
        assert set_destruction(session, job, "2028-02-01T12:00:00+02:00", latest) == datetime(2028, 2, 1, 10)
        assert set_destruction(session, job, datetime(2028, 3, 1, 12, tzinfo=timezone(timedelta(hours=-1))),
                               latest) == datetime(2028, 3, 1, 13)
        assert set_destruction(session, job, datetime(2040, 1, 1), latest) == latest
        with pytest.raises(UserError, match="ISO 8601"):
            set_destruction(session, job, "tomorrow", latest)
    assert load(store, job_id).destruction_time == latest


# -- lists and clean-up -----------------------------------------------------------------------

@pytest.fixture
def listed(store):
    """Jobs created one minute apart from 10:00 on: alice's in several phases, one of bob's."""
    spec = [("alice", "PENDING"), ("alice", "COMPLETED"), ("bob", "EXECUTING"), ("alice", "ARCHIVED"),
            ("alice", "ERROR"), ("alice", "EXECUTING")]
    ids = [new_job(store, owner=owner, phase=phase, creation_time=datetime(2026, 11, 21, 10, minute))
           for minute, (owner, phase) in enumerate(spec)]
    return ids


def ids_of(jobs):
    return [job.id for job in jobs]


def test_list_is_in_creation_order_and_per_owner(store, listed):
    a_pending, a_done, b_running, a_archived, a_error, a_running = listed
    with store.session() as session:
        assert ids_of(list_jobs(session, "alice")) == [a_pending, a_done, a_error, a_running]
        assert ids_of(list_jobs(session, "bob")) == [b_running]
        assert list_jobs(session, "carol") == []
        assert ids_of(list_jobs(session, "carol", is_admin=True)) == [a_pending, a_done, b_running, a_error, a_running]


def test_list_creation_order_is_by_time_not_insertion(store):
    late = new_job(store, creation_time=datetime(2026, 11, 22))
    early = new_job(store, creation_time=datetime(2026, 11, 20))
    with store.session() as session:
        assert ids_of(list_jobs(session, "alice")) == [early, late]


def test_list_phase_filter_and_the_archived_rule(store, listed):
    a_pending, a_done, b_running, a_archived, a_error, a_running = listed
    with store.session() as session:
        assert ids_of(list_jobs(session, "alice", phases=["EXECUTING"])) == [a_running]
        assert ids_of(list_jobs(session, "alice", phases=["COMPLETED", "ERROR"])) == [a_done, a_error]
        assert ids_of(list_jobs(session, "alice", phases=["ARCHIVED"])) == [a_archived]
        assert ids_of(list_jobs(session, "alice", phases=["archived", "PENDING"])) == [a_pending, a_archived]
        assert ids_of(list_jobs(session, "x", is_admin=True, phases=["EXECUTING"])) == [b_running, a_running]
        assert list_jobs(session, "alice", phases=["QUEUED"]) == []
        with pytest.raises(UserError, match=r"unknown job phase 'DONE' \(expected one of PENDING, QUEUED"):
            list_jobs(session, "alice", phases=["DONE"])


def test_list_after_and_last(store, listed):
    a_pending, a_done, b_running, a_archived, a_error, a_running = listed
    with store.session() as session:
        # AFTER is strict: the job created at 10:01 exactly is not listed
        assert ids_of(list_jobs(session, "alice", after=datetime(2026, 11, 21, 10, 1))) == [a_error, a_running]
        assert ids_of(list_jobs(session, "alice", after="2026-11-21T10:01:30Z")) == [a_error, a_running]
        assert ids_of(list_jobs(session, "alice", after="2026-11-21T11:00:30+01:00")) == [a_done, a_error, a_running]
        assert list_jobs(session, "alice", after="2026-11-22") == []
        # LAST: the n most recent, newest first; ARCHIVED still left out
        assert ids_of(list_jobs(session, "alice", last=2)) == [a_running, a_error]
        assert ids_of(list_jobs(session, "alice", last="3")) == [a_running, a_error, a_done]
        assert ids_of(list_jobs(session, "alice", last=100)) == [a_running, a_error, a_done, a_pending]
        # filters combine: the most recent of the jobs in these phases created after 10:00
        assert ids_of(list_jobs(session, "alice", phases=["PENDING", "COMPLETED", "ARCHIVED"],
                                after=datetime(2026, 11, 21, 10, 0), last=1)) == [a_archived]
        for bad in (0, -1, "x", 1.5, True):
            with pytest.raises(UserError, match="LAST must be a positive whole number"):
                list_jobs(session, "alice", last=bad)
        with pytest.raises(UserError, match="ISO 8601"):
            list_jobs(session, "alice", after="yesterday")


def test_delete_returns_the_result_path(store):
    job_id = new_job(store, phase="COMPLETED", result_path="/results/abc.vot")
    other = new_job(store)
    with store.session() as session:
        assert delete_job(session, get_job(session, job_id, "alice")) == "/results/abc.vot"
        assert delete_job(session, get_job(session, other, "alice")) is None
    with store.session() as session:
        with pytest.raises(NotFoundError):
            get_job(session, job_id, "alice")
        assert session.query(TapJob).count() == 0


def test_expired_jobs(store):
    now = datetime(2026, 11, 21, 12)
    past = new_job(store, destruction_time=now - timedelta(days=1))
    exactly = new_job(store, destruction_time=now)
    new_job(store, destruction_time=now + timedelta(seconds=1))
    with store.session() as session:
        assert ids_of(expired_jobs(session, now)) == [past, exactly]
        assert ids_of(expired_jobs(session, now.replace(tzinfo=timezone.utc))) == [past, exactly]
        assert ids_of(expired_jobs(session, now - timedelta(days=2))) == []
    real_now = datetime.now(timezone.utc).replace(tzinfo=None)
    gone = new_job(store, destruction_time=real_now - timedelta(seconds=1))
    later = new_job(store, destruction_time=real_now + timedelta(hours=1))
    with store.session() as session:  # default: the current time
        expired = ids_of(expired_jobs(session))
        assert gone in expired and later not in expired


def test_interrupted_jobs_and_requeue(store):
    ids = {phase: new_job(store, phase=phase, creation_time=datetime(2026, 11, 21, 10, i))
           for i, phase in enumerate(PHASES)}
    with store.session() as session:
        session.get(TapJob, ids["EXECUTING"]).start_time = datetime(2026, 11, 21, 11)
    with store.session() as session:
        assert ids_of(interrupted_jobs(session)) == [ids["QUEUED"], ids["EXECUTING"]]
        assert load(store, ids["EXECUTING"]).phase == "EXECUTING"  # a read only
        requeued = requeue_interrupted(session)
        assert ids_of(requeued) == [ids["QUEUED"], ids["EXECUTING"]]
        assert all(job.phase == "QUEUED" and job.start_time is None for job in requeued)
    job = load(store, ids["EXECUTING"])
    assert (job.phase, job.start_time) == ("QUEUED", None)
    with store.session() as session:
        assert start_job(session, ids["EXECUTING"]) is True  # a runner can take it again
        assert {job.phase for job in session.query(TapJob) if job.id not in (ids["QUEUED"], ids["EXECUTING"])} == (
            set(PHASES) - {"QUEUED", "EXECUTING"})


# -- UWS times --------------------------------------------------------------------------------

def test_uws_time():
    assert uws_time(datetime(2026, 11, 21, 10)) == "2026-11-21T10:00:00.000Z"
    assert uws_time(datetime(2026, 11, 21, 10, 5, 7, 123999)) == "2026-11-21T10:05:07.123Z"
    assert uws_time(datetime(2026, 11, 21, 11, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-21T10:00:00.000Z"
    assert uws_time(None) is None


@pytest.mark.parametrize("text, expected", [
    ("2026-11-21T10:00:00.000Z", datetime(2026, 11, 21, 10)),
    ("2026-11-21T10:00:00Z", datetime(2026, 11, 21, 10)),
    ("2026-11-21T10:00:00z", datetime(2026, 11, 21, 10)),
    ("2026-11-21T10:00Z", datetime(2026, 11, 21, 10)),
    ("2026-11-21T10:00:00.5Z", datetime(2026, 11, 21, 10, 0, 0, 500000)),
    ("2026-11-21T12:30:00+02:30", datetime(2026, 11, 21, 10)),
    ("2026-11-21T05:00:00-05:00", datetime(2026, 11, 21, 10)),
    ("2026-11-21T10:00:00", datetime(2026, 11, 21, 10)),  # no zone: UTC
    (" 2026-11-21T10:00:00Z ", datetime(2026, 11, 21, 10)),
    ("2026-11-21", datetime(2026, 11, 21)),
])
def test_parse_uws_time(text, expected):
    parsed = parse_uws_time(text)
    assert parsed == expected and parsed.tzinfo is None


@pytest.mark.parametrize("text", ["", "  ", "yesterday", "2026-13-01T00:00:00Z", "2026-11-21T25:00:00Z",
                                  "2026-11-21T10:00:00ZZ", None, 1234])
def test_parse_uws_time_rejects_garbage(text):
    with pytest.raises(UserError, match="expected an ISO 8601 date and time such as 2026-11-21T10:00:00Z"):
        parse_uws_time(text)


def test_uws_time_round_trips():
    moment = datetime(2026, 11, 21, 10, 5, 7, 123000)
    assert parse_uws_time(uws_time(moment)) == moment
    assert tap_jobs.naive_utc(moment) is moment
