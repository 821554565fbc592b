import numpy as np
import pytest
from conftest import shared_path

from alignkit.exceptions import AnnotationError, ParameterError
from alignkit.io.annotations import (
    Annotations,
    read_annotations,
    read_asap_tsv,
    read_note_list,
    read_swd_csv,
    read_times,
    write_asap_tsv,
)


def test_asap_real_file_parses_every_row_with_labels_and_meter():
    p = shared_path("asap", "Haydn", "Keyboard_Sonatas", "50-1_no_repeat", "Day01_annotations.txt")
    ann = read_asap_tsv(p)
    rows = [ln.split("\t") for ln in p.read_text().splitlines() if ln.strip()]
    assert len(ann) == len(rows)
    np.testing.assert_array_equal(ann.times, [float(r[0]) for r in rows])
    assert ann.kind == "beat"
    assert ann.labels[0] == "db" and ann.extra["time_signature"][0] == "4/4" and ann.extra["key"][0] == "0"
    assert set(ann.labels) <= {"db", "b", "bR"}
    assert ann.times[0] == pytest.approx(2.008545)
    assert len(ann.downbeats()) == sum(r[2].startswith("db") for r in rows)
    assert read_annotations(p).labels == ann.labels


def test_asap_score_and_performance_have_same_beat_labels():
    d = shared_path("asap", "Haydn", "Keyboard_Sonatas", "50-1_no_repeat")
    score = read_asap_tsv(d / "midi_score_annotations.txt")
    perf = read_asap_tsv(d / "Day01_annotations.txt")
    if len(score) == len(perf):
        assert score.labels == perf.labels
    # the score is quantised at 120 bpm in the ASAP subset: beats half a second apart
    assert np.median(np.diff(score.times)) == pytest.approx(0.5, abs=0.01)


def test_swd_real_measures():
    p = shared_path("schubert_measures", "Schubert_D911-03_HU33.csv")
    ann = read_swd_csv(p)
    assert ann.kind == "measure"
    assert ann.labels[:3] == ("0.750", "1", "2")
    assert ann.times[1] == pytest.approx(0.993764172)
    assert np.all(np.diff(ann.times) > 0)
    assert read_annotations(p).labels == ann.labels


def test_note_list_real_chopin_to_notes():
    p = shared_path("chopin_op10_3_real", "Chopin_Op010-03-Measures1-8_MIDI.csv")
    ann = read_note_list(p)
    lines = p.read_text().strip().splitlines()[1:]
    assert len(ann) == len(lines)
    assert ann.kind == "note"
    notes = ann.to_notes()
    assert len(notes) == len(lines)
    first = lines[0].split(";")
    assert notes.start[0] == pytest.approx(float(first[0]))
    # end = start + duration for every note
    np.testing.assert_allclose(notes.end - notes.start, ann.extra["duration"])
    assert notes.pitch.min() >= 21 and notes.pitch.max() <= 108
    assert set(notes.instrument.tolist()) == {0}
    assert read_annotations(p).kind == "note"


def test_write_read_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.1, 1.0, 50))
    labels = ["db,3/4,2" if i % 3 == 0 else "b" for i in range(50)]
    p = tmp_path / "x_annotations.txt"
    write_asap_tsv(p, t, labels)
    ann = read_asap_tsv(p)
    np.testing.assert_array_equal(ann.times, t)
    assert ann.labels == tuple(lab.split(",")[0] for lab in labels)
    assert ann.extra["time_signature"][0] == "3/4" and ann.extra["key"][0] == "2"


def test_plain_times_with_and_without_header(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("0.5\n1.25\n2.0\n")
    b = tmp_path / "b.tsv"
    b.write_text("time\tlabel\n0.5\tx\n1.25\ty\n")
    ra, rb = read_times(a), read_annotations(b)
    np.testing.assert_array_equal(ra.times, [0.5, 1.25, 2.0])
    assert ra.kind == "time" and ra.labels == ("", "", "")
    np.testing.assert_array_equal(rb.times, [0.5, 1.25])
    assert rb.labels == ("x", "y")
    assert read_annotations(a, kind="beat").kind == "beat"


@pytest.mark.parametrize(
    "reader,content,reason",
    [
        (read_asap_tsv, "", "empty"),
        (read_asap_tsv, "1.0\t1.0\n", "expected time<TAB>time<TAB>label"),
        (read_asap_tsv, "1.0\t1.0\tx\n", "label 'x'"),
        (read_asap_tsv, "abc\tabc\tb\n", "not a number"),
        (read_asap_tsv, "2.0\t2.0\tb\n1.0\t1.0\tb\n", "not sorted"),
        (read_asap_tsv, "1.0\t1.5\tb\n", "differ"),
        (read_asap_tsv, "nan\tnan\tb\n", "finite"),
        (read_swd_csv, "begin;measure\n1;1\n", "no 'start' column"),
        (read_swd_csv, "start;measure\n", "no rows"),
        (read_swd_csv, "start;measure\n1.0\n", "fields"),
        (read_times, "x\ny\n", "not a number"),
        (read_note_list, "start;duration;pitch\n0;1;60\n", "lacks columns"),
        (read_note_list, "start;duration;pitch;velocity;instrument\n0;-1;60;64;0\n", "negative duration"),
        (read_note_list, "start;duration;pitch;velocity;instrument\n0;1;200;64;0\n", "pitch 200"),
    ],
)
def test_bad_files_raise_annotation_error_with_path_and_reason(tmp_path, reader, content, reason):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    with pytest.raises(AnnotationError, match=reason) as ei:
        reader(p)
    assert ei.value.path == str(p)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(AnnotationError, match="does not exist"):
        read_annotations(tmp_path / "nope.txt")
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\xff\xfe\x00\x81\x82")
    with pytest.raises(AnnotationError):
        read_annotations(p)


def test_write_rejects_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="labels"):
        write_asap_tsv(tmp_path / "a.txt", [0.0, 1.0], ["b"])
    with pytest.raises(ParameterError, match="non-decreasing"):
        write_asap_tsv(tmp_path / "a.txt", [1.0, 0.0], ["b", "b"])
    with pytest.raises(ParameterError, match="label"):
        write_asap_tsv(tmp_path / "a.txt", [0.0], ["beat"])


def test_annotations_validation():
    with pytest.raises(ParameterError, match="kind"):
        Annotations(times=[0.0], labels=["x"], kind="chord")
    with pytest.raises(ParameterError, match="labels"):
        Annotations(times=[0.0, 1.0], labels=["x"])
    with pytest.raises(ParameterError, match="to_notes"):
        Annotations(times=[0.0], labels=["x"]).to_notes()
