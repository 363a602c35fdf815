"""The collection's molecule scenario (delegated driver, localhost): syntax, converge, idempotence, verify.

``molecule test`` itself runs the sequence of ``extensions/molecule/default/molecule.yml``; its
idempotence step fails if the second converge changes anything. Measured on the shared 2-core
machine: 53 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import REPO_ROOT

pytestmark = pytest.mark.integration

EXTENSIONS = REPO_ROOT / "ansible_collections/powervm/openstack/extensions"


def test_molecule_default_scenario(tmp_path: Path) -> None:
    molecule = Path(sys.executable).parent / "molecule"
    if not molecule.exists():
        pytest.skip("molecule is not installed (pip install -e '.[deploy]')")
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path / "ansible"), "NO_COLOR": "1",
           "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "ephemeral"),
           "PATH": f"{molecule.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # fmt: skip
    proc = subprocess.run([str(molecule), "test", "-s", "default"], cwd=EXTENSIONS, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for step in ("syntax", "converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in out or f"{step}\x1b" in out, step
    assert "failed=0" in out and "molecule-secret" not in out
