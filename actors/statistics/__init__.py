"""Statistics for experiments: pure functions of per-arm summaries, on numpy and the stdlib only.

Every test compares a variant B with a control A and reports its effect as B minus A. The
modules, one concept each:

* :mod:`~actors.statistics.distributions`: normal, Student t, chi-square and beta
  functions and the incomplete beta and gamma functions they rest on (scipy is only a test
  dependency);
* :mod:`~actors.statistics.proportions`: two-proportion z-test, intervals for the difference
  and the relative lift;
* :mod:`~actors.statistics.welch`: Welch's t-test from count, mean and variance;
* :mod:`~actors.statistics.bayesian`: Beta-Binomial and normal posteriors, probability to
  beat control, expected loss, credible intervals;
* :mod:`~actors.statistics.sequential`: the always-valid mixture SPRT and its confidence
  sequence, safe to read after every batch;
* :mod:`~actors.statistics.cuped`: regression adjustment on a pre-assignment covariate;
* :mod:`~actors.statistics.srm`: sample-ratio-mismatch check;
* :mod:`~actors.statistics.multiple`: Holm and Benjamini-Hochberg adjusted p-values;
* :mod:`~actors.statistics.power`: power and required sample size.

Degenerate data have defined results rather than 0/0, chosen per test and documented in
its module: where the data show no variation at all and the arms agree, the statistic is 0
and the p-value 1 (there is nothing to detect); where a quantity cannot be estimated (a
variance from one observation, a lift over a zero baseline) it is NaN, which never passes
``p <= alpha``.
"""

from actors.statistics.alternatives import ALTERNATIVES, Alternative
from actors.statistics.bayesian import (
    BayesianComparison,
    BetaPosterior,
    NormalPosterior,
    beta_expected_loss,
    compare_beta,
    compare_normal,
    normal_expected_loss,
    prob_beta_beats,
    prob_normal_beats,
)
from actors.statistics.cuped import CovariateSummary, CupedAdjustment, cuped
from actors.statistics.multiple import benjamini_hochberg, holm
from actors.statistics.power import (
    power_means,
    power_two_proportions,
    sample_size_means,
    sample_size_two_proportions,
)
from actors.statistics.proportions import ProportionTest, two_proportion_ztest
from actors.statistics.sequential import (
    SequentialLook,
    always_valid_p_values,
    mixing_variance,
    msprt,
)
from actors.statistics.srm import SRM_THRESHOLD, SampleRatioTest, sample_ratio_mismatch
from actors.statistics.summary import SampleSummary
from actors.statistics.welch import MeanTest, welch_ttest

__all__ = [
    "ALTERNATIVES",
    "SRM_THRESHOLD",
    "Alternative",
    "BayesianComparison",
    "BetaPosterior",
    "CovariateSummary",
    "CupedAdjustment",
    "MeanTest",
    "NormalPosterior",
    "ProportionTest",
    "SampleRatioTest",
    "SampleSummary",
    "SequentialLook",
    "always_valid_p_values",
    "benjamini_hochberg",
    "beta_expected_loss",
    "compare_beta",
    "compare_normal",
    "cuped",
    "holm",
    "mixing_variance",
    "msprt",
    "normal_expected_loss",
    "power_means",
    "power_two_proportions",
    "prob_beta_beats",
    "prob_normal_beats",
    "sample_ratio_mismatch",
    "sample_size_means",
    "sample_size_two_proportions",
    "two_proportion_ztest",
    "welch_ttest",
]
