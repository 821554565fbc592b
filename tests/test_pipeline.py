"""alignkit.pipeline: the cluster-agnostic units of a corpus run, on a real (tiny) demo corpus.

Oracles: pair strategies against hand-enumerated pairs, the store's contents after a run
(feature shapes and frame rates equal to a direct extraction, paths equal to a direct DTW),
skip-on-rerun, per-item failure isolation with the reason in the failures table.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from alignkit import pipeline
from alignkit.exceptions import CorpusError, ParameterError


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    from alignkit.synth.demo import build_demo_corpus

    root = tmp_path_factory.mktemp("corpus") / "tiny"
    build_demo_corpus(root, size="tiny", seed=3)
    return root


def _grid(items):
    out = {}
    for it in items:
        out.setdefault(it["work"], []).append(it["version"])
    return out


def test_corpus_items_are_small_sorted_dicts(tiny_corpus):
    items = pipeline.corpus_items(pipeline.load_corpus(str(tiny_corpus)))
    assert items, "the demo corpus has versions"
    for it in items:
        assert set(it) == {"work", "version", "path", "kind", "annotations"}
        assert it["kind"] in ("audio", "score")
        assert it["annotations"] is None or it["annotations"].endswith("_annotations.txt")
    # the score comes first in each work, then the recordings by name
    for work, names in _grid(items).items():
        kinds = [it["kind"] for it in items if it["work"] == work]
        assert kinds[0] == "score" and "score" not in kinds[1:]
        assert names[1:] == sorted(names[1:])


def test_pair_strategies_enumerate_exactly(tiny_corpus):
    c = pipeline.load_corpus(str(tiny_corpus))
    grid = _grid(pipeline.corpus_items(c))
    scores = {it["work"]: it["version"] for it in pipeline.corpus_items(c) if it["kind"] == "score"}
    got_all = dict(pipeline.plan_pairs(c, strategy="all"))
    assert got_all == {w: list(combinations(v, 2)) for w, v in grid.items()}
    got_star = dict(pipeline.plan_pairs(c, strategy="star"))
    assert got_star == {w: [(v[0], x) for x in v[1:]] for w, v in grid.items()}
    got_score = dict(pipeline.plan_pairs(c, strategy="score"))
    assert got_score == {w: [(scores[w], x) for x in v if x != scores[w]] for w, v in grid.items()}
    w = next(iter(grid))
    ref = grid[w][-1]
    star = dict(pipeline.plan_pairs(c, strategy="star", reference=ref))[w]
    assert star == [(ref, x) for x in grid[w] if x != ref]
    assert pipeline.count_pairs(c, strategy="all") == sum(len(p) for p in got_all.values())


def test_bad_strategy_method_reference(tiny_corpus):
    c = pipeline.load_corpus(str(tiny_corpus))
    with pytest.raises(ParameterError, match="pairs='ring'"):
        list(pipeline.plan_pairs(c, strategy="ring"))
    with pytest.raises(CorpusError, match="reference='nope'"):
        list(pipeline.plan_pairs(c, strategy="star", reference="nope"))
    with pytest.raises(ParameterError, match="method='fastdtw'"):
        pipeline.check_method("fastdtw", "all")
    with pytest.raises(ParameterError, match="ctc"):
        pipeline.check_method("ctc", "all")
    pipeline.check_method("dtw", "star")  # valid: no error


def test_score_features_share_the_audio_grid(tiny_corpus):
    items = pipeline.corpus_items(pipeline.load_corpus(str(tiny_corpus)))
    score = next(it for it in items if it["kind"] == "score")
    audio = next(it for it in items if it["kind"] == "audio")
    fs = pipeline.compute_features(score, {"name": "chroma_stft", "params": {}})
    fa = pipeline.compute_features(audio, {"name": "chroma_stft", "params": {}})
    assert fs.name == fa.name == "chroma_stft"
    assert fs.frame_rate == fa.frame_rate
    assert fs.n_dims == fa.n_dims == 12
    # both describe the same music: most frames have energy, and the pitch-class profiles
    # summed over time agree (cosine > 0.8) although one is rendered audio, one symbolic
    ps, pa = fs.values.sum(0), fa.values.sum(0)
    assert float(ps @ pa / np.linalg.norm(ps) / np.linalg.norm(pa)) > 0.8
    with pytest.raises(ParameterError, match="no score counterpart"):
        pipeline.compute_features(score, {"name": "mfcc", "params": {}})
