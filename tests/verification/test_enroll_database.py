"""The SQLite enrollment database: idempotent enrollment, settings checks, concurrent writers
and killed writers."""

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sigver.errors import SigverError
from sigver.settings import PreprocessingSettings
from sigver.verification.database import (
    DatabaseSettings,
    EnrollmentDatabase,
    Reference,
)

SETTINGS = DatabaseSettings(model_sha256="a" * 64, model_path="model.pth", feature_dim=8,
                            preprocessing=PreprocessingSettings(canvas_size=(300, 500)))


def ref(i: int, dim: int = 8) -> Reference:
    return Reference(file_sha256=f"{i:064x}", source_path=f"sig{i}.png",
                     features=np.full(dim, i, dtype=np.float32))


def test_enroll_is_idempotent_by_file_content(tmp_path):
    with EnrollmentDatabase(tmp_path / "s.db", create=True) as store:
        first = store.add_references("alice", [ref(1), ref(2)], SETTINGS)
        assert first.added == ["sig1.png", "sig2.png"] and first.total_references == 2
        # same content under another path name: still the same reference
        again = store.add_references("alice", [Reference(ref(1).file_sha256, "copy.png",
                                                         ref(1).features), ref(3)], SETTINGS)
        assert again.added == ["sig3.png"] and again.already_enrolled == ["copy.png"]
        assert again.total_references == 3
        refs = store.references("alice")
        assert refs.source_paths == ["sig1.png", "sig2.png", "sig3.png"]
        np.testing.assert_array_equal(refs.features[:, 0], [1, 2, 3])
        assert refs.features.dtype == np.float32
        assert store.settings() == SETTINGS
        assert store.users() == [("alice", 3)]


def test_a_file_belongs_to_one_user_and_the_batch_is_all_or_nothing(tmp_path):
    with EnrollmentDatabase(tmp_path / "s.db", create=True) as store:
        store.add_references("alice", [ref(1)], SETTINGS)
        with pytest.raises(SigverError, match="sig1.png: this file is already enrolled for "
                                              "user 'alice'"):
            store.add_references("bob", [ref(2), ref(1)], SETTINGS)
        # bob's first file was rolled back with the failed batch, bob himself too
        assert store.users() == [("alice", 1)]


def test_settings_of_another_model_are_refused(tmp_path):
    with EnrollmentDatabase(tmp_path / "s.db", create=True) as store:
        store.add_references("alice", [ref(1)], SETTINGS)
        other = DatabaseSettings(model_sha256="b" * 64, model_path="other.pth", feature_dim=8,
                                 preprocessing=SETTINGS.preprocessing)
        with pytest.raises(SigverError, match="computed by another model"):
            store.add_references("bob", [ref(2)], other)
        resized = DatabaseSettings(model_sha256="a" * 64, model_path="model.pth",
                                   feature_dim=8,
                                   preprocessing=PreprocessingSettings(canvas_size=(400, 500)))
        with pytest.raises(SigverError, match="canvas_size"):
            store.add_references("bob", [ref(2)], resized)
        with pytest.raises(SigverError, match="features of shape"):
            store.add_references("bob", [ref(2, dim=5)], SETTINGS)
        assert store.users() == [("alice", 1)]


def test_the_database_records_the_full_settings_and_reads_old_ones(tmp_path):
    cropping = DatabaseSettings(
        model_sha256="a" * 64, model_path="model.pth", feature_dim=8,
        preprocessing=PreprocessingSettings(canvas_size=(600, 850), img_size=(120, 170),
                                            input_size=(110, 160), crop_oversize=True))
    with EnrollmentDatabase(tmp_path / "s.db", create=True) as store:
        store.add_references("alice", [ref(1)], cropping)
    with EnrollmentDatabase(tmp_path / "s.db") as store:
        assert store.settings() == cropping
    # A database written before the oversize rule was recorded (no crop_oversize row)
    # still reads, with the rule enrollment used by default.
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("DELETE FROM settings WHERE key = 'crop_oversize'")
    with EnrollmentDatabase(tmp_path / "s.db") as store:
        old = store.settings()
    assert old.preprocessing == PreprocessingSettings(canvas_size=(600, 850),
                                                      img_size=(120, 170),
                                                      input_size=(110, 160))
    assert old.crop_oversize is False and old.canvas_size == (600, 850)


def test_reading_errors_are_one_line(tmp_path):
    with pytest.raises(SigverError, match="no such enrollment database"):
        EnrollmentDatabase(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(SigverError, match="not a sigver enrollment database"):
        EnrollmentDatabase(garbage)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SigverError, match="another application"):
        EnrollmentDatabase(foreign)
    with sqlite3.connect(foreign) as conn:  # left as it was: not switched to WAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with EnrollmentDatabase(tmp_path / "s.db", create=True) as store:
        with pytest.raises(SigverError, match="unknown user"):
            store.references("nobody")
        store.add_references("alice", [ref(1)], SETTINGS)
        assert store.remove_user("alice") == 1
        with pytest.raises(SigverError, match="unknown user"):
            store.references("alice")
        with pytest.raises(SigverError, match="leading or trailing"):
            store.add_references(" alice", [ref(1)], SETTINGS)


def _enroll_one_by_one(db: str, user: str, first: int, count: int, barrier) -> None:
    barrier.wait()
    with EnrollmentDatabase(db, create=True) as store:
        for i in range(first, first + count):
            store.add_references(user, [ref(i)], SETTINGS)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    """100 single-reference transactions from two processes, interleaved, into a database
    that neither has created yet."""
    db = str(tmp_path / "s.db")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_enroll_one_by_one, args=(db, "alice", 0, 50, barrier)),
             ctx.Process(target=_enroll_one_by_one, args=(db, "alice", 50, 50, barrier))]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    with EnrollmentDatabase(db) as store:
        refs = store.references("alice")
        assert sorted(refs.features[:, 0].astype(int)) == list(range(100))
        assert store.integrity_check() == "ok"


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from sigver.settings import PreprocessingSettings
    from sigver.verification.database import DatabaseSettings, EnrollmentDatabase, Reference

    settings = DatabaseSettings(model_sha256="a" * 64, model_path="model.pth", feature_dim=8,
                                preprocessing=PreprocessingSettings(canvas_size=(300, 500)))

    def references():
        for i in range(100, 110):
            yield Reference(f"{i:064x}", f"sig{i}.png", np.full(8, i, dtype=np.float32))
        print("inside the transaction", flush=True)
        time.sleep(60)
        yield Reference("f" * 64, "never.png", np.zeros(8, dtype=np.float32))

    with EnrollmentDatabase(sys.argv[1], create=True) as store:
        store.add_references("bob", references(), settings)
""")


def test_a_killed_enrollment_leaves_the_database_consistent(tmp_path):
    db = tmp_path / "s.db"
    with EnrollmentDatabase(db, create=True) as store:
        store.add_references("alice", [ref(1), ref(2)], SETTINGS)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(db)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "inside the transaction"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    with EnrollmentDatabase(db) as store:
        assert store.integrity_check() == "ok"
        # bob's ten uncommitted references are gone, alice's are intact, and the write
        # lock of the dead process does not block the next enrollment
        assert store.users() == [("alice", 2)]
        store.add_references("bob", [ref(3)], SETTINGS)
        assert store.users() == [("alice", 2), ("bob", 1)]
