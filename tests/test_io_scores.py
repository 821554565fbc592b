"""Score input: exact MIDI round trips, a hand-written MusicXML with known seconds, real scores that
must agree with each other (ASAP MIDI vs MusicXML, note lists vs MIDI/MusicXML), piano rolls against
hand-computed matrices and a brute-force reference, and every rejection branch."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import pretty_midi
import pytest
from conftest import shared_path

from alignkit.exceptions import ParameterError, ScoreError
from alignkit.io.notes import Notes
from alignkit.io.scores import GRACE_QUARTERS, load_score, note_frames, onset_roll, piano_roll, write_midi

# ----------------------------------------------------------------------------------------------
# MIDI


def _known_midi(path):
    """Two pitched instruments and a drum kit, every time on the tick grid (120 qpm, 480 tpq)."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    for s, e, p, v in [(0.0, 0.5, 60, 100), (0.5, 1.0, 64, 90), (0.5, 1.5, 67, 80), (2.0, 2.25, 72, 1)]:
        piano.notes.append(pretty_midi.Note(velocity=v, pitch=p, start=s, end=e))
    violin = pretty_midi.Instrument(program=40)
    violin.notes.append(pretty_midi.Note(velocity=127, pitch=76, start=0.25, end=3.0))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=70, pitch=36, start=1.0, end=1.1))
    pm.instruments.extend([piano, violin, drums])
    pm.write(str(path))
    return path


def test_midi_reads_back_exactly(tmp_path):
    n = load_score(_known_midi(tmp_path / "known.mid"))
    # sorted by onset then pitch; the drum kit is left out by default
    np.testing.assert_allclose(n.start, [0.0, 0.25, 0.5, 0.5, 2.0], atol=1e-9)
    np.testing.assert_allclose(n.end, [0.5, 3.0, 1.0, 1.5, 2.25], atol=1e-9)
    assert n.pitch.tolist() == [60, 76, 64, 67, 72]
    assert n.velocity.tolist() == [100, 127, 90, 80, 1]
    assert n.instrument.tolist() == [0, 1, 0, 0, 0]
    assert n.source == str(tmp_path / "known.mid")
    d = load_score(tmp_path / "known.mid", include_drums=True)
    assert len(d) == 6
    k = int(np.nonzero(d.pitch == 36)[0][0])
    assert (d.start[k], d.instrument[k]) == (pytest.approx(1.0), 2)  # the drum kit keeps its index


def test_write_midi_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    tick = 60.0 / (120 * 960)
    start = rng.integers(0, 20000, 50) * tick
    # distinct pitches: overlapping notes of one pitch in one track are ambiguous in MIDI itself
    notes = Notes(
        start=start,
        end=start + rng.integers(1, 3000, 50) * tick,
        pitch=rng.choice(np.arange(21, 109), 50, replace=False),
        velocity=rng.integers(1, 128, 50),
        instrument=rng.integers(0, 3, 50),
    )
    back = load_score(write_midi(notes, tmp_path / "r.mid"))
    assert len(back) == 50
    for field in ("start", "end"):
        np.testing.assert_allclose(getattr(back, field), getattr(notes, field), atol=1e-9)
    for field in ("pitch", "velocity", "instrument"):
        np.testing.assert_array_equal(getattr(back, field), getattr(notes, field))


def test_write_midi_rejects_bad_arguments(tmp_path):
    n = Notes.from_arrays([0.0], [1.0], [60])
    with pytest.raises(ParameterError, match="must end in .mid"):
        write_midi(n, tmp_path / "x.xml")
    with pytest.raises(ParameterError, match="resolution"):
        write_midi(n, tmp_path / "x.mid", resolution=0)
    with pytest.raises(ParameterError, match="Notes"):
        write_midi([(0.0, 1.0, 60)], tmp_path / "x.mid")


# ----------------------------------------------------------------------------------------------
# MusicXML with known answers

