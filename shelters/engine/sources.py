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

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np

from .observations import (BOUND_GAP_DEFAULT, BOUND_GAP_MIN, BOUND_SPREAD_DEFAULT, LOWER,
                           VALUE, bound_eps)
from .reconcile import fit_sites
from .types import SiteInput, SourceProfile

LEARN_ROUNDS = 2
SHRINK_N = 8.0           # pseudo-count toward the prior (bias 0, scale 1, default gap)
MAX_CAV_VAR = 0.15 ** 2  # only residuals against a reasonably informed consensus count
Z2_CAP = 16.0            # winsorise squared residuals (4 sd) so one blunder can't dominate
SCALE_RANGE = (0.3, 6.0)
BIAS_RANGE = (-1.5, 1.5)
BOUND_VIOL_Z = 2.0
BOUND_EPS_RANGE = (0.002, 0.6)
# Profiles are population statistics: past a few thousand sites more sites
# add little but cost time.  Learning uses an evenly spaced sample of sites (in
# key order, so deterministic), plus every site carrying a source the sample
# would otherwise miss.
LEARN_MAX_SITES = 2500


def _learning_sample(site_list: list[SiteInput]) -> list[SiteInput]:
    n = len(site_list)
    if n <= LEARN_MAX_SITES:
        return site_list
    step = n / LEARN_MAX_SITES
    pick = {int(i * step) for i in range(LEARN_MAX_SITES)}
    seen = {r.source for i in pick for r in site_list[i].reports}
    for i, s in enumerate(site_list):
        if i not in pick:
            new = {r.source for r in s.reports} - seen
            if new:
                pick.add(i)
                seen |= new
    return [site_list[i] for i in sorted(pick)]
def _profiles_from(val: Mapping[str, list[tuple[float, float, float]]],
                   bnd: Mapping[str, list[tuple[float, float, float]]],
                   prev: Mapping[str, SourceProfile] | None = None) -> dict[str, SourceProfile]:
    out: dict[str, SourceProfile] = {}
    for src in sorted(set(val) | set(bnd)):
        # Lags are not learned yet (see the report); a given one is kept.
        lag = getattr((prev or {}).get(src), "lag", 0) or 0
        bias, scale, n = 0.0, 1.0, 0
        rows = val.get(src, [])
        if rows:
            arr = np.array(sorted(rows))
            r, pc, s0 = arr[:, 0], arr[:, 1], arr[:, 2]
            n = len(r)
            b_hat = float(np.median(r))
            bias = float(np.clip(b_hat * n / (n + SHRINK_N), *BIAS_RANGE))
            z2 = np.minimum(np.maximum((r - b_hat) ** 2 - pc, 0.0) / s0 ** 2, Z2_CAP)
            s2 = (SHRINK_N + float(z2.sum())) / (SHRINK_N + n)
            scale = float(np.clip(np.sqrt(s2), *SCALE_RANGE))
        gap = spread = beps = None
        nb = 0
        g = bnd.get(src, [])
        if g:
            garr = np.array(sorted(g))
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
            beps = float(np.clip((viol + SHRINK_N * float(ge.mean())) / (nb + SHRINK_N),
                                 *BOUND_EPS_RANGE))
        out[src] = SourceProfile(source=src, log_bias=round(bias, 6), noise_scale=round(scale, 6),
                                 n=n, bound_gap=None if gap is None else round(gap, 6),
                                 bound_spread=None if spread is None else round(spread, 6),
                                 n_bounds=nb,
                                 bound_eps=None if beps is None else round(beps, 6), lag=lag)
    return out


def learn_source_profiles(sites: Iterable[SiteInput], *, until: date,
                          rounds: int = LEARN_ROUNDS,
                          initial: Mapping[str, SourceProfile] | None = None
                          ) -> dict[str, SourceProfile]:
    """Learn a profile per source from all sites' reports (see module doc)."""
    site_list = _learning_sample(sorted(sites, key=lambda s: s.key))
    profiles: dict[str, SourceProfile] = dict(initial or {})
    for _ in range(max(1, rounds)):
        val: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        bnd: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for sf in fit_sites(site_list, until, profiles):
            if sf is None:
                continue
            o, f = sf.obs, sf.fit
            for i, src in enumerate(o.pkeys):
                pc = float(f.p_cav[i])
                if pc > MAX_CAV_VAR:
                    continue
                if o.kind[i] == VALUE:
                    val[src].append((float(o.y_raw[i] - f.m_cav[i]), pc, float(o.sigma0[i])))
                else:
                    sgn = 1.0 if o.kind[i] == LOWER else -1.0
                    bnd[src].append((float(sgn * (f.m_cav[i] - o.y_raw[i])), float(f.z[i]),
                                     bound_eps(sf.reports[i].grade)))
        profiles = _profiles_from(val, bnd, profiles)
    return profiles
