"""The Sync Toolbox's high-resolution audio-audio pipeline, run inside bench/.venv-peers.

Called by bench/bench_accuracy.py through subprocess (the Sync Toolbox pins numba/numpy
versions that cannot live in alignkit's environment). It follows the toolbox's own
audio-to-audio tutorial: tuning estimation, IIR-filterbank pitch features at 50 Hz ->
quantised chroma, pitch onsets -> DLNCO, optimal chroma shift from 1 Hz CENS, MrMsDTW with
chroma + DLNCO at the finest level (step weights 1.5, 1.5, 2, threshold_rec 10**6), and
the strictly monotone path.

Usage::

    bench/.venv-peers/bin/python bench/peers_sync_pipeline.py JOB.json

``JOB.json``: ``{"out_dir": ..., "sr": 22050, "versions": {id: wav_path, ...},
"pairs": [[id_a, id_b], ...]}``. Writes ``out_dir/<i>.npy`` (path of pair i, shape (L, 2),
column 0 = frame of A at 50 Hz, alignkit's convention) and ``out_dir/timings.json``:
per version the load and feature seconds, per pair the alignment seconds, and the
library versions. Features of a version are computed once; the first version is computed
twice and its first (JIT-compiling) run is reported separately.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

FEATURE_RATE = 50


def features(path: str, sr: int):
    import librosa
    from synctoolbox.feature.chroma import pitch_to_chroma, quantize_chroma, quantized_chroma_to_CENS
    from synctoolbox.feature.dlnco import pitch_onset_features_to_DLNCO
    from synctoolbox.feature.pitch import audio_to_pitch_features
    from synctoolbox.feature.pitch_onset import audio_to_pitch_onset_features
    from synctoolbox.feature.utils import estimate_tuning

    t0 = time.perf_counter()
    y, _ = librosa.load(path, sr=sr, mono=True)
    t1 = time.perf_counter()
    tuning = estimate_tuning(y, sr)
    f_pitch = audio_to_pitch_features(f_audio=y, Fs=sr, tuning_offset=tuning, feature_rate=FEATURE_RATE)
    f_chroma = quantize_chroma(f_chroma=pitch_to_chroma(f_pitch=f_pitch))
    f_onsets = audio_to_pitch_onset_features(f_audio=y, Fs=sr, tuning_offset=tuning)
    f_dlnco = pitch_onset_features_to_DLNCO(
        f_peaks=f_onsets, feature_rate=FEATURE_RATE, feature_sequence_length=f_chroma.shape[1]
    )
    cens = quantized_chroma_to_CENS(f_chroma, 201, 50, FEATURE_RATE)[0]
    t2 = time.perf_counter()
    return {"chroma": f_chroma, "dlnco": f_dlnco, "cens": cens, "load_s": t1 - t0, "features_s": t2 - t1}


def align(fa: dict, fb: dict) -> np.ndarray:
    from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw
    from synctoolbox.dtw.utils import compute_optimal_chroma_shift, make_path_strictly_monotonic
    from synctoolbox.feature.utils import shift_chroma_vectors

    shift = compute_optimal_chroma_shift(fa["cens"], fb["cens"])
    cb = shift_chroma_vectors(fb["chroma"], shift)
    db = shift_chroma_vectors(fb["dlnco"], shift)
    wp = sync_via_mrmsdtw(
        f_chroma1=fa["chroma"],
        f_onset1=fa["dlnco"],
        f_chroma2=cb,
        f_onset2=db,
        input_feature_rate=FEATURE_RATE,
        step_weights=np.array([1.5, 1.5, 2.0]),
        threshold_rec=10**6,
        verbose=False,
    )
    wp = make_path_strictly_monotonic(wp)
    return np.ascontiguousarray(np.asarray(wp, dtype=np.int64).T)


def main(job_path: str) -> None:
    import librosa
    import numba
    import synctoolbox

    with open(job_path) as fh:
        job = json.load(fh)
    out_dir, sr = job["out_dir"], int(job.get("sr", 22050))
    os.makedirs(out_dir, exist_ok=True)
    feats, timings = (
        {},
        {
            "versions": {},
            "pairs": [],
            "feature_rate": FEATURE_RATE,
            "libraries": {
                "synctoolbox": getattr(synctoolbox, "__version__", "?"),
                "numpy": np.__version__,
                "numba": numba.__version__,
                "librosa": librosa.__version__,
            },
        },
    )
    first = True
    for vid, path in job["versions"].items():
        if first:  # the first run compiles the numba kernels: time it apart
            warm = features(path, sr)
            timings["jit_features_s"] = warm["features_s"]
            first = False
        f = features(path, sr)
        feats[vid] = f
        timings["versions"][vid] = {
            "load_s": f["load_s"],
            "features_s": f["features_s"],
            "n_frames": int(f["chroma"].shape[1]),
        }
    warm_done = False
    for i, (a, b) in enumerate(job["pairs"]):
        if not warm_done:
            t0 = time.perf_counter()
            align(feats[a], feats[b])
            timings["jit_align_s"] = time.perf_counter() - t0
            warm_done = True
        t0 = time.perf_counter()
        path = align(feats[a], feats[b])
        dt = time.perf_counter() - t0
        np.save(os.path.join(out_dir, f"{i}.npy"), path)
        timings["pairs"].append({"a": a, "b": b, "align_s": dt, "file": f"{i}.npy"})
        print(f"sync toolbox pair {i + 1}/{len(job['pairs'])} {a} ~ {b}: {dt:.2f} s", flush=True)
    with open(os.path.join(out_dir, "timings.json"), "w") as fh:
        json.dump(timings, fh, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: peers_sync_pipeline.py JOB.json")
    main(sys.argv[1])
