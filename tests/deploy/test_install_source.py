"""``powervm_install_source: git | package`` applied for real by ansible-playbook to localhost.

git: a bare repository made from this checkout (``file://localhost/...``: the pip that ``venv`` bundles
with Python 3.11, 23.2, refuses ``file:///...`` in a PEP 508 requirement), installed at HEAD's commit.
package: a wheel built from a copy of this checkout (its version given a ``.post900`` suffix, since the
venv also sees the project's editable install), served by ``python -m http.server`` over a PEP 503
simple-index folder. Each goes into a throwaway venv; a second run changes nothing; a bad source
fails naming the variables. As in ``test_packaging``, pip installs the project with ``--no-deps``
(neutron's ~150 dependencies take minutes) into a venv that sees the project venv's dependencies
through a ``.pth`` file, so the role's own render step can run from the installed copy.
"""

from __future__ import annotations

import json
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from powervm_openstack.deploy.child import free_port
from tests.fixtures.ansible import play
from tests.fixtures.services import REPO_ROOT

pytestmark = pytest.mark.integration

BASE = {"powervm_enabled": True, "powervm_install": True, "powervm_manage_services": False,
        "powervm_node_role": "controller", "powervm_neutron_config_group": "root", "powervm_python": sys.executable,
        "powervm_pip_extra_args": "--no-deps"}  # fmt: skip


def _run(argv: list[str], **kw) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


def _venv(path: Path) -> Path:
    """A fresh venv that sees the project venv's dependencies after its own packages."""
    _run([sys.executable, "-m", "venv", str(path)])
    fresh = next((path / "lib").glob("python3*/site-packages"))
    (fresh / "zz_project_deps.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
    )
    return fresh


def _installed(site_dir: Path) -> dict:
    """The direct_url.json of the installed powervm-openstack ({} for an index install)."""
    (dist,) = site_dir.glob("powervm_openstack-*.dist-info")
    direct = dist / "direct_url.json"
    assert (site_dir / "powervm_openstack/deploy/render.py").is_file()
    return json.loads(direct.read_text()) if direct.exists() else {}


def _vars(tmp: Path, venv: Path, **extra) -> dict:
    return {**BASE, "powervm_venv": str(venv), "powervm_neutron_config_dir": str(tmp / "etc"),
            "powervm_ml2_conf": str(tmp / "none.ini"), **extra}  # fmt: skip


def test_git_source_at_a_ref(tmp_path: Path) -> None:
    repo = tmp_path / "powervm-openstack.git"
    _run(["git", "clone", "-q", "--bare", str(REPO_ROOT), str(repo)])
    commit = _run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]).strip()
    site_dir = _venv(tmp_path / "venv")
    variables = _vars(tmp_path, tmp_path / "venv", powervm_install_source="git",
                      powervm_git_repo=f"file://localhost{repo}", powervm_git_version=commit)  # fmt: skip
    first = play(tmp_path / "play", variables)
    assert first.rc == 0, first.output[-3000:]
    direct = _installed(site_dir)
    assert direct["vcs_info"] == {"vcs": "git", "commit_id": commit, "requested_revision": commit}, direct
    assert "mechanism_drivers = pvm_sea,pvm_sriov" in (tmp_path / "etc/ml2_conf_powervm.ini").read_text()
    again = play(tmp_path / "play", variables)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    bad = play(tmp_path / "play", {**variables, "powervm_git_version": "no-such-ref"})
    assert bad.rc != 0
    assert "variables 'powervm_git_repo' / 'powervm_git_version':" in bad.output, bad.output[-3000:]


def test_package_source_from_a_local_index(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT, src, ignore=shutil.ignore_patterns(".venv", ".work", ".git", "dist", "build",
                                                                  "*.egg-info", "__pycache__"))  # fmt: skip
    # A version of its own: the venv sees the project venv's editable 0.1.0, which would satisfy "==0.1.0".
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = "([^"]+)"', r'version = "\1.post900"', pyproject.read_text(), count=1,
                                flags=re.M))  # fmt: skip
    project = tmp_path / "index" / "powervm-openstack"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(project), str(src)])
    (wheel,) = project.glob("*.whl")
    project.joinpath("index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>')
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                               str(tmp_path / "index")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        site_dir = _venv(tmp_path / "venv")
        version = wheel.name.split("-")[1]
        variables = _vars(tmp_path, tmp_path / "venv", powervm_install_source="package",
                          powervm_package_index_url=f"http://127.0.0.1:{port}/", powervm_package_version=version)  # fmt: skip
        first = play(tmp_path / "play", variables)
        assert first.rc == 0 and first.changed >= 1, first.output[-3000:]
        assert version.endswith(".post900") and _installed(site_dir) == {}  # from the index, not a URL or a local path
        again = play(tmp_path / "play", variables)
        assert again.rc == 0 and again.changed == 0, again.output[-3000:]
        bad = play(tmp_path / "play", {**variables, "powervm_package_version": "99.0"})
        assert bad.rc != 0
        assert "variables 'powervm_package_index_url' / 'powervm_package_version':" in bad.output, bad.output[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
