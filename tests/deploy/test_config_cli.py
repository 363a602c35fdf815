"""``powervm-openstack-config render``: print or write the files; bad settings are one line, exit 2."""

from __future__ import annotations

import stat

from powervm_openstack.deploy import config_cli


def test_render_prints_the_files(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("ml2_mechanism_drivers: [ovn]\n")
    assert config_cli.main(["render", "--role", "controller", "--settings", str(path)]) == 0
    out = capsys.readouterr().out
    assert "# ==> ml2_conf_powervm.ini <==" in out
    assert "mechanism_drivers = ovn,pvm_sea,pvm_sriov" in out


def test_render_writes_private_files_once(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("novalink: {user: admin, password: pw}\ncompute: {disk_driver: ssp}\n")
    out = tmp_path / "etc"
    argv = ["render", "--role", "compute", "--settings", str(path), "--out", str(out)]
    assert config_cli.main(argv) == 0
    assert capsys.readouterr().out.count("written: ") == 3
    for item in out.iterdir():
        assert stat.S_IMODE(item.stat().st_mode) == 0o640
    assert config_cli.main(argv) == 0
    assert capsys.readouterr().out.count("unchanged: ") == 3


def test_bad_settings_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("bridge_mappings: [default]\n")
    assert config_cli.main(["render", "--role", "compute", "--settings", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("powervm-openstack-config: settings key 'bridge_mappings': value ['default']")
    assert "\n" not in err
    assert not (tmp_path / "o").exists()