_TINY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1">
  <part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><time><beats>4</beats><beat-type>4</beat-type></time>
        <clef><sign>G</sign><line>2</line></clef></attributes>
      <direction><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>100</per-minute>
        </metronome></direction-type><sound tempo="60"/></direction>
      <note><pitch><step>C</step><octave>4</octave></pitch><duration>2</duration><voice>1</voice><type>quarter</type></note>
      <note><pitch><step>E</step><octave>4</octave></pitch><duration>2</duration><voice>1</voice><type>quarter</type></note>
      <note><chord/><pitch><step>G</step><octave>4</octave></pitch><duration>2</duration><voice>1</voice>
        <type>quarter</type></note>
      <note><pitch><step>D</step><octave>4</octave></pitch><duration>4</duration><tie type="start"/>
        <voice>1</voice>
        <type>half</type><notations><tied type="start"/></notations></note>
      <backup><duration>8</duration></backup>
      <note><pitch><step>C</step><octave>4</octave></pitch><duration>2</duration><voice>2</voice><type>quarter</type></note>
      <forward><duration>6</duration></forward>
    </measure>
    <measure number="2">
      <direction><direction-type><words>piu mosso</words></direction-type><sound tempo="120"/></direction>
      <note><grace/><pitch><step>A</step><octave>4</octave></pitch><voice>1</voice><type>eighth</type></note>
      <note><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration><tie type="stop"/>
        <voice>1</voice>
        <type>quarter</type><notations><tied type="stop"/></notations></note>
      <note><pitch><step>F</step><alter>1</alter><octave>4</octave></pitch><duration>2</duration><voice>1</voice>
        <type>quarter</type></note>
      <note><rest/><duration>4</duration><voice>1</voice><type>half</type></note>
      <barline location="right"><bar-style>light-heavy</bar-style><repeat direction="backward"/></barline>
    </measure>
  </part>
</score-partwise>
"""


@pytest.fixture
def tiny_xml(tmp_path):
    p = tmp_path / "tiny.musicxml"
    p.write_text(_TINY_XML)
    return p


def test_musicxml_seconds_ties_chords_unisons_grace(tiny_xml):
    """Measure 1 plays at the sounding 60 qpm (not the displayed 100), measure 2 at 120 qpm.

    C4 is struck by two voices at once (one note); the tied D4 lasts 2 quarters at 60 plus 1 at 120;
    the grace A4 sits at the main note's onset and lasts a 64th note.
    """
    n = load_score(tiny_xml)
    grace_end = 4.0 + GRACE_QUARTERS * 0.5
    np.testing.assert_allclose(n.start, [0.0, 1.0, 1.0, 2.0, 4.0, 4.5], atol=1e-12)
    np.testing.assert_allclose(n.end, [1.0, 2.0, 2.0, 4.5, grace_end, 5.0], atol=1e-12)
    assert n.pitch.tolist() == [60, 64, 67, 62, 69, 66]
    assert n.velocity.tolist() == [64] * 6 and n.instrument.tolist() == [0] * 6
    no_grace = load_score(tiny_xml, grace_notes=False)
    assert 69 not in no_grace.pitch.tolist() and len(no_grace) == 5


def test_musicxml_expand_repeats_plays_the_music_twice(tiny_xml):
    once = load_score(tiny_xml)
    twice = load_score(tiny_xml, expand_repeats=True)
    assert len(twice) == 12
    # the second pass starts after 4 quarters at 60 qpm and 4 at 120 qpm: 6 s
    np.testing.assert_allclose(twice.start, np.concatenate([once.start, once.start + 6.0]), atol=1e-12)
    np.testing.assert_allclose(twice.end, np.concatenate([once.end, once.end + 6.0]), atol=1e-12)


def test_musicxml_without_tempo_uses_default_qpm(tmp_path):
    xml = _TINY_XML.replace('<sound tempo="60"/>', "").replace('<sound tempo="120"/>', "")
    xml = xml.replace("<per-minute>100</per-minute>", "<per-minute>0</per-minute>")  # no usable mark
    p = tmp_path / "plain.musicxml"
    p.write_text(xml)
    n = load_score(p, default_qpm=30.0)  # 2 s per quarter everywhere
    np.testing.assert_allclose(n.start, [0.0, 2.0, 2.0, 4.0, 8.0, 10.0], atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Real scores that must agree


def test_asap_chopin_midi_and_musicxml_agree():
    """ASAP Chopin op. 10/3: both files hold 1876 notes with the same pitches.

    Known difference in timing: the MusicXML's sounding tempo 30 at measure 13 ("largamente") is
    missing from the MIDI (it stays at 35 qpm), so onsets agree only before 41.8 s; there they agree
    to within a grace note's shift (0.0625 s), 99 % of them to within 1 ms.
    """
    folder = shared_path("asap", "Chopin", "Etudes_op_10", "3")
    x = load_score(folder / "xml_score.musicxml")
    m = load_score(folder / "midi_score.mid")
    assert len(x) == len(m) == 1876
    assert collections.Counter(x.pitch.tolist()) == collections.Counter(m.pitch.tolist())
    assert set(x.instrument.tolist()) == set(m.instrument.tolist()) == {0, 1}
    early_x, early_m = x.start[x.start < 41.8], m.start[m.start < 41.8]
    assert len(early_x) == len(early_m) == 246
    gap = np.abs(np.sort(early_x) - np.sort(early_m))
    assert gap.max() < 0.07
    assert np.mean(gap < 1e-3) > 0.98
    assert x.duration > m.duration  # the slower largamente


@pytest.mark.slow
def test_asap_beethoven_known_difference_between_midi_and_musicxml():
    """ASAP Beethoven op. 57/1 (about 20 s to parse): the MIDI score writes out the trills that the
    MusicXML notates as ornaments, so it holds 552 more notes (all of them pitches that the MusicXML
    also has); the MusicXML has one B4 more. (Its measures 69, 71, ... also carry corrupt
    <backup>/<forward> durations of ~320,000 divisions, so their MusicXML timing is unusable.)"""
    folder = shared_path("asap", "Beethoven", "Piano_Sonatas", "23-1")
    x = load_score(folder / "xml_score.musicxml")
    m = load_score(folder / "midi_score.mid")
    assert (len(x), len(m)) == (6453, 7004)
    cx, cm = collections.Counter(x.pitch.tolist()), collections.Counter(m.pitch.tolist())
    assert cx - cm == collections.Counter({71: 1})
    assert sum((cm - cx).values()) == 552 and set(cm - cx) <= set(cx)


def test_chopin_note_list_equals_its_midi():
    folder = shared_path("chopin_op10_3_real")
    c = load_score(folder / "Chopin_Op010-03-Measures1-8_MIDI.csv")
    m = load_score(folder / "Chopin_Op010-03-Measures1-8_MIDI.mid")
    assert len(c) == len(m) == 164
    np.testing.assert_array_equal(c.pitch, m.pitch)
    np.testing.assert_array_equal(c.velocity, m.velocity)
    np.testing.assert_allclose(c.start, m.start, atol=1e-6)
    np.testing.assert_allclose(c.end, m.end, atol=1e-6)
    assert set(c.instrument.tolist()) == {0}  # the name "piano" becomes index 0


def test_bach_tick_note_list_equals_expanded_musicxml():
    """Bach BWV 1006/4: the note list (ticks at 24 per quarter, repeats played) equals the MusicXML
    with repeats expanded, grace notes dropped, at the score's 100 qpm."""
    score = shared_path("bach_violin_real", "scores", "bwv1006", "bwv1006_mov4.mxl")
    notes = shared_path(
        "bach_violin_real", "notes", "oliver-colbentson", "oliver-colbentson_bwv1006_mov4.csv"
    )
    x = load_score(score, expand_repeats=True, grace_notes=False)
    c = load_score(notes, time_scale=60.0 / (100 * 24))
    assert len(x) == len(c) == 426
    np.testing.assert_array_equal(x.pitch, c.pitch)
    np.testing.assert_allclose(x.start, c.start, atol=1e-9)
    np.testing.assert_allclose(x.end, c.end, atol=1e-9)


