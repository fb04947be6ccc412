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

Two more figures per pass:

* the common level: a shift shared by every source cannot be seen against a
  consensus of those same sources, so after each pass all biases and gaps are
  shifted together until the precision-weighted median bias of the sources
  giving figures is zero (``_centred``);
* ``site_sd`` / ``bound_site_sd``: the part of a source's error that stays
  with a site from one claim to the next (``_between_site_sd``), which the
  band carries as a systematic term (results._systematic_var).

Lags (a registration list describing the camp two days ago; ``learn_lags``,
on by default, see ``learn_source_profiles``) are learned between passes,
per source, against the other sources only: the sites are fitted again
without the source, and each of its value claims is compared with that
consensus on its own day and on each of the ``MAX_LAG`` days before.
Arrivals and departures make the right shift stand out (a lagging list
trails every wave); on quiet days all shifts look alike, so a lag is adopted
only when it clearly explains the claims better (``LAG_MIN_GAIN``). Judging
a source against a consensus that contains it would always favour the lag it
already has.
"""

from __future__ import annotations

import dataclasses
import gc
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np

from .observations import BOUND_GAP_DEFAULT, BOUND_GAP_MIN, BOUND_SPREAD_DEFAULT, LOWER, VALUE
from .reconcile import REPEAT_SUFFIX, SiteFit, fit_sites
from .types import SiteInput, SourceProfile

LEARN_ROUNDS = 2
LEARN_ROUNDS_WITH_LAGS = 3  # lags are learned between passes
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
MAX_LAG = 5  # days; longer delays are rather repeats of an old figure
LAG_MIN_REPORTS = 20  # value claims judged against a well-informed consensus
# The lag must cut the claims' spread around the consensus by this much. 3 %
# since 3.2.1 (5 % before): a registration list lagging two days behind a
# consensus that itself lags a day shows a gain of only 4-10 %, and at 5 % the
# shared synthetic-3 lost its lag whenever the smoother ran a few more passes
# (MAPE ratio 0.28 -> 0.36). At 3 %: simulated public-like mixes 0.311 -> 0.303
# (worst seed 0.42 -> 0.36), sparse 0.450 -> 0.445 (seeds above 0.5: 4 -> 2);
# on mixes with no lagging source, spurious lags went from 3 to 6 in 150
# sources, at no measurable cost in accuracy.
LAG_MIN_GAIN = 0.03
# Sites per source refitted without it to judge its lag (an even stride through
# them past this): every source costs a refit of its sites per pass, which made
# learning five times slower on a 1,500-site sample; a few hundred sites of
# claims already show which shift fits the waves.
LAG_MAX_SITES = 300
SITE_SD_MIN_SITES = 10  # sites with two claims of a source before its site-level error is judged
ANCHOR_MIN_REPORTS = 10  # value claims before a source's bias counts toward the common level (_centred)


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
        # Lags are learned separately (_learn_lags); the current one is kept.
        lag = getattr((prev or {}).get(src), "lag", 0) or 0
        bias, scale, n = 0.0, 1.0, 0
        site_sd_v = 0.0
        rows = val.get(src, [])
        if len(rows):
            arr = np.asarray(rows, dtype=float)
            arr = arr[np.lexsort(arr.T[::-1])]
            r, pc, s0 = arr[:, 0], arr[:, 1], arr[:, 2]
            n = len(r)
            site_sd_v = _between_site_sd(r, arr[:, 3])
            b_hat = float(np.median(r))
            bias = float(np.clip(b_hat * n / (n + SHRINK_N), *BIAS_RANGE))
            z2 = np.minimum(np.maximum((r - b_hat) ** 2 - pc, 0.0) / s0**2, Z2_CAP)
            s2 = (SHRINK_N + float(z2.sum())) / (SHRINK_N + n)
            scale = float(np.clip(np.sqrt(s2), *SCALE_RANGE))
        gap = spread = beps = None
        nb = 0
        site_sd_b = 0.0
        g = bnd.get(src, [])
        if len(g):
            garr = np.asarray(g, dtype=float)
            garr = garr[np.lexsort(garr.T[::-1])]
            ga, gz, ge = garr[:, 0], garr[:, 1], garr[:, 2]
            nb = len(ga)
            site_sd_b = _between_site_sd(ga, garr[:, 4])
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
            site_sd=round(site_sd_v, 6),
            bound_site_sd=round(site_sd_b, 6),
        )
    return out


def learn_source_profiles(
    sites: Iterable[SiteInput],
    *,
    until: date,
    rounds: int | None = None,
    initial: Mapping[str, SourceProfile] | None = None,
    sampled: bool = False,
    learn_lags: bool = True,
) -> dict[str, SourceProfile]:
    """Learn a profile per source from all sites' reports (see module doc).

    ``sampled``: the sites are already ``learning_sample``'s choice (the adapter
    read only those); choosing again from a sample would not give the same sites.

    ``learn_lags`` (on since engine 3.2.0) cuts the error a lot: MAPE ratio vs
    the latest report 0.36/0.44/0.37 -> 0.25/0.34/0.28 on the shared synthetic
    scenarios. Until 3.2.0 it was off because the bands, sized for lag-blind
    estimates, then covered the truth too often (0.96 on synthetic-1); the
    model floor (reconcile.MODEL_SD) was what kept them too wide, and it is gone.
    """
    if rounds is None:
        rounds = LEARN_ROUNDS_WITH_LAGS if learn_lags else LEARN_ROUNDS
    by_key = {site.key: site for site in sites}
    if sampled:
        chosen = sorted(by_key)
    else:
        chosen = learning_sample((key, frozenset(r.source for r in site.reports)) for key, site in by_key.items())
    site_list = [by_key[key] for key in chosen]
    gc_on = gc.isenabled()
    gc.disable()  # many short-lived tuples, no cycles: the cyclic GC only costs time
    try:
        return _learn(site_list, until, rounds, initial, learn_lags)
    finally:
        if gc_on:
            gc.enable()


def _between_site_sd(resid: np.ndarray, site: np.ndarray) -> float:
    """Sd of a source's error that stays with a site (one-way random effects, moments).

    A source's claims about one site share part of their error: a governor who
    inflates one camp more than the others, a "more than 500" said week after
    week of a camp of 900. Claims sharing it do not average it away, so the
    band must carry it (see results: the systematic term). Estimated as the
    spread of the per-site mean residuals beyond what the within-site scatter
    explains, residuals winsorised at 4 MADs, shrunk toward 0 with SHRINK_N
    pseudo-sites; 0 when too few sites have two claims. It comes out low when
    the source dominates its sites: the leave-one-out consensus still leans on
    the source's other claims there (a site-level sd of 0.2 is seen as ≈0.13).
    """
    med = float(np.median(resid))
    mad = max(float(np.median(np.abs(resid - med))) * 1.4826, 1e-3)
    r = np.clip(resid, med - 4.0 * mad, med + 4.0 * mad)
    _, inv, cnt = np.unique(site, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    multi = cnt >= 2
    if int(multi.sum()) < SITE_SD_MIN_SITES:
        return 0.0
    means = np.bincount(inv, weights=r) / cnt
    within = float(((r - means[inv]) ** 2).sum()) / max(1, int((cnt[multi] - 1).sum()))
    m = means[multi]
    between = float(np.var(m, ddof=1)) - within * float(np.mean(1.0 / cnt[multi]))
    k = len(m)
    return float(np.sqrt(max(0.0, between) * k / (k + SHRINK_N)))


def _centred(
    profiles: dict[str, SourceProfile], val: Mapping[str, np.ndarray], bnd: Mapping[str, np.ndarray]
) -> dict[str, SourceProfile]:
    """Shift every learned figure so that the value sources' typical bias is zero.

    Biases and gaps are learned against a consensus built from the same
    sources: if the consensus sits a factor too high, every source looks that
    much too low and every "up to" bound that much closer, and the next pass
    rebuilds the same consensus from the corrected claims. A shift common to all
    sources cannot be seen in the data; only the shrinkage of each bias toward
    zero pulls it back, slowly. So the shift is pinned by assumption: the
    precision-weighted median bias of the sources giving figures (repeats left
    out) is zero. One or two inflating sources then stay out of line, as they
    should, and the honest majority, weighted toward exact counts, sets the level.
    """
    anchors = [
        (profiles[src].log_bias, float(np.sum(1.0 / rows[:, 2] ** 2)))
        for src, rows in sorted(val.items())
        if not src.endswith(REPEAT_SUFFIX) and len(rows) >= ANCHOR_MIN_REPORTS
    ]
    if not anchors:
        return profiles
    anchors.sort()
    biases = np.array([bias for bias, _ in anchors])
    cum = np.cumsum([w for _, w in anchors])
    shift = float(biases[int(np.searchsorted(cum, 0.5 * cum[-1]))])  # weighted median
    if abs(shift) < 1e-6:
        return profiles
    out = {}
    for src, p in profiles.items():
        changes: dict = {}
        if p.n:
            changes["log_bias"] = round(float(np.clip(p.log_bias - shift, *BIAS_RANGE)), 6)
        if p.bound_gap is not None and src in bnd:
            # The consensus moves by +shift (each bias by -shift): a lower bound's gap
            # (consensus - bound) by +shift, an upper bound's (bound - consensus) by -shift;
            # a source giving both, by the balance.
            upper_share = float(np.mean(bnd[src][:, 3] < 0))
            gap = p.bound_gap + (1.0 - 2.0 * upper_share) * shift
            changes["bound_gap"] = round(max(BOUND_GAP_MIN, gap), 6)
        out[src] = dataclasses.replace(p, **changes) if changes else p
    return out


def _learn(
    site_list: list[SiteInput],
    until: date,
    rounds: int,
    initial: Mapping[str, SourceProfile] | None,
    learn_lags: bool,
) -> dict[str, SourceProfile]:
    profiles: dict[str, SourceProfile] = dict(initial or {})
    statics: list = []
    for round_no in range(max(1, rounds)):
        fitted = fit_sites(site_list, until, profiles, statics)
        fits = [sf for sf in fitted if sf is not None]
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
            site_no = np.repeat(np.arange(len(fits)), [len(sf.obs) for sf in fits]).astype(float)
            ok = p_cav <= MAX_CAV_VAR
            sgn = np.where(kind == LOWER, 1.0, -1.0)
            isv = kind == VALUE
            names, inv = np.unique(pk, return_inverse=True)
            inv = inv.reshape(-1)
            for j, src in enumerate(names.tolist()):
                mv = ok & (inv == j)
                a = mv & isv
                if a.any():
                    val[src] = np.column_stack((y_raw[a] - m_cav[a], p_cav[a], sigma0[a], site_no[a]))
                b = mv & ~isv
                if b.any():
                    bnd[src] = np.column_stack((sgn[b] * (m_cav[b] - y_raw[b]), z[b], geps[b], sgn[b], site_no[b]))
        profiles = _centred(_profiles_from(val, bnd, profiles), val, bnd)
        if learn_lags and round_no < rounds - 1:
            # Before the next pass, so that bias and noise are learned on lag-corrected
            # claims; again after it, as the others' own lags shift the consensus.
            profiles = _learn_lags(site_list, fitted, until, profiles)
    return profiles


def _learn_lags(
    site_list: list[SiteInput], fitted: list[SiteFit | None], until: date, profiles: dict[str, SourceProfile]
) -> dict[str, SourceProfile]:
    """Each source's lag, judged against a consensus of the other sources (see module doc).

    ``fitted``: this pass's fit of each site, whose observations give every claim's log figure."""
    counts: dict[str, int] = defaultdict(int)
    for fit in fitted:
        if fit is not None:
            for key, kind in zip(fit.obs.pkeys, fit.obs.kind.tolist()):
                if kind == VALUE and not key.endswith(REPEAT_SUFFIX):
                    counts[key] += 1
    learned: dict[str, int] = {}
    for source in sorted(src for src, n in counts.items() if n >= LAG_MIN_REPORTS):
        spreads = _lag_spreads(site_list, fitted, until, profiles, source)
        if spreads is None:
            continue
        best = min(range(MAX_LAG + 1), key=lambda lag: (spreads[lag], lag))
        learned[source] = best if spreads[best] <= (1.0 - LAG_MIN_GAIN) * spreads[0] else 0
    # Only lags relative to each other show in the data: the most current source is taken as lag 0
    # (otherwise every source could drift older together from one pass to the next).
    # Known limit: when the only current source giving figures is noisy (a rounding news agency),
    # it cannot anchor the others and they come out a day short. In the shared scenarios
    # ../shared/scenarios/synthetic-2 and -3 the registration list and the NGO are learned at 1 and
    # 0 days; against truth.csv they are 2 and 1. Given the true lags, the MAPE ratio vs the latest
    # report would be 0.224 and 0.214 instead of 0.335 and 0.276, with 90 % band coverage 0.96
    # (BAND_Z would need recalibrating). Searching leads as well as lags, or choosing lags by the
    # whole model's leave-one-out fit, learned the simulated public-like mixes right but not these
    # files; the current "more than" bounds, the only other anchor there, carry little timing.
    floor = min(learned.values(), default=0)
    out = dict(profiles)
    for source, lag in learned.items():
        # A repeated figure (the source's pseudo-source for repeats) is at least as old.
        for key in (source, source + REPEAT_SUFFIX):
            current = out.get(key) or SourceProfile(source=key)
            if current.lag != lag - floor:
                out[key] = dataclasses.replace(current, lag=lag - floor)
    return out


def _lag_spreads(
    site_list: list[SiteInput],
    fitted: list[SiteFit | None],
    until: date,
    profiles: dict[str, SourceProfile],
    source: str,
) -> list[float] | None:
    """For lags 0..MAX_LAG, the spread of ``source``'s value claims around the others' consensus that many days earlier.

    None when too few claims meet a well-informed consensus on every candidate day."""
    pairs = [(site, fit) for site, fit in zip(site_list, fitted) if fit is not None and source in fit.obs.sources]
    pairs = pairs[:: max(1, math.ceil(len(pairs) / LAG_MAX_SITES))]
    without = [
        dataclasses.replace(site, reports=tuple(r for r in site.reports if r.source != source)) for site, _ in pairs
    ]
    residuals: list[list[float]] = []  # per claim: log claim - consensus, for each lag
    for (_, full), fit in zip(pairs, fit_sites(without, until, profiles)):
        if fit is None or len(fit.fit.udays) < 2:
            continue
        days = np.arange(fit.n_days)
        mean = np.interp(fit.cum_q[days], fit.cum_q[fit.fit.udays], fit.fit.ms)
        var = np.interp(fit.cum_q[days], fit.cum_q[fit.fit.udays], fit.fit.ps)
        first, last = int(fit.fit.udays[0]), int(fit.fit.udays[-1])
        for i, (key, kind) in enumerate(zip(full.obs.pkeys, full.obs.kind.tolist())):
            if key != source or kind != VALUE:
                continue
            at = (full.reports[i].as_of - fit.start).days
            wanted = range(at - MAX_LAG, at + 1)
            if wanted.start < first or wanted.stop - 1 > last or var[wanted.start : wanted.stop].max() > MAX_CAV_VAR:
                continue
            claim = float(full.obs.y_raw[i])
            residuals.append([claim - mean[at - lag] for lag in range(MAX_LAG + 1)])
    if len(residuals) < LAG_MIN_REPORTS:
        return None
    r = np.asarray(residuals)
    r = r - np.median(r, axis=0)  # the source's bias is not the lag's business
    cap = 4.0 * max(float(np.median(np.abs(r[:, 0]))) * 1.4826, 0.01)
    # Winsorised mean square: the waves that reveal a lag live in the tails a median would ignore.
    return [float(np.mean(np.minimum(np.abs(r[:, lag]), cap) ** 2)) for lag in range(MAX_LAG + 1)]
