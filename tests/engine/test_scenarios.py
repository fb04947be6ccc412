"""Accuracy and calibration targets on the shared synthetic scenarios and on
our own simulated ones (guard against tuning to three files)."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

from shelters.engine import learn_source_profiles, reconcile_all, reconcile_many, reconcile_site
from shelters.engine.reconcile import REPEAT_SUFFIX
from shelters.engine.scenario import load_scenario, write_estimates
from shelters.engine.simulation import score as sim_score
from shelters.engine.simulation import simulate, simulate_sites, to_site_inputs

# Scenario data lives in the repository (a clean CI clone has nothing else).
SCENARIOS_DIR = Path(__file__).resolve().parents[1] / "data" / "scenarios"
HMEIMIM_DIR = Path(__file__).resolve().parents[2] / "shelters" / "demo" / "hmeimim"
SCORE_PY = Path(__file__).resolve().parents[1] / "data" / "score.py"  # the reference scorer, verbatim


def _score_module():
    spec = importlib.util.spec_from_file_location("score", SCORE_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.mark.parametrize("name", ["synthetic-1", "synthetic-2", "synthetic-3"])
def test_synthetic_targets(name: str, tmp_path: Path) -> None:
    sites, until = load_scenario(SCENARIOS_DIR / name)
    _, results = reconcile_all(sites, until=until)
    out = tmp_path / "estimates.csv"
    write_estimates(results, out)
    r = _score_module().score(SCENARIOS_DIR / name, out)
    print(name, r)
    assert r["missing"] == 0
    assert r["ratio_vs_latest"] <= 0.5
    assert 0.85 <= r["coverage"] <= 0.95


def test_hmeimim() -> None:
    sites, _ = load_scenario(HMEIMIM_DIR)
    res = reconcile_site(sites[0], until=date(2025, 3, 13))
    (e,) = [x for x in res.estimates if x.day == date(2025, 3, 13)]
    assert 8000 <= e.estimate <= 9000
    # Both bounds agree: the band stays inside [8000, 9000].
    assert 8000 <= e.low <= e.estimate <= e.high <= 9000


# Our own profiles (other seeds than any tuning run): same targets.
@pytest.mark.parametrize(
    "profile,seed",
    [("sparse", 11), ("sparse", 5), ("inflating", 12), ("inflating", 5), ("bounded", 13), ("bounded", 5)],
)
def test_simulated_beats_latest_and_is_calibrated(profile: str, seed: int) -> None:
    sites, truth, until = simulate(profile, seed)
    _, results = reconcile_all(sites, until=until)
    r = sim_score(sites, results, truth)
    print(profile, seed, r)
    assert r["missing"] == 0
    assert r["ratio_vs_latest"] <= 0.5
    assert 0.85 <= r["coverage"] <= 0.95


def test_inflating_source_is_learned() -> None:
    sites, _, until = simulate("inflating", 3)
    profiles, _ = reconcile_all(sites, until=until)
    assert profiles["governor"].log_bias > 0.2  # truth: +0.34 (x1.4)
    assert profiles["social"].log_bias > 0.6  # truth: +1.1 (x3)
    assert abs(profiles["registry"].log_bias) < 0.1


def test_lags_are_learned_against_the_other_sources_when_asked() -> None:
    # The "inflating" mix: a registration list two days behind, three current sources.
    sites, truth, until = simulate("inflating", 102)
    blind = learn_source_profiles(sites, until=until)
    assert {profile.lag for profile in blind.values()} == {0}  # off by default

    learned = learn_source_profiles(sites, until=until, learn_lags=True)
    assert learned["registry"].lag == 2
    assert learned["registry" + REPEAT_SUFFIX].lag == 2  # a repeated figure is at least as old
    assert {learned[source].lag for source in ("governor", "social", "ngo")} == {0}
    # The estimates follow arrivals and departures two days sooner.
    lag_blind = sim_score(sites, reconcile_many(sites, until=until, profiles=blind), truth)
    with_lags = sim_score(sites, reconcile_many(sites, until=until, profiles=learned), truth)
    assert with_lags["mape"] < 0.9 * lag_blind["mape"]


def test_simulate_sites_shape_and_public_profile_targets() -> None:
    sim = simulate_sites(20, days=60, seed=7)
    assert len(sim) == 20
    code, reports, truth = sim[0]
    assert set(reports[0]) == {
        "external_id",
        "site_code",
        "as_of",
        "reported_on",
        "source",
        "source_grade",
        "method",
        "qualifier",
        "value",
        "low",
        "high",
    }
    assert all(r["site_code"] == code for r in reports)
    assert len(truth) == 60 and min(truth) == date(2025, 3, 1)
    assert len({r["external_id"] for _, rs, _ in sim for r in rs}) == sum(len(rs) for _, rs, _ in sim)
    assert simulate_sites(20, days=60, seed=7) == sim
    sites = to_site_inputs(sim)
    truth_all = {(c, d): p for c, _, t in sim for d, p in t.items()}
    until = date(2025, 3, 1) + __import__("datetime").timedelta(days=59)
    _, results = reconcile_all(sites, until=until)
    r = sim_score(sites, results, truth_all)
    print("public", r)
    assert r["missing"] == 0
    assert r["ratio_vs_latest"] <= 0.5
    assert 0.85 <= r["coverage"] <= 0.95