def test_notes_helpers_shift_scale_transpose():
    n = Notes.from_arrays(
        [0.5, 0.0], [1.0, 2.0], [60, 72], velocity=[10, 20], instrument=[1, 0], source="s.mid"
    )
    moved = n.shifted(1.5).time_scaled(2.0).transposed(-12)
    np.testing.assert_allclose(moved.start, [3.0, 4.0])
    np.testing.assert_allclose(moved.end, [7.0, 5.0])
    assert moved.pitch.tolist() == [60, 48] and moved.velocity.tolist() == [20, 10]
    assert moved.instrument.tolist() == [0, 1] and moved.source == "s.mid"
    with pytest.raises(ParameterError, match="outside 0..127"):
        n.transposed(60)
    with pytest.raises(ParameterError):
        n.time_scaled(0.0)
    with pytest.raises(ParameterError):
        n.transposed(0.5)


# ----------------------------------------------------------------------------------------------
# Note lists


def test_note_list_comma_end_column_and_named_instruments(tmp_path):
    p = tmp_path / "n.csv"
    p.write_text(
        "onset,offset,pitch,velocity,instrument\n0.5,1.0,60,90,violin\n0,2,48,,cello\n1,1.5,67,100,violin\n"
    )
    n = load_score(p)
    assert n.start.tolist() == [0.0, 0.5, 1.0] and n.end.tolist() == [2.0, 1.0, 1.5]
    assert n.pitch.tolist() == [48, 60, 67] and n.velocity.tolist() == [64, 90, 100]
    assert n.instrument.tolist() == [1, 0, 0]  # numbered by first appearance: violin 0, cello 1


