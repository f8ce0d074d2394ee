"""Commands that write a folder never mix old and new results: a non-empty ``--out`` is refused
(before any work, leaving it untouched) unless ``--overwrite``, which replaces it."""

from __future__ import annotations

import pytest

from framescope.cli import main
from framescope.errors import FramescopeError
from framescope.fileio import check_output_folder, output_folder


def test_output_folder_rules(tmp_path):
    fresh = output_folder(tmp_path / "new" / "out")
    assert fresh.is_dir() and not any(fresh.iterdir())
    (fresh / "old.png").write_bytes(b"x")
    with pytest.raises(FramescopeError, match=r"is not empty: .* --overwrite"):
        check_output_folder(fresh)
    assert (fresh / "old.png").exists()  # refused: nothing touched
    assert not any(output_folder(fresh, overwrite=True).iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(FramescopeError, match="not a folder"):
        output_folder(tmp_path / "file", overwrite=True)


def test_sample_refuses_a_used_folder_and_overwrite_replaces_it(cfr_video, tmp_path, capsys):
    out = tmp_path / "frames"
    args = ["sample", str(cfr_video), "--fps", "2", "--out", str(out)]
    assert main(args) == 0
    first = sorted(p.name for p in out.iterdir())
    (out / "stale.txt").write_text("from another run")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "is not empty" in err and (out / "stale.txt").exists()  # nothing lost
    assert (
        main(["sample", str(cfr_video), "--num-frames", "2", "--out", str(out), "--overwrite"]) == 0
    )
    now = sorted(p.name for p in out.iterdir())
    assert "stale.txt" not in now and len(now) == 3 and now != first  # 2 frames + timestamps.json
