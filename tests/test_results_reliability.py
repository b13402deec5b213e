"""Results files under a hostile world (issue 13): a full disk, two writers at once, damaged and
foreign files, a newer schema. What was complete stays readable and resumable; every refusal is
one line; nothing is appended to a file this version cannot trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import pytest
from plotting_results import ScanSpec, config_for, make_run, write_results
from support import subprocess_env
from typer.testing import CliRunner

from phasebench.cli.main import app
from phasebench.errors import UsageError
from phasebench.results import load
from phasebench.results.writer import DiskFullError, LockTimeoutError, ResultsWriter

TESTS = Path(__file__).parent
runner = CliRunner()


def one_line_error(result, exit_code: int, *words: str) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def small_file(path: Path) -> Path:
    config = config_for(2, 64, 0)
    return write_results(path, [(config, ScanSpec(c_loss=2.0, c_div=4.0, seed=s)) for s in (0, 1)])


# -- schema version and integrity -----------------------------------------------------------------
def test_a_newer_schema_is_refused_and_never_appended_to(tmp_path):
    path = small_file(tmp_path / "r.h5")
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = 99
    before = path.read_bytes()
    one_line_error(runner.invoke(app, ["show", str(path)]), 2, "schema version 99", "upgrade")
    one_line_error(runner.invoke(app, ["plot", str(path)]), 2, "schema version 99")
    with pytest.raises(UsageError, match="never appended to"):
        ResultsWriter(path)
    assert path.read_bytes() == before


def test_a_tampered_record_fails_its_checksum(tmp_path):
    path = small_file(tmp_path / "r.h5")
    with h5py.File(path, "a") as f:  # c_barrier quietly changed, as a bit flip might
        scan = next(iter(f["scans"].values()))
        constants = json.loads(scan.attrs["constants"])
        constants["c_barrier"]["value"] = 5.0
        scan.attrs["constants"] = json.dumps(constants)
    one_line_error(runner.invoke(app, ["show", str(path)]), 2, "damaged", "fails its checksum")
    path = small_file(tmp_path / "gone.h5")
    with h5py.File(path, "a") as f:  # a run vanished from a complete scan
        scan = next(iter(f["scans"].values()))
        del scan["runs"][next(iter(scan["runs"]))]
    one_line_error(runner.invoke(app, ["show", str(path)]), 2, "damaged", "completed with")
    path = small_file(tmp_path / "renamed.h5")
    with h5py.File(path, "a") as f:  # a dataset renamed
        run = next(iter(next(iter(f["scans"].values()))["runs"].values()))
        run.move("loss", "lost")
    one_line_error(runner.invoke(app, ["show", str(path)]), 2, "damaged")


FLIPS = """
import json, random, sys
from typer.testing import CliRunner
from phasebench.cli.main import app
source, target, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = bytearray(open(source, "rb").read())
runner = CliRunner()
reference = json.loads(runner.invoke(app, ["show", source, "--json"]).output)
out = []
for trial in range(trials):
    rng = random.Random(trial)
    flipped = bytearray(data)
    for _ in range(8):
        bit = rng.randrange(len(flipped) * 8)
        flipped[bit // 8] ^= 1 << (bit % 8)
    open(target, "wb").write(flipped)
    result = runner.invoke(app, ["show", target, "--json"])
    if result.exit_code == 0:
        shown = json.loads(result.output)
        shown["file"] = reference["file"]
        out.append("same" if shown == reference else "DIFFERENT")
    else:
        lines = result.output.strip().splitlines()
        ok = result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        out.append("refused" if ok else "CRASH " + repr(result.output[-300:]))
print(json.dumps(out))
"""


def test_random_bit_flips_are_refused_in_one_line_or_change_nothing(tmp_path):
    path = small_file(tmp_path / "r.h5")
    result = subprocess.run(
        [sys.executable, "-c", FLIPS, str(path), str(tmp_path / "flipped.h5"), "40"],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(TESTS),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcomes = json.loads(result.stdout)
    bad = [o for o in outcomes if o not in ("same", "refused")]
    assert not bad, bad
    assert "refused" in outcomes


# -- a full disk -----------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root; skipped otherwise, with the reason)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> None:
    """Fill the disk to the last byte."""
    with open(mount / "filler", "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def test_a_full_disk_keeps_what_was_complete_readable_and_resumable(small_disk, tmp_path):
    path = small_file(small_disk / "r.h5")
    before = load(path)
    fill(small_disk)
    config = config_for(2, 64, 0)
    (scan_id,) = [k for k, s in before["scans"].items() if s["config"]["seed"] == 0]
    run = make_run(config, ScanSpec(c_loss=2.0), 1.2)
    with pytest.raises(DiskFullError, match=f"no space left on the disk holding {small_disk}"):
        ResultsWriter(path).write_run(run)
    with pytest.raises(DiskFullError):
        ResultsWriter(small_disk / "new.h5")
    assert not (small_disk / "new.h5").exists()
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "r.h5"]  # no temp left
    assert json.dumps(load(path), default=str) == json.dumps(before, default=str)
    assert runner.invoke(app, ["show", str(path)]).exit_code == 0
    roomy = tmp_path / "copy.h5"
    roomy.write_bytes(path.read_bytes())
    assert load(roomy)["scans"].keys() == before["scans"].keys()
    (small_disk / "filler").unlink()  # space again: the same file takes the run
    ResultsWriter(path).write_run(run)
    assert run.run_id in load(path)["scans"][scan_id]["runs"]


def test_a_full_disk_is_one_line_from_the_cli(small_disk):
    fill(small_disk)
    args = ["run", "--depth", "2", "--width", "16", "--c", "1", "--steps", "1", "--seeds", "1"]
    result = runner.invoke(app, [*args, "--out", str(small_disk / "r.h5")])
    one_line_error(result, 1, "no space left on the disk holding", str(small_disk))


# -- two writers -----------------------------------------------------------------------------------
WRITER = """
import sys, time
from plotting_results import ScanSpec, config_for, make_run
from phasebench.results.records import ScanRecord
from phasebench.results.writer import ResultsWriter
path, seed, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:
    time.sleep(0.001)
config = config_for(2, 64, seed)
writer = ResultsWriter(path)  # both create the same new file at the same instant
writer.write_scan(ScanRecord(config.scan_id, config.point_id, config.to_dict(), 20.0, 0.5, 7,
                             True, 0.01))
for i in range(15):
    writer.write_run(make_run(config, ScanSpec(seed=seed), 1.0 + i / 8))
print("ok")
"""


def test_two_writers_of_one_file_lose_nothing(tmp_path):
    path = tmp_path / "shared.h5"
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(seed), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(TESTS),
        )
        for seed in (0, 1)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
        assert "Traceback" not in err
    scans = load(path)["scans"]
    assert sorted(s["config"]["seed"] for s in scans.values()) == [0, 1]
    assert [len(s["runs"]) for s in scans.values()] == [15, 15]


def test_a_writer_waits_for_the_lock_with_a_message_and_times_out_in_one_line(tmp_path):
    import fcntl

    path = small_file(tmp_path / "r.h5")
    config = config_for(2, 64, 0)
    run = make_run(config, ScanSpec(c_loss=2.0), 1.1)
    fd = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    said = []
    try:
        writer = None
        with pytest.raises(LockTimeoutError, match="another process has been writing"):
            writer = ResultsWriter(path, lock_timeout=0.3, on_wait=said.append)
        assert writer is None and said == [
            f"waiting for another writer in {tmp_path} (the folder's lock; r.h5 is next) ..."
        ]
        threading.Timer(0.5, fcntl.flock, (fd, fcntl.LOCK_UN)).start()
        said.clear()
        ResultsWriter(path, lock_timeout=30, on_wait=said.append).write_run(run)
        assert len(said) == 1
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert (
        run.run_id
        in next(s for s in load(path)["scans"].values() if s["config"]["seed"] == 0)["runs"]
    )


@pytest.mark.slow  # two real probes (about 20 s on 2 cores); the writer-level test runs by default
def test_two_cli_runs_into_one_file_both_finish(tmp_path):
    path = tmp_path / "both.h5"
    base = ["run", "--depth", "2", "--width", "16", "--c", "1,2", "--steps", "2"]
    base += ["--sharpness-examples", "64", "--loss-examples", "64", "--batch-size", "32"]
    script = "import sys; from phasebench.cli.main import main; sys.argv[0] = 'phasebench'; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *base, "--seeds", seeds, "--out", str(path), "--resume"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(TESTS),
        )
        for seeds in ("0,", "1,")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert "Traceback" not in err
    scans = load(path)["scans"]
    assert sorted(s["config"]["seed"] for s in scans.values()) == [0, 1]
    assert all(s["complete"] for s in scans.values())
