import os
import stat

import pytest

from lrscan.atomic import atomic_write, write_text


def test_write_text_replaces_whole_file_with_umask_permissions(tmp_path):
    p = tmp_path / "sub" / "out.txt"
    write_text(p, "first")
    write_text(p, "second")
    assert p.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert [f.name for f in p.parent.iterdir()] == ["out.txt"]  # no temp files left


def test_failed_writer_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "out.csv"
    write_text(p, "old")

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(p, broken)
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.csv"]
