import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import shared_path

from alignkit.corpus import (
    Corpus,
    asap,
    bpsd,
    from_folder,
    from_manifest,
    load_corpus,
    mtd,
    prune,
    winterreise,
    wrd,
)
from alignkit.exceptions import CorpusError, ParameterError
from alignkit.io.annotations import write_asap_tsv


def _touch(p: Path, data: bytes = b"x") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


@pytest.fixture
def folder(tmp_path):
    """A small folder-layout corpus: 2 works, scores + audio, beat and note sidecars."""
    root = tmp_path / "demo"
    for w in ("work_a", "work_b"):
        _touch(root / w / "score.mid")
        _touch(root / w / "take1.wav")
        _touch(root / w / "take2.flac")
        write_asap_tsv(root / w / "take1_annotations.txt", [0.0, 0.5, 1.0], ["db", "b", "b"])
        write_asap_tsv(root / w / "score_annotations.txt", [0.0, 0.4, 0.8], ["db", "b", "b"])
        (root / w / "score_notes.csv").write_text("start;duration;pitch;velocity;instrument\n0;1;60;64;0\n")
    (root / "README.md").write_text("ignored")
    _touch(root / "work_a" / ".hidden.wav")
    return root


def test_folder_layout(folder):
    c = from_folder(folder)
    assert c.works() == ["work_a", "work_b"]
    assert [v.version for v in c.versions_of("work_a")] == ["score", "take1", "take2"]
    assert len(c) == 6 and len(c.versions()) == 6
    v = c.get("work_a", "take1")
    assert v.kind == "audio" and v.path == folder / "work_a" / "take1.wav" and v.relpath == "work_a/take1.wav"
    assert c.get("work_a", "score").kind == "score"
    assert set(c.get("work_a", "score").annotations) == {"beats", "notes"}
    ann = v.read_annotations("beats")
    np.testing.assert_array_equal(ann.times, [0.0, 0.5, 1.0])
    assert c.get("work_b", "score").read_annotations("notes").kind == "note"
    assert "beats" not in c.get("work_a", "take2").annotations
    # pairs: all unordered pairs per work, or a star around a reference
    assert len(c.pairs()) == 6
    star = c.pairs(reference="score")
    assert len(star) == 4 and all(a.version == "score" for a, _ in star)
    assert load_corpus(folder).to_records() == c.to_records()


@pytest.mark.parametrize("ext", ["csv", "parquet", "yaml"])
def test_manifest_round_trip(folder, tmp_path, ext):
    c = from_folder(folder)
    m = folder / f"manifest.{ext}"
    c.to_manifest(m)
    c2 = from_manifest(m)
    assert c2.to_records() == c.to_records()
    # load_corpus on the folder prefers an alignkit manifest found there
    assert load_corpus(folder).to_records() == c.to_records()
    # a manifest elsewhere: YAML records the root, CSV/Parquet take root=
    m2 = tmp_path / f"elsewhere.{ext}"
    c.to_manifest(m2)
    c3 = from_manifest(m2, root=None if ext == "yaml" else folder)
    assert c3.to_records() == c.to_records()


def test_manifest_meta_and_annotation_rows(folder):
    m = folder / "m.csv"
    pd.DataFrame(
        [
            {"work": "work_a", "version": "take1", "path": "work_a/take1.wav", "performer": "X", "role": ""},
            {
                "work": "work_a",
                "version": "take1",
                "path": "work_a/take1_annotations.txt",
                "performer": "",
                "role": "beats",
            },
        ]
    ).to_csv(m, sep=";", index=False)
    c = from_manifest(m)
    v = c.get("work_a", "take1")
    assert (
        v.meta["performer"] == "X" and v.annotations["beats"] == folder / "work_a" / "take1_annotations.txt"
    )


def _yaml_manifest(root: Path, versions, annotations=()) -> Path:
    p = root / "bad.yaml"
    p.write_text(yaml.safe_dump({"versions": list(versions), "annotations": list(annotations)}))
    return p


