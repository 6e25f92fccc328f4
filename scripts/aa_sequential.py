"""Does peeking break the always-valid test? 1,000 seeded A/A and A/B experiments, read often.

Each simulated experiment has two arms and is looked at after every batch (default: 100 more
samples in each arm). At every look two readers decide whether to stop:

* the **naive** reader runs a fresh two-proportion z-test (pooled standard error, two-sided,
  :func:`actors.statistics.two_proportion_ztest`'s statistic) and stops at the first p < alpha;
  each test alone has level alpha, but the chance that one of many looks rejects grows with the
  number of looks (Armitage, McPherson & Rowe 1969; Johari et al. 2017: the "peeking" problem);
* the **sequential** reader uses the mixture SPRT of :mod:`actors.statistics.sequential`,
  whose p-value is valid at every look at once, and stops at the first always-valid p < alpha.

Table 1 (A/A, both arms equal) is the false-positive rate: the share of experiments stopped by
a reader before the horizon. It should be at most alpha for mSPRT, allowing for Monte-Carlo
error (the binomial 95% bound over the number of experiments), and it exceeds alpha for naive
peeking. A second, continuous metric (normal, like a quality score) runs through the same
readers with a normal-approximation (Welch) statistic.

Table 2 (A/B, B's conversion rate a true 10% higher) is the power (share of experiments that
stop with B ahead) and the median samples per arm at the stop, for each reader and for one
fixed-horizon z-test read once at the horizon. mSPRT's mixing variance is fixed before any
data from a design-time variance (the assumed baseline rate) and a tuning sample size N*
(GrowthBook's default 5,000, Eppo's 10,000; see :func:`actors.statistics.mixing_variance`);
each N* gets its own rows.

Everything is vectorised over experiments and looks with numpy: a batch's conversions are one
binomial draw; for the normal metric a batch's mean and sum of squared deviations are drawn
from their exact distributions (normal, sigma^2 chi^2_{n-1}), which is equivalent to drawing the
individual samples. The run is seeded and prints its machine.

Usage: ``.venv/bin/python scripts/aa_sequential.py [--experiments 1000] [--batch 100]
[--aa-looks 50] [--ab-looks 400] [--rate 0.10] [--lift 0.10] [--alpha 0.05]
[--n-star 5000 10000] [--seed 20261126]``
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.statistics import (
    always_valid_p_values,
    mixing_variance,
    msprt,
    sample_size_two_proportions,
    two_proportion_ztest,
)
from actors.statistics.distributions import normal_isf
from scripts.bench_common import Report, machine_line, print_report, progress

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
COLUMNS = ("figure", "value", "unit", "detail", "target")

QUALITY_MEAN = 0.70
QUALITY_SD = 0.20
"""The continuous A/A metric: a quality score with this mean and spread in both arms."""


@dataclass(frozen=True)
class Looks:
    """Per experiment and look: the effect estimate (B - A), its variance and the naive |z|."""

    estimate: FloatArray
    variance: FloatArray
    naive_z: FloatArray
    per_arm: npt.NDArray[np.int64]
    """Samples per arm at each look."""
    wins: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
    """Cumulative conversions of A and B (conversion metrics only)."""


def conversion_looks(
    rng: np.random.Generator, experiments: int, looks: int, batch: int, rate_a: float, rate_b: float
) -> Looks:
    """Cumulative conversions of both arms after every batch, and the statistics of each look."""
    per_arm = batch * np.arange(1, looks + 1, dtype=np.int64)
    wins_a = np.cumsum(rng.binomial(batch, rate_a, size=(experiments, looks)), axis=1)
    wins_b = np.cumsum(rng.binomial(batch, rate_b, size=(experiments, looks)), axis=1)
    n = per_arm.astype(np.float64)
    p_a, p_b = wins_a / n, wins_b / n
    pooled = (wins_a + wins_b) / (2.0 * n)
    pooled_se = np.sqrt(pooled * (1.0 - pooled) * (2.0 / n))
    estimate = p_b - p_a
    with np.errstate(divide="ignore", invalid="ignore"):
        naive_z = np.where(pooled_se > 0.0, estimate / pooled_se, 0.0)
    variance = p_a * (1.0 - p_a) / n + p_b * (1.0 - p_b) / n
    return Looks(estimate, variance, naive_z, per_arm, (wins_a, wins_b))


def normal_looks(rng: np.random.Generator, experiments: int, looks: int, batch: int) -> Looks:
    """Cumulative count, mean and sample variance of a normal metric in two equal arms.

    A batch of ``batch`` normal draws has mean ~ N(mu, sigma^2/batch) and sum of squared
    deviations ~ sigma^2 chi^2(batch - 1), independent (Cochran's theorem); batches combine
    with the parallel-variance formula of Chan, Golub & LeVeque (1979).
    """
    per_arm = batch * np.arange(1, looks + 1, dtype=np.int64)
    n = per_arm.astype(np.float64)

    def arm() -> tuple[FloatArray, FloatArray]:
        means = rng.normal(QUALITY_MEAN, QUALITY_SD / math.sqrt(batch), size=(experiments, looks))
        squares = QUALITY_SD**2 * rng.chisquare(batch - 1, size=(experiments, looks))
        totals = np.cumsum(means * batch, axis=1)
        cum_mean = totals / n
        # sum of squared deviations about the pooled mean = within-batch + between-batch parts
        between = np.cumsum(batch * means * means, axis=1) - n * cum_mean * cum_mean
        variance = (np.cumsum(squares, axis=1) + between) / (n - 1.0)
        return cum_mean, variance

    mean_a, var_a = arm()
    mean_b, var_b = arm()
    estimate = mean_b - mean_a
    variance = var_a / n + var_b / n
    return Looks(estimate, variance, estimate / np.sqrt(variance), per_arm)


def first_stop(rejected: BoolArray) -> npt.NDArray[np.int64]:
    """Index of the first look that rejected, or -1 for experiments that never did."""
    any_reject = rejected.any(axis=1)
    first = np.argmax(rejected, axis=1).astype(np.int64)
    return np.where(any_reject, first, -1)


def mc_bound(rate: float, experiments: int) -> float:
    """The 95% Monte-Carlo half-width of a rejection rate near ``rate``."""
    return 1.959964 * math.sqrt(rate * (1.0 - rate) / experiments)


def percent(x: float) -> str:
    return f"{100.0 * x:.1f}"


def run_aa(args: argparse.Namespace, rng: np.random.Generator, report: Report) -> None:
    """Table 1: false-positive rates of naive peeking and of mSPRT on A/A experiments."""
    critical = normal_isf(args.alpha / 2.0)
    allowed = args.alpha + mc_bound(args.alpha, args.experiments)
    metrics = {
        "conversion": (
            conversion_looks(
                rng, args.experiments, args.aa_looks, args.batch, args.rate, args.rate
            ),
            4.0 * args.rate * (1.0 - args.rate),
        ),
        "quality": (
            normal_looks(rng, args.experiments, args.aa_looks, args.batch),
            4.0 * QUALITY_SD**2,
        ),
    }
    for metric, (looks, unit_variance) in metrics.items():
        horizon = int(looks.per_arm[-1])
        naive = np.abs(looks.naive_z) >= critical
        for count in sorted({1, 10, 28, args.aa_looks} & set(range(1, args.aa_looks + 1))):
            rate = float(naive[:, :count].any(axis=1).mean())
            label = "read once at the horizon" if count == 1 else f"{count} looks"
            if count == 1:
                rate = float(naive[:, -1].mean())
            report.row(
                f"1. A/A {metric}: naive z-test, {label}",
                percent(rate),
                "% false +",
                f"at {horizon}/arm" if count == 1 else f"up to {int(looks.per_arm[count - 1])}/arm",
                "" if count == 1 else f"> {percent(args.alpha)} expected",
            )
            if count == args.aa_looks:
                report.check(
                    f"A/A {metric}: naive peeking over {count} looks exceeds alpha",
                    rate - mc_bound(rate, args.experiments) > args.alpha,
                    f"{percent(rate)}% is not above {percent(args.alpha)}% beyond MC error",
                )
        for n_star in args.n_star:
            tau2 = mixing_variance(n_star, unit_variance, args.alpha)
            p_values = always_valid_p_values(looks.estimate, looks.variance, tau2)
            rate = float((p_values[:, -1] <= args.alpha).mean())
            ok = rate <= allowed
            report.row(
                f"1. A/A {metric}: mSPRT N*={n_star}, {args.aa_looks} looks",
                percent(rate),
                "% false +",
                f"up to {horizon}/arm, MC 95% +-{percent(mc_bound(args.alpha, args.experiments))}",
                f"<= {percent(args.alpha)} (+MC): {'PASS' if ok else 'FAIL'}",
            )
            report.check(
                f"A/A {metric}: mSPRT N*={n_star} false-positive rate <= alpha + MC error",
                ok,
                f"{percent(rate)}% > {percent(allowed)}%",
            )
            if metric == "conversion":
                check_fold(looks, tau2, p_values, args.alpha, report, n_star)


def check_fold(
    looks: Looks, tau2: float, p_values: FloatArray, alpha: float, report: Report, n_star: int
) -> None:
    """The vectorised p-values equal folding :func:`msprt` look by look (first experiments)."""
    worst = 0.0
    for e in range(min(5, looks.estimate.shape[0])):
        state = None
        for k in range(looks.estimate.shape[1]):
            state = msprt(
                float(looks.estimate[e, k]),
                float(looks.variance[e, k]),
                tau2,
                alpha=alpha,
                previous=state,
            )
            worst = max(worst, abs(state.p_value - float(p_values[e, k])))
    report.check(
        f"vectorised mSPRT equals the msprt fold (N*={n_star})", worst <= 1e-12, f"{worst}"
    )


def check_naive_statistic(looks: Looks, report: Report) -> None:
    """The vectorised naive statistic equals :func:`two_proportion_ztest`'s on a few looks."""
    assert looks.wins is not None
    wins_a, wins_b = looks.wins
    last = looks.estimate.shape[1] - 1
    worst = 0.0
    for e, k in ((0, 0), (1, last // 2), (2, last)):
        n = int(looks.per_arm[k])
        test = two_proportion_ztest(int(wins_a[e, k]), n, int(wins_b[e, k]), n)
        worst = max(worst, abs(test.statistic - float(looks.naive_z[e, k])))
    report.check("naive z statistic equals two_proportion_ztest's", worst <= 1e-9, f"{worst}")


def run_ab(args: argparse.Namespace, rng: np.random.Generator, report: Report) -> None:
    """Table 2: power and median samples per arm to a decision when B is truly better."""
    critical = normal_isf(args.alpha / 2.0)
    rate_b = args.rate * (1.0 + args.lift)
    looks = conversion_looks(rng, args.experiments, args.ab_looks, args.batch, args.rate, rate_b)
    horizon = int(looks.per_arm[-1])
    positive = looks.estimate > 0.0

    def summarise(name: str, rejected: BoolArray, detail: str) -> None:
        stop = first_stop(rejected)
        decided = stop >= 0
        right = decided & positive[np.arange(len(stop)), np.maximum(stop, 0)]
        power = float(right.mean())
        wrong = float((decided & ~right).mean())
        median = float(np.median(looks.per_arm[stop[right]])) if right.any() else math.nan
        report.row(f"2. A/B +{percent(args.lift)}%: {name}", percent(power), "% power", detail)
        report.row(
            f"2. A/B +{percent(args.lift)}%: {name}",
            f"{median:,.0f}",
            "samples/arm",
            "median at the decision (decided experiments)",
        )
        if wrong > 0.0:
            report.notes.append(f"{name}: {percent(wrong)}% stopped with A ahead (wrong sign)")

    planned = sample_size_two_proportions(args.rate, rate_b, power=0.8, alpha=args.alpha)
    planned_look = min(args.ab_looks, math.ceil(planned / args.batch)) - 1
    planned_n = int(looks.per_arm[planned_look])
    fixed = np.zeros_like(positive)
    fixed[:, planned_look] = np.abs(looks.naive_z[:, planned_look]) >= critical
    summarise(
        "one z-test at the planned n",
        fixed,
        f"read once at {planned_n:,}/arm (80% power: {planned:,.0f}/arm)",
    )
    summarise(
        f"naive z-test, {args.ab_looks} looks",
        np.abs(looks.naive_z) >= critical,
        "first p < alpha; invalid (see A/A)",
    )
    for n_star in args.n_star:
        tau2 = mixing_variance(n_star, 4.0 * args.rate * (1.0 - args.rate), args.alpha)
        p_values = always_valid_p_values(looks.estimate, looks.variance, tau2)
        summarise(
            f"mSPRT N*={n_star}, {args.ab_looks} looks",
            p_values <= args.alpha,
            f"first p < alpha, horizon {horizon:,}/arm",
        )
    check_naive_statistic(looks, report)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="samples per arm between looks")
    parser.add_argument("--aa-looks", type=int, default=50)
    parser.add_argument("--ab-looks", type=int, default=400)
    parser.add_argument("--rate", type=float, default=0.10, help="control conversion rate")
    parser.add_argument("--lift", type=float, default=0.10, help="B's true relative lift")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--n-star", type=int, nargs="+", default=[5000, 10000])
    parser.add_argument("--seed", type=int, default=20261126)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print(machine_line([f"numpy {np.__version__}"], f" ({platform.machine()})"))
    print(
        f"{args.experiments} experiments per table, seed {args.seed}, a look after every "
        f"{args.batch} samples per arm, alpha {args.alpha}, control rate {args.rate}"
    )
    report = Report()
    rng = np.random.default_rng(args.seed)
    progress("A/A experiments")
    run_aa(args, rng, report)
    progress("A/B experiments")
    run_ab(args, rng, report)
    print_report(report, time.perf_counter() - started, COLUMNS)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
