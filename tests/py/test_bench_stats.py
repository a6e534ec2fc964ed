"""The paired tests that `bench/proxy_report.py` puts beside the sidecar
benchmark's numbers (and by which it says whether a goal was shown), checked
against scipy 1.17.1 on real benchmark differences."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import proxy_report  # noqa: E402

# p99 of a capturing modelwatch proxy minus nginx's p99 in the same repeat (µs),
# from one `bench/proxy.sh` run (rates 1k, 5k, 10k and most throughput, 5 repeats).
# Holds a zero (a tie, dropped by the signed-rank test) and magnitudes up to 329.
TO_SERVER = [53, 76, 173, 16, -39, 0, -5, -113, 58, -68, -146, -134, -18, -34, -129, -329, 30, -21, -77, -74]
TO_FILES = [-15, -3, 23, 84, 18, 4, -5, -136, 48, -71, -168, 238, 27, 7, -197, -321, -15, 36, -14, -29]
# Tied magnitudes (3, 7 thrice) and two zeros.
TIED = [3, -3, 5, -7, 7, 7, -1, 0, 0, -2, -9, -4]

# scipy.stats.wilcoxon(d, correction=True, method="approx").pvalue
SIGNED_RANK = [(TO_SERVER, 0.10314200549200844), (TO_FILES, 0.6407152270059902), (TIED, 0.8780883665111654)]
# scipy.stats.binomtest(count below zero, len(d)).pvalue
SIGN = [(TO_SERVER, 0.26317596435546875), (TO_FILES, 0.8238029479980469)]


@pytest.mark.parametrize(("diffs", "expected"), SIGNED_RANK)
def test_signed_rank_matches_scipy(diffs, expected):
    assert proxy_report.signed_rank_test(diffs) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("diffs", "expected"), SIGN)
def test_sign_test_matches_scipy(diffs, expected):
    assert proxy_report.sign_test(diffs) == pytest.approx(expected, rel=1e-12)


def test_sign_test_counts_ties_as_not_below():
    # 15 of 21 below: scipy.stats.binomtest(15, 21).pvalue
    assert proxy_report.sign_test([-1] * 15 + [1] * 6) == pytest.approx(0.0783538818359375, rel=1e-12)
    # a tie is not "below": 15 below, 5 above, 1 tie is 15 of 21, not 15 of 20
    assert proxy_report.sign_test([-1] * 15 + [1] * 5 + [0]) == pytest.approx(0.0783538818359375, rel=1e-12)
    assert proxy_report.sign_test([-1] * 11 + [1] * 10) == 1.0


def test_signed_rank_of_nothing_to_rank_is_one():
    assert proxy_report.signed_rank_test([0, 0, 0]) == 1.0
    assert proxy_report.signed_rank_test([]) == 1.0


def test_small_p_values_keep_their_digits():
    assert proxy_report.fmt_p(0.0784) == "0.078"
    assert proxy_report.fmt_p(0.051996) == "0.052"  # not "0.05": it is not under 0.05
    assert proxy_report.fmt_p(0.12373) == "0.12"
    assert proxy_report.fmt_p(1.0) == "1.00"
    assert proxy_report.fmt_p(0.0034) == "0.0034"
    assert proxy_report.fmt_p(0.00001) == "< 0.0001"