def test_note_list_tab_separated_with_duration(tmp_path):
    p = tmp_path / "n.tsv"
    p.write_text("Start\tDuration\tPitch\n0.25\t0.5\t72\n")
    n = load_score(p, time_scale=2.0)
    assert (n.start.tolist(), n.end.tolist(), n.pitch.tolist()) == ([0.5], [1.5], [72])


# ----------------------------------------------------------------------------------------------
# Rejections


def _bad(kind, tmp_path):
    if kind == "missing":
        return tmp_path / "nope.mid", "file not found"
    if kind == "directory":
        d = tmp_path / "scores.musicxml"
        d.mkdir()
        return d, "is a directory"
    if kind == "empty":
        p = tmp_path / "empty.mid"
        p.write_bytes(b"")
        return p, "file is empty"
    if kind == "unsupported":
        p = tmp_path / "score.pdf"
        p.write_bytes(b"%PDF-1.4")
        return p, "unsupported extension '.pdf'"
    if kind == "garbage_midi":
        p = tmp_path / "garbage.mid"
        p.write_bytes(b"MThd this is not really a midi file" * 3)
        return p, "cannot be parsed as MIDI"
    if kind == "garbage_xml":
        p = tmp_path / "garbage.musicxml"
        p.write_text("<score-partwise><part id='P1'><measure>unclosed")
        return p, "cannot be parsed as MusicXML"
    if kind == "garbage_mxl":
        p = tmp_path / "garbage.mxl"
        p.write_bytes(b"PK\x03\x04 not a real zip archive")
        return p, "cannot be parsed as MusicXML"
    if kind == "empty_midi":
        p = tmp_path / "silent.mid"
        pretty_midi.PrettyMIDI().write(str(p))
        return p, "no notes"
    if kind == "drums_only_midi":
        pm = pretty_midi.PrettyMIDI()
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes.append(pretty_midi.Note(velocity=90, pitch=38, start=0.0, end=0.1))
        pm.instruments.append(kit)
        p = tmp_path / "drums.mid"
        pm.write(str(p))
        return p, "no notes"
    if kind == "rests_only_xml":
        xml = _TINY_XML
        start, stop = xml.index('<measure number="1">'), xml.index("</part>")
        body = (
            '<measure number="1"><attributes><divisions>1</divisions></attributes>'
            "<note><rest/><duration>4</duration><type>whole</type></note></measure>"
        )
        p = tmp_path / "rests.musicxml"
        p.write_text(xml[:start] + body + xml[stop:])
        return p, "no notes"
    if kind == "csv_header_only":
        p = tmp_path / "h.csv"
        p.write_text("Start;Duration;Pitch;Velocity;Instrument\n")
        return p, "no notes"
    if kind == "csv_missing_columns":
        p = tmp_path / "beats.csv"
        p.write_text("time;label\n0.5;db\n")
        return p, "needs a start/onset column"
    if kind == "csv_bad_row":
        p = tmp_path / "row.csv"
        p.write_text("Start;Duration;Pitch\n0.0;1.0;60\n0.5;one;62\n")
        return p, "row 3 cannot be parsed"
    if kind == "csv_bad_pitch":
        p = tmp_path / "pitch.csv"
        p.write_text("Start;Duration;Pitch\n0.0;1.0;130\n")
        return p, "pitch outside 0..127"
    if kind == "csv_negative_duration":
        p = tmp_path / "neg.csv"
        p.write_text("onset,offset,pitch\n1.0,0.5,60\n")
        return p, "ends before it starts"
    if kind == "csv_no_separator":
        p = tmp_path / "words.csv"
        p.write_text("just some words\n")
        return p, "not a delimited note list"
    raise AssertionError(kind)


BAD_SCORES = [
    "missing",
    "directory",
    "empty",
    "unsupported",
    "garbage_midi",
    "garbage_xml",
    "garbage_mxl",
    "empty_midi",
    "drums_only_midi",
    "rests_only_xml",
    "csv_header_only",
    "csv_missing_columns",
    "csv_bad_row",
    "csv_bad_pitch",
    "csv_negative_duration",
    "csv_no_separator",
]


@pytest.mark.parametrize("kind", BAD_SCORES)
def test_bad_score_raises_score_error_with_path_and_reason(tmp_path, kind):
    path, reason = _bad(kind, tmp_path)
    with pytest.raises(ScoreError) as info:
        load_score(path)
    err = info.value
    assert err.path == str(path) and str(path) in str(err)
    assert reason in err.reason, err.reason
    if kind.startswith("garbage") or kind == "csv_bad_row":
        assert err.__cause__ is not None
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.path, back.reason) == (ScoreError, err.path, err.reason)


