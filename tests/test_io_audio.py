"""Audio input: round trips through every codec, every rejection branch, and real MP3/Opus files."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from alignkit.exceptions import AudioError, InputError, ParameterError
from alignkit.io.audio import AudioInfo, audio_info, load_audio, resample, write_audio
from alignkit.io.files import AUDIO_EXTENSIONS

SR_IN = 44100
DUR = 2.0


def _tone(freq=440.0, sr=SR_IN, dur=DUR, amps=(0.5, 0.3)):
    """Stereo sine, time-first (n, 2): the channels differ only in amplitude."""
    t = np.arange(int(round(sr * dur))) / sr
    s = np.sin(2 * np.pi * freq * t)
    return np.stack([a * s for a in amps], axis=1)


def _dominant_hz(y, sr):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)]


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_round_trip_tone_resampled_to_mono(tmp_path, ext):
    path = write_audio(tmp_path / f"tone{ext}", _tone(), SR_IN)
    y, sr = load_audio(path, sr=22050)
    assert sr == 22050 and y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - DUR * 22050) <= 1
    # FFT of 2 s at 22050 Hz: 0.5 Hz bins.
    assert abs(_dominant_hz(y, sr) - 440.0) <= 0.5
    # In-phase channels 0.5 and 0.3 average to amplitude 0.4 (RMS 0.283); lossy codecs stay within 3 %.
    rms = float(np.sqrt(np.mean(y[2000:-2000].astype(np.float64) ** 2)))
    assert rms == pytest.approx(0.4 / np.sqrt(2), rel=0.03)


def test_channel_average_is_exact_on_wav(tmp_path):
    rng = np.random.default_rng(0)
    y3 = rng.uniform(-0.9, 0.9, size=(8000, 3))
    path = write_audio(tmp_path / "noise.wav", y3, 16000, subtype="PCM_24")
    raw, _ = sf.read(path, dtype="float32", always_2d=True)
    y, sr = load_audio(path, sr=None)
    assert sr == 16000 and len(y) == 8000
    np.testing.assert_array_equal(y, raw.astype(np.float64).mean(axis=1).astype(np.float32))
    multi, _ = load_audio(path, sr=None, mono=False)
    assert multi.shape == (8000, 3)
    np.testing.assert_array_equal(multi, raw)


def test_offset_and_duration_cut_exact_samples(tmp_path):
    path = write_audio(tmp_path / "t.wav", _tone(), SR_IN, subtype="FLOAT")
    full, _ = load_audio(path, sr=None)
    part, sr = load_audio(path, sr=None, offset=0.5, duration=0.25)
    assert sr == SR_IN
    np.testing.assert_array_equal(part, full[22050 : 22050 + 11025])
    # duration past the end is clipped to what is there
    tail, _ = load_audio(path, sr=None, offset=1.5, duration=10.0)
    np.testing.assert_array_equal(tail, full[66150:])


@pytest.mark.parametrize("orig, target", [(44100, 22050), (48000, 22050), (16000, 22050)])
def test_resample_reproduces_the_analytic_sine(orig, target):
    n = orig + 7
    x = np.sin(2 * np.pi * 1000.0 * np.arange(n) / orig).astype(np.float32)
    y = resample(x, orig, target)
    assert y.dtype == np.float32 and abs(len(y) - n * target / orig) <= 1
    expected = np.sin(2 * np.pi * 1000.0 * np.arange(len(y)) / target)
    inner = slice(200, len(y) - 200)  # away from the filter's edge transients
    assert np.max(np.abs(y[inner] - expected[inner])) < 2e-3


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=30_000),
    orig=st.sampled_from([8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000]),
    target=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
)
def test_resampled_length_follows_the_rate_ratio(n, orig, target):
    y = resample(np.zeros(n, dtype=np.float32), orig, target)
    assert abs(len(y) - n * target / orig) <= 1


@pytest.mark.parametrize(
    "ext, subtype", [(".wav", "PCM_U8"), (".wav", "PCM_24"), (".wav", "PCM_32"), (".wav", "DOUBLE"),
                     (".aiff", "PCM_16"), (".flac", "PCM_24")]
)  # fmt: skip
def test_six_channels_at_96k_any_subtype(tmp_path, ext, subtype):
    amps = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    path = write_audio(
        tmp_path / f"six{ext}", _tone(freq=440.0, sr=96000, dur=1.0, amps=amps), 96000, subtype=subtype
    )
    info = audio_info(path)
    assert (info.channels, info.samplerate, info.subtype) == (6, 96000, subtype)
    y, sr = load_audio(path, sr=22050.0)  # a whole-number float rate is accepted
    assert sr == 22050 and isinstance(sr, int) and abs(len(y) - 22050) <= 1
    assert abs(_dominant_hz(y, sr) - 440.0) <= 1.0
    rms = float(np.sqrt(np.mean(y[1000:-1000].astype(np.float64) ** 2)))
    tol = 0.02 if subtype == "PCM_U8" else 0.002
    assert rms == pytest.approx(np.mean(amps) / np.sqrt(2), rel=tol)


def test_mono_file_native_rate_unchanged(tmp_path):
    y0 = (0.25 * np.sin(2 * np.pi * 1000 * np.arange(9600) / 48000)).astype(np.float32)
    path = write_audio(tmp_path / "m.flac", y0, 48000, subtype="PCM_24")
    y, sr = load_audio(path, sr=None)
    assert sr == 48000
    np.testing.assert_allclose(y, y0, atol=2**-22)


def test_audio_info_reads_header(tmp_path):
    path = write_audio(tmp_path / "s.flac", _tone(dur=1.5), SR_IN)
    info = audio_info(path)
    assert info == AudioInfo(
        path=str(path),
        duration=1.5,
        samplerate=SR_IN,
        channels=2,
        frames=66150,
        format="FLAC",
        subtype="PCM_16",
    )


# --------------------------------------------------------------------------------------------
# Every rejection branch


def _make(kind, tmp_path):
    """Create a bad input of the given kind; return (path, load kwargs, reason substring)."""
    tone = _tone(dur=1.0)
    if kind == "missing":
        return tmp_path / "nope.wav", {}, "file not found"
    if kind == "directory":
        d = tmp_path / "folder.wav"
        d.mkdir()
        return d, {}, "is a directory"
    if kind == "empty":
        p = tmp_path / "empty.wav"
        p.write_bytes(b"")
        return p, {}, "file is empty"
    if kind == "unsupported":
        p = tmp_path / "tone.m4a"
        write_audio(tmp_path / "t.wav", tone, SR_IN)
        shutil.copy(tmp_path / "t.wav", p)
        return p, {}, "unsupported extension '.m4a'"
    if kind in ("text_wav", "text_mp3", "text_flac", "text_ogg"):
        p = tmp_path / f"notes.{kind.split('_')[1]}"
        p.write_text("this is a text file, not audio\n" * 20)
        return p, {}, "not an audio file"
    if kind == "truncated_wav":
        full = write_audio(tmp_path / "full.wav", tone, SR_IN)
        p = tmp_path / "cut.wav"
        data = full.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p, {}, "corrupt or truncated"
    if kind == "truncated_flac":
        full = write_audio(tmp_path / "full.flac", tone, SR_IN)
        p = tmp_path / "cut.flac"
        data = full.read_bytes()
        p.write_bytes(data[: len(data) // 2])
        return p, {}, "corrupt or truncated"
    if kind == "garbage_flac":
        full = write_audio(tmp_path / "full.flac", tone, SR_IN)
        data = full.read_bytes()
        p = tmp_path / "garbage.flac"
        p.write_bytes(
            data[:300] + np.random.default_rng(2).integers(0, 256, len(data) - 300, dtype=np.uint8).tobytes()
        )
        return p, {}, "corrupt or truncated"
    if kind == "truncated_mp3":
        full = write_audio(tmp_path / "full.mp3", tone, SR_IN)
        data = full.read_bytes()
        p = tmp_path / "cut.mp3"
        p.write_bytes(data[: len(data) // 2])
        return p, {}, "corrupt or truncated"
    if kind == "truncated_ogg":
        full = write_audio(tmp_path / "full.ogg", tone, SR_IN)
        data = full.read_bytes()
        p = tmp_path / "cut.ogg"
        p.write_bytes(data[: len(data) // 2])
        return p, {}, "corrupt or truncated"
    if kind == "silent":
        p = write_audio(tmp_path / "zeros.wav", np.zeros((SR_IN, 2)), SR_IN)
        return p, {}, "silent"
    if kind == "near_silent":  # 16-bit LSB noise: peak 3e-5 < 1e-4
        y = np.random.default_rng(3).choice([-1, 0, 1], size=SR_IN) / 32768.0
        p = write_audio(tmp_path / "hiss.wav", y, SR_IN)
        return p, {}, "silent"
    if kind == "too_short":
        p = write_audio(tmp_path / "blip.wav", tone[: int(0.05 * SR_IN)], SR_IN)
        return p, {"min_duration": 0.1}, "too short"
    if kind == "header_only":
        p = tmp_path / "header.wav"
        sf.write(p, np.zeros((0, 2)), SR_IN)
        assert p.stat().st_size > 0
        return p, {"min_duration": 0.0}, "no audio frames"
    if kind == "offset_past_end":
        p = write_audio(tmp_path / "t.wav", tone, SR_IN)
        return p, {"offset": 5.0}, "too short"
    if kind in ("nan", "inf"):
        y = tone.astype(np.float32).copy()
        y[1000, 1] = np.nan if kind == "nan" else np.inf
        p = tmp_path / f"{kind}.wav"
        sf.write(p, y, SR_IN, subtype="FLOAT")  # write_audio itself refuses non-finite samples
        return p, {}, "NaN or inf"
    raise AssertionError(kind)


BAD_KINDS = [
    "missing",
    "directory",
    "empty",
    "unsupported",
    "text_wav",
    "text_mp3",
    "text_flac",
    "text_ogg",
    "truncated_wav",
    "truncated_flac",
    "garbage_flac",
    "truncated_mp3",
    "truncated_ogg",
    "silent",
    "near_silent",
    "too_short",
    "header_only",
    "offset_past_end",
    "nan",
    "inf",
]
# Rejected by the decoder: the library's exception must be chained.
DECODER_KINDS = {
    "text_wav",
    "text_mp3",
    "text_flac",
    "text_ogg",
    "truncated_flac",
    "garbage_flac",
    "truncated_ogg",
}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_input_raises_audio_error_with_path_and_reason(tmp_path, kind):
    path, kwargs, reason = _make(kind, tmp_path)
    with pytest.raises(AudioError) as info:
        load_audio(path, **kwargs)
    err = info.value
    assert isinstance(err, InputError)
    assert err.path == str(path)
    assert str(path) in str(err)
    assert reason in err.reason, err.reason
    if kind in DECODER_KINDS:
        assert err.__cause__ is not None and isinstance(err.__cause__, sf.SoundFileError)
    # survives a process boundary (Dask/Ray) with path and reason
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.path, back.reason) == (AudioError, err.path, err.reason)


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "unsupported", "text_wav"])
def test_audio_info_rejects_the_same_files(tmp_path, kind):
    path, _, reason = _make(kind, tmp_path)
    with pytest.raises(AudioError, match=reason):
        audio_info(path)


def test_silence_check_can_be_disabled(tmp_path):
    path, _, _ = _make("silent", tmp_path)
    y, _ = load_audio(path, sr=None, silence_threshold=None)
    assert y.shape == (SR_IN,) and not y.any()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sr": 0},
        {"sr": -22050},
        {"sr": 22050.5},
        {"offset": -1.0},
        {"offset": float("nan")},
        {"duration": 0.0},
        {"min_duration": -0.1},
        {"silence_threshold": -1.0},
        {"res_type": "kaiser_best"},
    ],
)
def test_bad_parameters_raise_parameter_error(tmp_path, kwargs):
    path = write_audio(tmp_path / "t.wav", _tone(dur=0.5), SR_IN)
    with pytest.raises(ParameterError):
        load_audio(path, **kwargs)


def test_write_audio_refuses_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="finite"):
        write_audio(tmp_path / "x.wav", np.array([0.0, np.nan]), 8000)
    with pytest.raises(ParameterError, match="extension"):
        write_audio(tmp_path / "x.m4a", np.zeros(10), 8000)
    with pytest.raises(ParameterError, match="sr="):
        write_audio(tmp_path / "x.wav", np.zeros(10), 0)
    with pytest.raises(ParameterError, match="shape"):
        write_audio(tmp_path / "x.wav", np.zeros((2, 2, 2)), 8000)


def test_every_listed_extension_is_classified_as_audio():
    from alignkit.io.files import file_kind

    assert all(file_kind(f"a{ext}") == "audio" for ext in AUDIO_EXTENSIONS)


# --------------------------------------------------------------------------------------------
# Real recordings


@pytest.mark.parametrize(
    "parts, native, channels",
    [
        (("bach_violin_real", "audio", "minji-kim", "minji-kim_bwv1003_mov3.opus"), 48000, 2),
        (("bach_violin_real", "emil-telmanyi_bwv1001_trimmed_30sec.mp3"), 44100, 2),
    ],
)
def test_real_opus_and_mp3_decode_to_the_reported_duration(parts, native, channels):
    path = shared_path(*parts)
    info = audio_info(path)
    assert (info.samplerate, info.channels) == (native, channels)
    assert info.duration == pytest.approx(info.frames / native)
    y, sr = load_audio(path, sr=22050, duration=5.0)
    assert sr == 22050 and abs(len(y) - 5 * 22050) <= 1
    assert 0.01 < float(np.max(np.abs(y))) <= 1.5
    # An offset gives exactly the matching slice of a plain decode. (On this Opus file, one libsndfile
    # read of 3 s at 48 kHz shifts everything after 2.34 s by the 312-sample pre-skip; load_audio
    # reads in blocks that decode consistently.)
    head, sr_native = load_audio(path, sr=None, duration=3.0)
    part, _ = load_audio(path, sr=None, offset=1.0, duration=1.5)
    assert sr_native == native
    np.testing.assert_array_equal(part, head[native : native + int(1.5 * native)])


def test_real_mp3_decodes_to_the_end_the_header_reports():
    path = shared_path("bach_violin_real", "audio", "john-garner", "john-garner_bwv1002_mov7.mp3")
    info = audio_info(path)
    assert info.duration == pytest.approx(143.4133, abs=1e-3)
    # the recording ends in digital silence: the silence check would (rightly) reject this slice
    with pytest.raises(AudioError, match="silent"):
        load_audio(path, sr=None, offset=info.duration - 1.0)
    tail, sr = load_audio(path, sr=None, offset=info.duration - 1.0, silence_threshold=None)
    assert sr == 44100 and abs(len(tail) - 44100) <= 1


def test_real_chopin_wav_loads_whole():
    path = shared_path("chopin_op10_3_real", "Chopin_Op010-03-Measures1-8_Varsi.wav")
    info = audio_info(path)
    assert (info.samplerate, info.channels, info.format) == (22050, 1, "WAV")
    y, sr = load_audio(path)
    assert sr == 22050 and len(y) == info.frames
    assert info.duration == pytest.approx(22.41, abs=0.01)


# --------------------------------------------------------------------------------------------
# alignkit.io.files


def test_content_hash_streams_to_the_same_digest(tmp_path):
    import hashlib

    from alignkit.io.files import content_hash

    data = np.random.default_rng(6).integers(0, 256, 100_003, dtype=np.uint8).tobytes()
    p = tmp_path / "blob.wav"
    p.write_bytes(data)
    assert content_hash(p) == hashlib.sha256(data).hexdigest()
    assert content_hash(p, chunk=7) == hashlib.sha256(data).hexdigest()  # chunk boundaries do not matter
    assert content_hash(p, algo="md5") == hashlib.md5(data).hexdigest()
    # renaming keeps the key, one changed byte changes it
    q = tmp_path / "renamed.flac"
    shutil.copy(p, q)
    assert content_hash(q) == content_hash(p)
    q.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert content_hash(q) != content_hash(p)


def test_content_hash_errors(tmp_path):
    from alignkit.io.files import content_hash

    with pytest.raises(InputError, match="file not found"):
        content_hash(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="is a directory"):
        content_hash(tmp_path)
    (tmp_path / "x").write_bytes(b"x")
    with pytest.raises(ParameterError, match="algo='sha0'"):
        content_hash(tmp_path / "x", algo="sha0")
    with pytest.raises(ParameterError, match="chunk=0"):
        content_hash(tmp_path / "x", chunk=0)


def test_file_kind_by_extension_and_csv_header(tmp_path):
    from alignkit.io.files import file_kind

    names = ["a.WAV", "b.opus", "c.mid", "d.MXL", "e.musicxml", "f.txt", "g.pdf", "h"]
    kinds = ["audio", "audio", "score", "score", "score", "annotation", None, None]
    assert [file_kind(n) for n in names] == kinds
    notes = tmp_path / "notes.csv"
    notes.write_text("Start;Duration;Pitch;Velocity;Instrument\n0;1;60;64;piano\n")
    measures = tmp_path / "measures.csv"
    measures.write_text("start;measure\n0.5;1\n")
    assert file_kind(notes) == "score"
    assert file_kind(measures) == "annotation"
    assert file_kind(notes, sniff=False) == "annotation"
    assert file_kind(tmp_path / "absent.csv") == "annotation"
