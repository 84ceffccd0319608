"""The README's quick start, run verbatim in a new shell in an empty folder (where the project's
.venv is found as the quick start expects it), must succeed command by command, and its query must
answer what the sample files hold."""

import csv
import io
import os
from pathlib import Path
import re
import subprocess
import sys

import pyarrow.compute as pc

from qserv.sample_files import objects_table

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start_commands():
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_the_quick_start_runs_verbatim(tmp_path):
    commands = quick_start_commands()
    assert commands[0].startswith(". .venv/bin/activate")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))  # the project's virtual environment
    script = "set -e\n" + "\n".join(f"echo '>>> {i}' >&2\n{line}" for i, line in enumerate(commands))
    environment = {k: v for k, v in os.environ.items() if k not in ("QSERV_HOME", "QSERV_URL")}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=environment, timeout=600)
    failed_at = done.stderr.rsplit(">>> ", 1)[-1].split("\n", 1)[0]
    assert done.returncode == 0, f"command {commands[int(failed_at)]!r} failed:\n{done.stderr[-3000:]}"
    assert (tmp_path / "qserv-home" / "instance.json").exists()
    objects = objects_table()
    bright = objects.filter(pc.less(objects.column("gmag"), 8))
    answer = list(csv.DictReader(io.StringIO(done.stdout[done.stdout.index('"stars"'):])))
    assert int(answer[0]["stars"]) == bright.num_rows
    assert abs(float(answer[0]["mean_g"]) - pc.mean(bright.column("gmag")).as_py()) < 1e-4
