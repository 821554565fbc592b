"""The read side of the results store, for notebooks: ``open_results(uri)``.

>>> res = open_results("results/")                      # doctest: +SKIP
>>> res.works(); res.versions("work_a")                  # doctest: +SKIP
>>> res.features("work_a", "take1", "chroma")            # xarray.DataArray (time, dim)  # doctest: +SKIP
>>> res.path("work_a", "take1", "take2")                 # (L, 2) int64 frames  # doctest: +SKIP
>>> res.transfer("work_a", "take1", "take3", [1.0, 2.5]) # seconds in take3  # doctest: +SKIP
>>> res.evaluation(); res.failures()                     # pandas DataFrames  # doctest: +SKIP
>>> res.sql("SELECT method, avg(value) FROM evaluation GROUP BY method")  # doctest: +SKIP
>>> res.plot_alignment("work_a", "take1", "take2")       # matplotlib Axes  # doctest: +SKIP

API
---
``open_results(uri, *, storage_options=None) -> Results``

``Results.works()``, ``versions(work)``, ``methods(work=None)``, ``extractors()``,
``alignments(work=None)`` (DataFrame of stored pairs), ``features(work, version,
extractor=None, *, as_features=False)``, ``alignment(work, a, b, method=None)``,
``path(work, a, b, method=None)``, ``chain(work, a, b, method=None)``,
``time_map(work, a, b, method=None)``, ``transfer(work, a, b, times, method=None)``,
``evaluation()``, ``failures()``, ``runs()``, ``table(name)``, ``sql(query)``,
``plot_alignment(...)``, ``plot_tempo(...)``, ``plot_error_vs_tolerance(...)``, ``refresh()``.

Orientation: a pair stored as ``(a, b)`` answers ``path(work, b, a)`` with its columns
swapped and ``transfer(work, b, a, ...)`` through the inverse time map. Pairs that were not
aligned directly are answered through the shortest chain of aligned pairs of the same
method (ties broken by version name), composing paths (:func:`~alignkit.align.paths.compose_paths`)
or time maps hop by hop.
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np

from alignkit.exceptions import StoreError
from alignkit.store import tables as _tables
from alignkit.store.results import ResultsStore, StoredAlignment

__all__ = ["Results", "open_results"]


def open_results(uri: str | os.PathLike, *, storage_options: dict | None = None) -> Results:
    """Open a results store for reading.

    Raises
    ------
    StoreError
        ``uri`` is not an alignkit results store.
    """
    return Results(ResultsStore(uri, storage_options=storage_options, read_only=True))


class Results:
    """Query a results store (see the module docstring)."""

    def __init__(self, store: ResultsStore):
        self.store = store
        self._al = None
        self._ft = None

    def __repr__(self) -> str:
        return f"Results({self.store.uri!r})"

    def refresh(self) -> Results:
        """Forget cached listings (after more results were written)."""
        self._al = None
        self._ft = None
        return self

    # ------------------------------------------------------------------ listings
    def _alignments(self):
        if self._al is None:
            self._al = self.store.list_alignments()
        return self._al

    def _features(self):
        if self._ft is None:
            self._ft = self.store.list_features()
        return self._ft

    def _recordings(self):
        try:
            return self.store.read_table("recordings")
        except Exception:  # noqa: BLE001 - the table is optional
            return None

    def works(self) -> list[str]:
        """Every work with recordings, features or alignments in the store, sorted."""
        ws = set(self._features()["work"]) | set(self._alignments()["work"])
        rec = self._recordings()
        if rec is not None and len(rec):
            ws |= set(rec["work"])
        return sorted(ws)

    def versions(self, work: str) -> list[str]:
        """Versions of ``work`` known to the store, sorted."""
        ft, al = self._features(), self._alignments()
        vs = set(ft.loc[ft.work == work, "version"])
        sub = al[al.work == work]
        vs |= set(sub.version_a) | set(sub.version_b)
        rec = self._recordings()
        if rec is not None and len(rec):
            vs |= set(rec.loc[rec.work == work, "version"])
        if not vs:
            raise StoreError(
                f"work {work!r} is not in the store {self.store.uri} (works: {self.works()[:10]})"
            )
        return sorted(vs)

    def methods(self, work: str | None = None) -> list[str]:
        """Alignment methods in the store (for ``work``), sorted."""
        al = self._alignments()
        if work is not None:
            al = al[al.work == work]
        return sorted(set(al.method))

    def extractors(self) -> list[str]:
        """Feature extractors (slot names) in the store, sorted."""
        return sorted(set(self._features().extractor))

    def alignments(self, work: str | None = None):
        """Return the stored alignment items as a DataFrame (method, work, version_a, version_b, ...)."""
        al = self._alignments()
        return al if work is None else al[al.work == work].reset_index(drop=True)

    # ------------------------------------------------------------------ features
    def features(self, work: str, version: str, extractor: str | None = None, *, as_features: bool = False):
        """Features of one version, as an :class:`xarray.DataArray` with time coordinates.

        Parameters
        ----------
        work, version : str
        extractor : str, optional
            Needed when the version has several extractors stored.
        as_features : bool
            Return :class:`~alignkit.features.base.Features` instead.

        Returns
        -------
        xarray.DataArray [dims=("time", "dim")]
            ``time`` in seconds (frame ``n`` at ``n / frame_rate``), ``dim`` the dimension
            labels (or indices); attributes: frame rate, params, hashes, library versions.
        """
        if extractor is None:
            ft = self._features()
            avail = sorted(set(ft.loc[(ft.work == work) & (ft.version == version), "extractor"]))
            if len(avail) != 1:
                raise StoreError(
                    f"{work}:{version} has features {avail}; pass extractor= to choose"
                    if avail
                    else f"no features stored for {work}:{version}"
                )
            extractor = avail[0]
        f = self.store.read_features(work, version, extractor)
        if as_features:
            return f
        import xarray as xr

        meta = self.store.features_attrs(work, version, extractor)
        dims = list(f.dim_labels) if f.dim_labels else np.arange(f.n_dims)
        attrs = {
            "frame_rate": f.frame_rate,
            "extractor": extractor,
            "work": work,
            "version": version,
            "params_hash": meta.get("params_hash"),
            "source_hash": meta.get("source_hash"),
            "code_version": meta.get("code_version"),
        }
        return xr.DataArray(
            f.values,
            dims=("time", "dim"),
            coords={"time": f.times, "dim": dims},
            name=extractor,
            attrs={k: v for k, v in attrs.items() if v is not None},
        )

    # ------------------------------------------------------------------ alignments
    def _method(self, work: str, method: str | None) -> str:
        ms = self.methods(work)
        if method is not None:
            if method not in ms:
                raise StoreError(f"method {method!r} has no alignments for work {work!r} (methods: {ms})")
            return method
        if len(ms) != 1:
            raise StoreError(
                f"work {work!r} has alignments of methods {ms}; pass method= to choose"
                if ms
                else f"no alignments stored for work {work!r}"
            )
        return ms[0]

    def _edges(self, work: str, method: str) -> dict[str, list[tuple[str, bool]]]:
        al = self._alignments()
        sub = al[(al.work == work) & (al.method == method)]
        g: dict[str, list[tuple[str, bool]]] = {}
        for a, b in zip(sub.version_a, sub.version_b, strict=True):
            g.setdefault(a, []).append((b, False))
            g.setdefault(b, []).append((a, True))
        return {k: sorted(v) for k, v in g.items()}

    def chain(self, work: str, a: str, b: str, method: str | None = None) -> list[str]:
        """Shortest chain of aligned versions ``[a, ..., b]`` (breadth-first, ties by name).

        Raises
        ------
        StoreError
            When ``a`` and ``b`` are not connected by aligned pairs of ``method``.
        """
        method = self._method(work, method)
        if a == b:
            return [a]
        g = self._edges(work, method)
        prev = {a: None}
        q = deque([a])
        while q:
            u = q.popleft()
            for v, _ in g.get(u, []):
                if v not in prev:
                    prev[v] = u
                    if v == b:
                        q.clear()
                        break
                    q.append(v)
        if b not in prev:
            raise StoreError(f"{work}: {a!r} and {b!r} are not connected by {method!r} alignments")
        out = [b]
        while out[-1] != a:
            out.append(prev[out[-1]])
        return out[::-1]

    def alignment(
        self, work: str, a: str, b: str, method: str | None = None, *, soft: bool = True
    ) -> StoredAlignment:
        """Return the directly stored alignment of ``a`` and ``b``, oriented A = ``a``.

        A pair stored as ``(b, a)`` is returned with its path columns swapped.
        """
        method = self._method(work, method)
        if self.store.alignment_complete(method, work, a, b):
            return self.store.read_alignment(method, work, a, b, soft=soft)
        if self.store.alignment_complete(method, work, b, a):
            r = self.store.read_alignment(method, work, b, a, soft=soft)
            sm = r.soft_matrix() if soft else None
            return StoredAlignment(
                method=method,
                work=work,
                version_a=a,
                version_b=b,
                path=r.path[:, ::-1].copy(),
                cost=r.cost,
                frame_rate_a=r.frame_rate_b,
                frame_rate_b=r.frame_rate_a,
                n_frames_a=r.n_frames_b,
                n_frames_b=r.n_frames_a,
                confidence=None,
                soft=None if sm is None else sm.T.copy(),
                attrs={**r.attrs, "inverted": True},
            )
        raise StoreError(
            f"{work}: no {method!r} alignment of {a!r} and {b!r} stored (try path() or transfer(), "
            "which compose through chains)"
        )

    def path(self, work: str, a: str, b: str, method: str | None = None) -> np.ndarray:
        """Warping path a -> b in frames, ``(L, 2)`` int64, column 0 in ``a``.

        Direct, inverted, or composed through the shortest chain of aligned pairs (the
        intermediate versions must have the same frame rate in both pairs they join).
        """
        from alignkit.align.paths import compose_paths

        method = self._method(work, method)
        ch = self.chain(work, a, b, method)
        hops = [self.alignment(work, u, v, method, soft=False) for u, v in zip(ch[:-1], ch[1:], strict=True)]
        p = hops[0].path
        for prev, nxt in zip(hops[:-1], hops[1:], strict=True):
            if not np.isclose(prev.frame_rate_b, nxt.frame_rate_a):
                raise StoreError(
                    f"{work}: cannot compose paths through {prev.version_b!r}: frame rates "
                    f"{prev.frame_rate_b} and {nxt.frame_rate_a} differ; use transfer()"
                )
            p = compose_paths(p, nxt.path)
        return p

    def time_map(self, work: str, a: str, b: str, method: str | None = None):
        """Return a function ``times in a (s) -> times in b (s)`` through the shortest aligned chain."""
        method = self._method(work, method)
        ch = self.chain(work, a, b, method)
        maps = []
        for u, v in zip(ch[:-1], ch[1:], strict=True):
            # an inverted hop uses the exact inverse of the stored pair's strict map, so
            # transfer(a, b) and transfer(b, a) are inverse functions
            if self.store.alignment_complete(method, work, u, v):
                maps.append(self.store.read_alignment(method, work, u, v, soft=False).time_map(strict=True))
            else:
                maps.append(
                    self.store.read_alignment(method, work, v, u, soft=False).time_map(strict=True).inverse()
                )

        def f(t):
            out = np.asarray(t, dtype=np.float64)
            for m in maps:
                out = m(out)
            return out

        return f

    def transfer(self, work: str, a: str, b: str, times, method: str | None = None) -> np.ndarray:
        """Map event times (seconds) in version ``a`` to version ``b``.

        Parameters
        ----------
        work, a, b : str
        times : array-like [shape=(n,)]
            Seconds in ``a``.
        method : str, optional
            Needed when the work has alignments of several methods.

        Returns
        -------
        np.ndarray [shape=(n,), dtype=float64]
            Seconds in ``b`` (piecewise-linear through the strictly monotone path anchors,
            composed hop by hop when ``a`` and ``b`` were not aligned directly).
        """
        return self.time_map(work, a, b, method)(times)

    # ------------------------------------------------------------------ tables
    def table(self, name: str):
        """All current rows of table ``name`` as a pandas DataFrame."""
        return self.store.read_table(name)

    def evaluation(self):
        """Return the ``evaluation`` table (one row per pair x metric x tolerance)."""
        return self.table("evaluation")

    def failures(self):
        """Return the ``failures`` table (item, stage, error type, message, time)."""
        return self.table("failures")

    def runs(self):
        """Return the ``runs`` table."""
        return self.table("runs")

    def sql(self, query: str):
        """Run DuckDB SQL over the tables (each a view named after it); return a DataFrame.

        Tables: ``recordings``, ``features``, ``alignments``, ``evaluation``, ``failures``, ``runs``.
        """
        import duckdb

        con = duckdb.connect()
        try:
            for name in _tables.TABLES:
                con.register(name, self.store.table_dataset(name))
            return con.execute(query).df()
        except duckdb.Error as exc:
            raise StoreError(f"SQL failed: {exc}") from exc
        finally:
            con.close()

    # ------------------------------------------------------------------ plots
    def plot_alignment(
        self, work: str, a: str, b: str, *, method: str | None = None, extractor: str | None = None, ax=None
    ):
        """Plot the soft alignment (or a cost matrix from stored features) with the path."""
        from alignkit.store.plots import plot_alignment

        return plot_alignment(self, work, a, b, method=method, extractor=extractor, ax=ax)

    def plot_tempo(
        self,
        work: str,
        version: str,
        reference: str,
        *,
        method: str | None = None,
        window_s: float = 4.0,
        ax=None,
    ):
        """Tempo curve of ``version`` relative to ``reference``; see :mod:`~alignkit.store.plots`."""
        from alignkit.store.plots import plot_tempo

        return plot_tempo(self, work, version, reference, method=method, window_s=window_s, ax=ax)

    def plot_error_vs_tolerance(self, *, metric: str | None = None, ax=None):
        """Plot an evaluation metric against tolerance, one curve per method."""
        from alignkit.store.plots import plot_error_vs_tolerance

        return plot_error_vs_tolerance(self.evaluation(), metric=metric, ax=ax)