@pytest.mark.parametrize("kwargs", [{"default_qpm": 0}, {"default_qpm": float("inf")}, {"time_scale": -1.0}])
def test_load_score_bad_parameters(tmp_path, kwargs):
    p = _known_midi(tmp_path / "k.mid")
    with pytest.raises(ParameterError):
        load_score(p, **kwargs)


# ----------------------------------------------------------------------------------------------
# Piano rolls


def _hand_notes():
    # (start, end, pitch, velocity)
    rows = [
        (0.0, 0.5, 60, 127),
        (0.25, 0.3, 64, 64),
        (0.3, 0.31, 62, 32),
        (0.45, 0.7, 60, 50),
        (0.1, 0.2, 59, 100),
    ]
    s, e, p, v = (np.array(c) for c in zip(*rows, strict=True))
    return Notes.from_arrays(s, e, p, velocity=v)


def test_piano_roll_equals_hand_computed_matrix():
    n = _hand_notes()
    roll = piano_roll(n, 10, pitch_range=(60, 65))
    # frame k covers [k/10, (k+1)/10); columns are pitches 60..64 (59 is out of range)
    expected = np.zeros((7, 5), dtype=np.float32)
    expected[0:7, 0] = 1  # 60: 0-0.5 s (frames 0-4) and 0.45-0.7 s (frames 4-6)
    expected[2, 4] = 1  # 64: 0.25-0.3 s is frame 2 only (0.3 * 10 = 3.0000000000000004 is boundary 3)
    expected[3, 2] = 1  # 62: 0.3-0.31 s, frame 3
    assert roll.dtype == np.float32
    np.testing.assert_array_equal(roll, expected)

    vel = piano_roll(n, 10, pitch_range=(60, 65), weighting="velocity")
    expected_v = expected.copy()
    expected_v[0:5, 0] = 127 / 127
    expected_v[5:7, 0] = 50 / 127  # overlap at frame 4 takes the maximum
    expected_v[2, 4] = 64 / 127
    expected_v[3, 2] = 32 / 127
    np.testing.assert_allclose(vel, expected_v, rtol=1e-7)


def test_onset_roll_equals_hand_computed_matrix():
    n = _hand_notes()
    roll = onset_roll(n, 10, pitch_range=(59, 65))
    expected = np.zeros((7, 6), dtype=np.float32)
    expected[0, 1] = expected[4, 1] = 1  # pitch 60 at 0.0 and 0.45 s
    expected[2, 5] = 1  # 64 at 0.25 s
    expected[3, 3] = 1  # 62 at 0.3 s
    expected[1, 0] = 1  # 59 at 0.1 s
    np.testing.assert_array_equal(roll, expected)


def test_roll_length_options():
    n = _hand_notes()
    assert piano_roll(n, 10).shape == (7, 128)
    short = piano_roll(n, 10, n_frames=3)
    np.testing.assert_array_equal(short, piano_roll(n, 10)[:3])
    long = piano_roll(n, 10, n_frames=20)
    assert long.shape == (20, 128) and not long[7:].any()
    assert piano_roll(n, 10, n_frames=0).shape == (0, 128)


def _brute_force_roll(notes, fr, n_frames):
    roll = np.zeros((n_frames, 128), dtype=np.float32)
    for s, e, p in zip(notes.start, notes.end, notes.pitch, strict=True):
        for k in range(n_frames):
            overlaps = s < (k + 1) / fr and e > k / fr
            onset_frame = k / fr <= s < (k + 1) / fr
            if overlaps or onset_frame:
                roll[k, p] = 1
    return roll


def test_piano_roll_matches_brute_force_on_random_notes():
    rng = np.random.default_rng(5)
    start = rng.uniform(0, 3, 60)
    notes = Notes.from_arrays(start, start + rng.exponential(0.2, 60), rng.integers(0, 128, 60))
    fr = 21.533203125  # 22050 / 1024
    n_frames = int(np.ceil(notes.end.max() * fr))
    np.testing.assert_array_equal(piano_roll(notes, fr), _brute_force_roll(notes, fr, n_frames))
    first, stop = note_frames(notes, fr)
    assert np.all(stop > first)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frame_rate": 0},
        {"frame_rate": -10.0},
        {"frame_rate": float("nan")},
        {"pitch_range": (60, 60)},
        {"pitch_range": (0, 129)},
        {"weighting": "loudness"},
        {"n_frames": -1},
    ],
)
def test_roll_bad_parameters(kwargs):
    args = {"frame_rate": 10.0, **kwargs}
    with pytest.raises(ParameterError):
        piano_roll(_hand_notes(), args.pop("frame_rate"), **args)
