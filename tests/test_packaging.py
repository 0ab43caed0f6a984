"""The installed package is the product: the wheel carries the migrations, the notice
templates and the profile, so `rightsdesk` runs and migrates from any directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_everything_the_service_reads(tmp_path):
    # Built from a copy, so the build leaves nothing behind in the checkout.
    source = tmp_path / "src"
    skip = (".venv", "var", "build", "*.egg-info", ".git", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*skip))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--verbose",  # the build's own warnings, checked below
            "--no-deps",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    # Issue 21.10: no "Package 'app.notifications.templates' is absent from the `packages`
    # configuration" (what `make run` and `make test` printed on every install).
    output = built.stdout + built.stderr
    assert "is absent from the `packages` configuration" not in output, output[-3000:]
    [wheel] = tmp_path.glob("rightsdesk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {
        f"app/migrations/versions/{p.name}" for p in (ROOT / "alembic/versions").glob("*.py")
    }
    assert migrations and migrations <= names
    assert {"app/migrations/env.py", "app/migrations/script.py.mako"} <= names
    templates = {
        f"app/notifications/templates/{p.name}"
        for p in (ROOT / "app/notifications/templates").glob("*.j2")
    }
    assert templates and templates <= names
    assert "app/profile/default.yaml" in names
    # The evidence pack's report and the dashboard's chart (issue 20).
    assert {
        "app/evidence/templates/report.html.j2",
        "app/web/templates/charts/chart.svg.j2",
    } <= names
    assert not any(n.startswith(("tests/", "alembic/", "bench/")) for n in names)