@pytest.mark.parametrize(
    "versions,annotations,match",
    [
        (
            [{"work": "w", "version": "v", "path": "work_a/nope.wav"}],
            [],
            r"w:v: missing file 'work_a/nope.wav'",
        ),
        (
            [{"work": "w", "version": "v", "path": "work_a/take1.aiffx"}],
            [],
            r"w:v: .*unknown extension '.aiffx'",
        ),
        (
            [
                {"work": "w", "version": "v", "path": "work_a/take1.wav"},
                {"work": "w", "version": "v", "path": "work_a/take2.flac"},
            ],
            [],
            r"w:v: duplicate version id 'v'",
        ),
        (
            [{"work": "w", "version": "v", "path": "work_a/take1.wav"}],
            [{"work": "w", "version": "ghost", "role": "beats", "path": "work_a/take1_annotations.txt"}],
            r"w:ghost: annotation .* for an unknown version",
        ),
        (
            [{"work": "w", "version": "v", "path": "../outside.wav"}],
            [],
            r"w:v: .*escapes the corpus root via '\.\.'",
        ),
        ([{"work": "w", "version": "v", "path": "work_a/../../outside.wav"}], [], r"w:v: .*escapes"),
        ([{"work": "w", "version": "v", "path": "/etc/passwd.wav"}], [], r"w:v: .*is absolute"),
        (
            [{"work": "w", "version": "v", "path": "work_a/link.wav"}],
            [],
            r"w:v: .*symlink out of the corpus root",
        ),
        (
            [{"work": "w", "version": "v", "path": "work_a/take1.wav", "beats": "work_a/missing.txt"}],
            [],
            r"w:v: missing file 'work_a/missing.txt' \(beats annotation\)",
        ),
        (
            [{"work": "w", "version": "", "path": "work_a/take1.wav"}],
            [],
            r"needs non-empty 'work' and 'version'",
        ),
    ],
)
def test_bad_manifest_cases_raise_corpus_error_naming_the_item(
    folder, tmp_path, versions, annotations, match
):
    _touch(tmp_path / "outside.wav")
    os.symlink(tmp_path / "outside.wav", folder / "work_a" / "link.wav")
    with pytest.raises(CorpusError, match=match):
        from_manifest(_yaml_manifest(folder, versions, annotations))


def test_bad_manifest_reports_all_problems_at_once(folder):
    p = _yaml_manifest(
        folder,
        [
            {"work": "w", "version": "a", "path": "nope1.wav"},
            {"work": "w", "version": "b", "path": "nope2.wav"},
        ],
    )
    with pytest.raises(CorpusError, match=r"2 problem\(s\)") as ei:
        from_manifest(p)
    assert "w:a" in str(ei.value) and "w:b" in str(ei.value)


def test_bad_folder_cases(folder, tmp_path):
    _touch(folder / "work_a" / "take1.ogg")  # second file for version take1
    with pytest.raises(CorpusError, match="work_a:take1: duplicate version id"):
        from_folder(folder)
    (folder / "work_a" / "take1.ogg").unlink()
    (folder / "work_b" / "take3_annotations.txt").write_text("0\t0\tb\n")
    with pytest.raises(CorpusError, match="work_b:take3: annotation .* for an unknown version"):
        from_folder(folder)
    (folder / "work_b" / "take3_annotations.txt").unlink()
    _touch(folder / "work_b" / "take4.exe")
    with pytest.raises(CorpusError, match="work_b:take4: .*unknown extension '.exe'"):
        from_folder(folder)
    (folder / "work_b" / "take4.exe").unlink()
    _touch(tmp_path / "elsewhere.wav")
    os.symlink(tmp_path / "elsewhere.wav", folder / "work_b" / "take5.wav")
    with pytest.raises(CorpusError, match="work_b:take5: .*symlink out"):
        from_folder(folder)
    with pytest.raises(CorpusError, match="not a directory"):
        from_folder(tmp_path / "nowhere")


def test_manifest_format_errors(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("work,path\nw,x.wav\n")
    with pytest.raises(CorpusError, match="needs columns work, version, path"):
        from_manifest(p)
    q = tmp_path / "m.json"
    q.write_text("{}")
    with pytest.raises(CorpusError, match="unknown manifest format"):
        from_manifest(q)
    with pytest.raises(CorpusError, match="does not exist"):
        from_manifest(tmp_path / "none.yaml")


def test_prune(folder):
    c = from_folder(folder)
    p = prune(c, n_works=1, n_versions=2)
    assert [(v.work, v.version) for v in p] == [("work_a", "score"), ("work_a", "take1")]
    assert len(prune(c, n_works=5, n_versions=5)) == len(c)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ParameterError):
            prune(c, n_works=bad)


def test_asap_recipe_real(shared_data):
    c = asap(shared_data / "asap")
    meta = pd.read_csv(shared_data / "asap" / "metadata.csv")
    assert len(c.works()) == meta.folder.nunique() == 8
    n_perf = sum(1 for v in c if v.meta.get("performance"))
    assert n_perf == len(meta) == 102
    assert all("beats" in v.annotations for v in c if v.version != "xml_score")
    assert all(v.path.is_file() for v in c)
    w = "Beethoven/Piano_Sonatas/23-1"
    assert len(c.versions_of(w)) >= 18 and c.get(w, "midi_score").kind == "score"
    beats = c.get("Haydn/Keyboard_Sonatas/50-1_no_repeat", "Day01").read_annotations()
    assert beats.kind == "beat" and len(beats) > 100


