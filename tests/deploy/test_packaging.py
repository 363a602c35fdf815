"""``python -m build`` gives a wheel and an sdist; the wheel installs into a fresh venv and works.

The fresh venv gets ``powervm-openstack[network]`` from the built wheel: its console scripts run,
the ML2 entry points resolve, and the nova driver module ``nova.virt.powervm`` is installed.
Installing neutron's ~150 dependencies takes minutes, so by default the wheel goes in with
``--no-deps`` and the venv sees the dependencies of the project's venv through a ``.pth`` file
(the wheel's own files come first on ``sys.path``); ``PVM_FULL_WHEEL_INSTALL=1`` installs
``[network]`` with all dependencies from the index instead.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tests.fixtures.services import REPO_ROOT

pytestmark = pytest.mark.integration

CHECK = """
import importlib.metadata as md, importlib.util as u, pathlib, sys
eps = {e.name: e for e in md.entry_points(group="neutron.ml2.mechanism_drivers")}
assert eps["pvm_sea"].load().__name__ == "PvmSeaMechanismDriver", eps
assert eps["pvm_sriov"].load().__name__ == "PvmSriovMechanismDriver", eps
opts = {e.name for e in md.entry_points(group="oslo.config.opts")}
assert {"powervm_openstack.network", "powervm_openstack.compute"} <= opts, opts
site = pathlib.Path(u.find_spec("powervm_openstack").origin).parents[1]
assert (site / "nova/virt/powervm/__init__.py").is_file(), site
assert str(site).startswith(sys.prefix), (site, sys.prefix)  # the wheel's copy, not the editable one
"""


def _run(argv, **kw) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


def test_wheel_and_sdist_install_and_work(tmp_path):
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(".venv", ".work", ".git", "dist", "build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO_ROOT, src, ignore=ignore)
    _run([sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(src)])
    wheel = next((tmp_path / "dist").glob("powervm_openstack-*.whl"))
    sdist = next((tmp_path / "dist").glob("powervm_openstack-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nova/virt/powervm/__init__.py" in names and "powervm_openstack/deploy/render.py" in names
    members = tarfile.open(sdist).getnames()
    assert any(m.endswith("ansible_collections/powervm/openstack/roles/powervm/tasks/main.yml") for m in members)
    assert any("/releasenotes/notes/" in m for m in members)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin/pip"), "install", "--disable-pip-version-check", "-q"]
    if os.environ.get("PVM_FULL_WHEEL_INSTALL") == "1":
        _run([*pip, f"{wheel}[network]"])
    else:
        _run([*pip, "--no-deps", str(wheel)])
        fresh_site = next((venv / "lib").glob("python3*/site-packages"))
        (fresh_site / "zz_project_deps.pth").write_text(
            "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
        )
    _run([str(venv / "bin/python"), "-c", CHECK], cwd=tmp_path)
    for script in ("powervm-sea-agent", "powervm-sriov-agent", "powervm-network-map", "powervm-sim"):
        _run([str(venv / "bin" / script), "--help"], cwd=tmp_path)
    settings = tmp_path / "s.yaml"
    settings.write_text("ml2_mechanism_drivers: [ovn]\n")
    out = _run([str(venv / "bin/powervm-openstack-config"), "render", "--role", "controller", "--settings",
                str(settings)], cwd=tmp_path)  # fmt: skip
    assert "mechanism_drivers = ovn,pvm_sea,pvm_sriov" in out
