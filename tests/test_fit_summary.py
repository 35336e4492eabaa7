"""The brief's section on a scenario fitted to a call log, from the fit report beside it."""

from __future__ import annotations

import json
from pathlib import Path

from sim.brief.fit_report import fitted_report_path, summary_lines


def fit_summary(scenario_file: Path, lang: str) -> list[str]:
    """The bullets the brief's call-log section shows (sim.brief.fit_section): the fit report
    found beside the scenario, summarised."""
    path = fitted_report_path(scenario_file)
    if path is None:
        return []
    return summary_lines(json.loads(path.read_text(encoding="utf-8")), path.with_suffix(".html"), lang)


def _fitted(tmp_path: Path) -> Path:
    scenario = tmp_path / "city_fitted.yaml"
    scenario.write_text("name: x\n", encoding="utf-8")
    (tmp_path / "city_fitted_points.csv").write_text("lon,lat,weight\n", encoding="utf-8")
    report = {
        "calls": {"file": "calls.csv", "rows": 1000, "accepted": 990, "rejected_rows": 10,
                  "first_call": "2025-01-06", "last_call": "2025-02-09"},
        "arrivals": {"incidents_per_day": 28.4, "g_statistic": 263.0, "p_value": 5e-9,
                     "day_of_week_effect": True},
        "on_scene": {"dispute": {"chosen": "lognormal"}, "theft": {"chosen": "gamma"}},
        "travel": {"errors": {"all": {"before": {"n": 470, "mae_s": 31.6, "bias_s": -29.6},
                                      "after": {"n": 470, "mae_s": 2.4, "bias_s": 0.08}}}},
    }
    (tmp_path / "fit_report.json").write_text(json.dumps(report), encoding="utf-8")
    return scenario


def test_the_fit_section_states_the_log_the_tests_and_the_calibration(tmp_path: Path) -> None:
    lines = fit_summary(_fitted(tmp_path), "en")
    text = " ".join(lines)
    assert "990 calls used, 10 rows rejected" in text
    assert "28.4 calls a day" in text
    assert "p = 5e-09: significant, so the hour-of-week profile is used" in text
    assert "dispute lognormal; theft gamma" in text
    assert "31.6 s -> 2.4 s" in text and "-29.6 s -> +0.1 s" in text
    assert lines[-1].endswith(str(tmp_path / "fit_report.html"))
    zh = " ".join(fit_summary(_fitted(tmp_path), "zh"))
    assert "采用 990 起" in zh and "显著" in zh


def test_no_fit_section_for_a_scenario_that_was_not_fitted(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: x\n", encoding="utf-8")
    assert fit_summary(plain, "en") == []
    (tmp_path / "fit_report.json").write_text("{}", encoding="utf-8")  # someone else's report
    assert fit_summary(plain, "en") == []  # no points file of this scenario beside it
