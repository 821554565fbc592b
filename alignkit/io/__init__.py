"""Input: audio decoding and resampling, scores, annotation files."""

from alignkit.io.audio import audio_info, load_audio, write_audio
from alignkit.io.files import content_hash, file_kind
from alignkit.io.notes import Notes
from alignkit.io.scores import load_score, onset_roll, piano_roll, write_midi

__all__ = [
    "Notes",
    "audio_info",
    "content_hash",
    "file_kind",
    "load_audio",
    "load_score",
    "onset_roll",
    "piano_roll",
    "write_audio",
    "write_midi",
]