def _swd_tree(root: Path) -> Path:
    for song in ("01", "03"):
        _touch(root / "01_RawData" / "score_midi" / f"Schubert_D911-{song}.mid")
        for perf in ("HU33", "SC06"):
            _touch(root / "01_RawData" / "audio_wav" / f"Schubert_D911-{song}_{perf}.wav")
    return root


def test_winterreise_recipe_with_real_measures(tmp_path):
    root = _swd_tree(tmp_path / "swd")
    src = shared_path("schubert_measures")
    for f in src.glob("*.csv"):
        _touch(root / "02_Annotations" / "ann_audio_measure" / f.name, f.read_bytes())
    c = winterreise(root)
    assert c.works() == ["Schubert_D911-01", "Schubert_D911-03"]
    assert [v.version for v in c.versions_of("Schubert_D911-01")] == ["HU33", "SC06", "score"]
    v = c.get("Schubert_D911-03", "HU33")
    ann = v.read_annotations("measures")
    assert ann.kind == "measure" and ann.labels[0] == "0.750"
    assert c.get("Schubert_D911-01", "score").kind == "score"
    assert "measures" not in c.get("Schubert_D911-01", "score").annotations


def test_winterreise_annotation_for_missing_version(tmp_path):
    root = _swd_tree(tmp_path / "swd")
    _touch(root / "ann_audio_measure" / "Schubert_D911-01_XX99.csv", b"start;measure\n0;1\n")
    with pytest.raises(CorpusError, match="Schubert_D911-01:XX99: annotation .* unknown version"):
        winterreise(root)


def test_bpsd_and_wrd_naming(tmp_path):
    b = tmp_path / "bpsd"
    _touch(b / "1_Audio" / "Beethoven_Op002No1-01_WK64.wav")
    _touch(b / "1_Audio" / "Beethoven_Op002No1-01_FG58.wav")
    _touch(b / "1_Audio" / "Beethoven_Op057-01_WK64.flac")
    _touch(
        b / "2_Annotations" / "ann_audio_beat" / "Beethoven_Op002No1-01_WK64.csv", b"start;beat\n0.1;1.1\n"
    )
    c = bpsd(b)
    assert c.works() == ["Beethoven_Op002No1-01", "Beethoven_Op057-01"]
    assert c.get("Beethoven_Op002No1-01", "WK64").annotations.keys() == {"beats"}
    assert c.get("Beethoven_Op002No1-01", "WK64").read_annotations("beats").kind == "beat"
    w = tmp_path / "wrd"
    _touch(w / "audio" / "Wagner_WWV086B-1_DG2012.wav")
    _touch(w / "audio" / "Wagner_WWV086A_ZYX2012.mp3")
    _touch(w / "audio" / "notes.txt")
    c = wrd(w)
    assert c.works() == ["Wagner_WWV086A", "Wagner_WWV086B-1"]
    assert c.get("Wagner_WWV086B-1", "DG2012").kind == "audio"


def test_mtd_recipe_real_table(shared_data, tmp_path):
    csv = shared_data / "mtd" / "MTD.csv"
    c = mtd(csv, check_files=False)
    t = pd.read_csv(csv, sep=";", dtype=str)
    assert len(c.works()) == len(t) and len(c) == 2 * len(t)
    w = "MTD0116_Bach_BWV1046-01"
    vs = c.versions_of(w)
    assert [v.version for v in vs] == ["Belder", "score"]
    assert vs[0].kind == "audio" and vs[1].kind == "score"
    assert vs[0].meta["start"] == pytest.approx(1.0) and vs[0].meta["end"] == pytest.approx(7.0)
    # with files checked, a root lacking the media fails loudly, naming the item
    with pytest.raises(CorpusError, match="MTD0116_Bach_BWV1046-01:score: missing file"):
        mtd(csv, root=tmp_path)


def test_corpus_lookup_errors(folder):
    c = from_folder(folder)
    with pytest.raises(CorpusError, match="work 'nope'"):
        c.versions_of("nope")
    with pytest.raises(CorpusError, match="version 'nope'"):
        c.get("work_a", "nope")
    with pytest.raises(ParameterError, match="no 'measures' annotations"):
        c.get("work_a", "take1").read_annotations("measures")
    assert isinstance(c, Corpus)
