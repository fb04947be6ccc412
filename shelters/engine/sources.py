"""Learning per-source reliability across sites.

A first pass reconciles every site with prior (grade/method) noise.  For each
report we take its leave-one-out residual: the report against the consensus
of all *other* reports at that site and day.  Per source:

* value claims -> ``log_bias`` (median residual: a source that inflates by
  20 % gets +0.18) and ``noise_scale`` (how much larger/smaller its scatter is
  than the prior said, after removing the consensus's own uncertainty);
* bounds -> ``bound_gap``/``bound_spread``: how far inside its bounds the
  consensus usually lies (an authority that says "more than 1,000" of 1,900
  people gets a large gap, so its bounds stop dragging estimates down).

Each figure is shrunk toward the neutral prior with a pseudo-count, so a
source seen a few times stays close to its grade.  The pass is repeated with
the learned profiles (a better consensus gives better residuals).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np

from .observations import BOUND_GAP_DEFAULT, BOUND_GAP_MIN, BOUND_SPREAD_DEFAULT, LOWER, VALUE
from .reconcile import fit_sites
from .types import SiteInput, SourceProfile

LEARN_ROUNDS = 2
SHRINK_N = 8.0  # pseudo-count toward the prior (bias 0, scale 1, default gap)
MAX_CAV_VAR = 0.15**2  # only residuals against a reasonably informed consensus count
Z2_CAP = 16.0  # winsorise squared residuals (4 sd) so one blunder can't dominate
SCALE_RANGE = (0.3, 6.0)
BIAS_RANGE = (-1.5, 1.5)
BOUND_VIOL_Z = 2.0
BOUND_EPS_RANGE = (0.002, 0.6)
# Profiles are population statistics: past a few thousand sites more sites
# add little but cost time.  Learning uses an evenly spaced sample of sites (in
# key order, so deterministic), plus every site carrying a source the sample
# would otherwise miss.
LEARN_MAX_SITES = 1500


def learning_sample(site_sources: Iterable[tuple[str, frozenset[str]]]) -> list[str]:
    """Keys of the sites to learn from, given each site's key and the sources reporting on it.

    Exposed so an adapter can read just these sites' reports; ``learn_source_profiles``
    applies the same choice to whatever it is given.
    """
    listed = sorted(site_sources)
    n = len(listed)
    if n <= LEARN_MAX_SITES:
        return [key for key, _ in listed]
    step = n / LEARN_MAX_SITES
    pick = {int(i * step) for i in range(LEARN_MAX_SITES)}
    seen = {source for i in pick for source in listed[i][1]}
    for i, (_, sources) in enumerate(listed):
        if i not in pick:
            new = sources - seen
            if new:
                pick.add(i)
                seen |= new
    return [listed[i][0] for i in sorted(pick)]


def _profiles_from(
    val: Mapping[str, list[tuple[float, float, float]]],
    bnd: Mapping[str, list[tuple[float, float, float]]],
    prev: Mapping[str, SourceProfile] | None = None,
) -> dict[str, SourceProfile]:
    out: dict[str, SourceProfile] = {}
    for src in sorted(set(val) | set(bnd)):
        # Lags are not learned yet (see the report); a given one is kept.
        lag = getattr((prev or {}).get(src), "lag", 0) or 0
        bias, scale, n = 0.0, 1.0, 0
        rows = val.get(src, [])
        if len(rows):
            arr = np.asarray(rows, dtype=float)
            arr = arr[np.lexsort(arr.T[::-1])]
            r, pc, s0 = arr[:, 0], arr[:, 1], arr[:, 2]
            n = len(r)
            b_hat = float(np.median(r))
            bias = float(np.clip(b_hat * n / (n + SHRINK_N), *BIAS_RANGE))
            z2 = np.minimum(np.maximum((r - b_hat) ** 2 - pc, 0.0) / s0**2, Z2_CAP)
            s2 = (SHRINK_N + float(z2.sum())) / (SHRINK_N + n)
            scale = float(np.clip(np.sqrt(s2), *SCALE_RANGE))
        gap = spread = beps = None
        nb = 0
        g = bnd.get(src, [])
        if len(g):
            garr = np.asarray(g, dtype=float)
            garr = garr[np.lexsort(garr.T[::-1])]
            ga, gz, ge = garr[:, 0], garr[:, 1], garr[:, 2]
            nb = len(ga)
            med = float(np.median(ga))
            mad = float(np.median(np.abs(ga - med))) * 1.4826
            w = nb / (nb + SHRINK_N)
            gap = max(BOUND_GAP_MIN, w * med + (1 - w) * BOUND_GAP_DEFAULT)
            spread = max(0.05, w * mad + (1 - w) * BOUND_SPREAD_DEFAULT)
            # Share of bounds clearly violated by the consensus (> 2 sd), shrunk
            # toward the grade's prior rate.
            viol = float((gz < -BOUND_VIOL_Z).sum())
            beps = float(np.clip((viol + SHRINK_N * float(ge.mean())) / (nb + SHRINK_N), *BOUND_EPS_RANGE))
        out[src] = SourceProfile(
            source=src,
            log_bias=round(bias, 6),
            noise_scale=round(scale, 6),
            n=n,
            bound_gap=None if gap is None else round(gap, 6),
            bound_spread=None if spread is None else round(spread, 6),
            n_bounds=nb,
            bound_eps=None if beps is None else round(beps, 6),
            lag=lag,
        )
    return out


def learn_source_profiles(
    sites: Iterable[SiteInput],
    *,
    until: date,
    rounds: int = LEARN_ROUNDS,
    initial: Mapping[str, SourceProfile] | None = None,
    sampled: bool = False,
) -> dict[str, SourceProfile]:
    """Learn a profile per source from all sites' reports (see module doc).

    ``sampled``: the sites are already ``learning_sample``'s choice (the adapter
    read only those); choosing again from a sample would not give the same sites.
    """
    by_key = {site.key: site for site in sites}
    if sampled:
        chosen = sorted(by_key)
    else:
        chosen = learning_sample((key, frozenset(r.source for r in site.reports)) for key, site in by_key.items())
    site_list = [by_key[key] for key in chosen]
    gc_on = gc.isenabled()
    gc.disable()  # many short-lived tuples, no cycles: the cyclic GC only costs time
    try:
        return _learn(site_list, until, rounds, initial)
    finally:
        if gc_on:
            gc.enable()


def _learn(
    site_list: list[SiteInput], until: date, rounds: int, initial: Mapping[str, SourceProfile] | None
) -> dict[str, SourceProfile]:
    profiles: dict[str, SourceProfile] = dict(initial or {})
    statics: list = []
    for _ in range(max(1, rounds)):
        fits = [sf for sf in fit_sites(site_list, until, profiles, statics) if sf is not None]
        val: dict[str, list] = defaultdict(list)
        bnd: dict[str, list] = defaultdict(list)
        if fits:
            cat = np.concatenate
            pk = np.array([k for sf in fits for k in sf.obs.pkeys], dtype=object)
            kind = cat([sf.obs.kind for sf in fits])
            y_raw = cat([sf.obs.y_raw for sf in fits])
            sigma0 = cat([sf.obs.sigma0 for sf in fits])
            m_cav = cat([sf.fit.m_cav for sf in fits])
            p_cav = cat([sf.fit.p_cav for sf in fits])
            z = cat([sf.fit.z for sf in fits])
            geps = cat([sb.b_eps for sb in statics])  # same order: usable reports, site-major
            ok = p_cav <= MAX_CAV_VAR
            sgn = np.where(kind == LOWER, 1.0, -1.0)
            isv = kind == VALUE
            names, inv = np.unique(pk, return_inverse=True)
            inv = inv.reshape(-1)
            for j, src in enumerate(names.tolist()):
                mv = ok & (inv == j)
                a = mv & isv
                if a.any():
                    val[src] = np.column_stack((y_raw[a] - m_cav[a], p_cav[a], sigma0[a]))
                b = mv & ~isv
                if b.any():
                    bnd[src] = np.column_stack((sgn[b] * (m_cav[b] - y_raw[b]), z[b], geps[b]))
        profiles = _profiles_from(val, bnd, profiles)
    return profiles
