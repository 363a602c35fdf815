"""The committed sample configuration files are what oslo-config-generator makes from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GENERATOR_CONFIGS = sorted((REPO / "etc" / "oslo-config-generator").glob("*.conf"))


@pytest.mark.parametrize("config", GENERATOR_CONFIGS, ids=lambda p: p.name)
def test_sample_config_is_generated_from_the_code(config: Path, tmp_path: Path) -> None:
    committed = REPO / next(
        line.split("=", 1)[1].strip() for line in config.read_text().splitlines() if line.startswith("output_file")
    )
    fresh = tmp_path / committed.name
    cmd = [sys.executable, "-m", "oslo_config.generator", "--config-file", str(config), "--output-file", str(fresh)]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    assert fresh.read_text() == committed.read_text(), (
        f"{committed.relative_to(REPO)} is stale: regenerate it with "
        f"oslo-config-generator --config-file {config.relative_to(REPO)}"
    )
