"""alignkit.synth: notes -> audio at exact sample positions, the demo corpus, rendered ASAP.

- :func:`render_notes`: SoundFont (TinySoundFont) or additive rendering, every note on
  sample ``round(start * sr)``.
- :class:`TempoCurve`, :func:`random_tempo_curve`: monotone, invertible score -> performance
  time maps with rubato.
- :func:`build_demo_corpus`: works x rendered versions + score versions with exact beats
  and note onsets, from music21's corpus and the pretty_midi wheel's SoundFont.
- :func:`render_asap`: ASAP performance MIDIs -> audio with their real beat annotations.
"""

from alignkit.synth.asap import render_asap
from alignkit.synth.demo import build_demo_corpus
from alignkit.synth.render import default_soundfont, render_notes
from alignkit.synth.tempo import TempoCurve, random_tempo_curve

__all__ = [
    "render_notes",
    "default_soundfont",
    "TempoCurve",
    "random_tempo_curve",
    "build_demo_corpus",
    "render_asap",
]
