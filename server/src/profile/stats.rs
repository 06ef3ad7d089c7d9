//! The statistics behind profiles and the round matrix: pillar rules, medians and
//! quartiles, distributions with a minimum group size, pairwise agreement and
//! Krippendorff's alpha. Pure arithmetic on stages; nothing here knows the catalogue.

use crate::domain::Stage;

/// The fewest organisations a distribution is shown for. Below it the distribution is
/// withheld, so that no single organisation's stage can be read off the summary; five is
/// the smallest group in which the quartiles no longer pin down individual answers.
pub const MIN_GROUP_SIZE: usize = 5;

/// How a pillar's stage is derived from the stages of its answered components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PillarRule {
    /// The median of the answered components, rounded down to a whole stage (the
    /// default: the middle of the pillar, never flattered by one strong component).
    #[default]
    Median,
    /// The lowest answered component (a pillar is as strong as its weakest part).
    Minimum,
    /// The stage most components are at; a tie goes to the lower stage.
    Mode,
}

impl PillarRule {
    /// Every rule.
    pub const ALL: [Self; 3] = [Self::Median, Self::Minimum, Self::Mode];

    /// The rule's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Median => "median",
            Self::Minimum => "minimum",
            Self::Mode => "mode",
        }
    }

    /// Parses a rule's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rule| rule.as_str() == text)
    }

    /// The pillar stage of these component stages; `None` when there are none.
    pub fn apply(self, stages: &[Stage]) -> Option<Stage> {
        match self {
            Self::Median => median_rounded_down(stages),
            Self::Minimum => stages.iter().copied().min(),
            Self::Mode => mode_lower(stages),
        }
    }
}

/// The median of `stages` rounded down to a whole stage: the middle value of an odd
/// count, the mean of the two middle values, rounded down, of an even count.
pub fn median_rounded_down(stages: &[Stage]) -> Option<Stage> {
    let mut sorted: Vec<u8> = stages.iter().map(|s| s.get()).collect();
    sorted.sort_unstable();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let middle = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        // The mean of two stages, rounded down: integer division does exactly that.
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    Stage::parse(i64::from(middle)).ok()
}

/// The most frequent stage; among equally frequent stages the lowest.
pub fn mode_lower(stages: &[Stage]) -> Option<Stage> {
    let counts = stage_counts(stages);
    let mut best: Option<(usize, usize)> = None;
    for (index, count) in counts.iter().enumerate() {
        // Strictly greater: a later (higher) stage never wins a tie.
        if *count > 0 && best.is_none_or(|(_, most)| *count > most) {
            best = Some((index, *count));
        }
    }
    best.and_then(|(index, _)| Stage::parse(index as i64 + 1).ok())
}

/// How many of `stages` are at stage 1, 2, 3, 4 and 5.
pub fn stage_counts(stages: &[Stage]) -> [usize; 5] {
    let mut counts = [0; 5];
    for stage in stages {
        counts[usize::from(stage.get() - 1)] += 1;
    }
    counts
}

/// The `p`-quantile of sorted values by linear interpolation between the closest ranks
/// (Hyndman and Fan's type 7, the default of R and NumPy): position `h = (n − 1)·p` from
/// 0, value `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋])`. The 0.5-quantile is the usual
/// median. `None` for no values.
pub fn quantile(sorted: &[u8], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = last as f64 * p.clamp(0.0, 1.0);
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let fraction = position - below as f64;
    let low = f64::from(sorted[below]);
    let high = f64::from(sorted[above]);
    Some(low + fraction * (high - low))
}

/// The summary of a distribution of stages.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionSummary {
    /// The median (type 7; may be a half stage).
    pub median: f64,
    /// The first quartile (type 7).
    pub q1: f64,
    /// The third quartile (type 7).
    pub q3: f64,
    /// How many are at stage 1, 2, 3, 4 and 5.
    pub counts: [usize; 5],
}

/// The stages of a group of organisations (for one component or one pillar), summarised
/// unless the group is too small to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// How many organisations have a stage.
    pub n: usize,
    /// The summary, or `None` when withheld.
    pub summary: Option<DistributionSummary>,
    /// Why the summary is withheld, when it is.
    pub withheld: Option<String>,
}

/// The distribution of `stages`, withheld when fewer than `min_group_size` are given.
pub fn distribution(stages: &[Stage], min_group_size: usize) -> Distribution {
    let n = stages.len();
    if n < min_group_size.max(1) {
        return Distribution {
            n,
            summary: None,
            withheld: Some(format!(
                "only {n} organisation(s) have a stage here; distributions are shown from \
                 {min_group_size} on, so that no single organisation can be singled out"
            )),
        };
    }
    let mut sorted: Vec<u8> = stages.iter().map(|s| s.get()).collect();
    sorted.sort_unstable();
    let at = |p| quantile(&sorted, p).unwrap_or_default();
    Distribution {
        n,
        summary: Some(DistributionSummary {
            median: at(0.5),
            q1: at(0.25),
            q3: at(0.75),
            counts: stage_counts(stages),
        }),
        withheld: None,
    }
}

/// How closely the stages given to one component agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairAgreement {
    /// How many stages were given.
    pub ratings: usize,
    /// Pairs of them: `ratings·(ratings − 1)/2`.
    pub pairs: usize,
    /// Pairs at most one stage apart.
    pub within_one: usize,
    /// Highest minus lowest stage.
    pub range: u8,
}

impl PairAgreement {
    /// The share of pairs at most one stage apart, 0 to 1.
    pub fn share_within_one(&self) -> f64 {
        if self.pairs == 0 {
            1.0
        } else {
            self.within_one as f64 / self.pairs as f64
        }
    }
}

/// The agreement of the stages given to one component; `None` with fewer than two.
pub fn pair_agreement(stages: &[Stage]) -> Option<PairAgreement> {
    if stages.len() < 2 {
        return None;
    }
    let mut pairs = 0;
    let mut within_one = 0;
    for (index, a) in stages.iter().enumerate() {
        for b in &stages[index + 1..] {
            pairs += 1;
            if a.get().abs_diff(b.get()) <= 1 {
                within_one += 1;
            }
        }
    }
    let low = stages.iter().map(|s| s.get()).min().unwrap_or(1);
    let high = stages.iter().map(|s| s.get()).max().unwrap_or(1);
    Some(PairAgreement {
        ratings: stages.len(),
        pairs,
        within_one,
        range: high - low,
    })
}

/// The difference function of Krippendorff's alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlphaMetric {
    /// Ranks only: the distance between two values grows with how many of the observed
    /// values lie between them. Stagewise uses this one (see [`krippendorff_alpha`]).
    Ordinal,
    /// Equal steps: the squared difference of the values.
    Interval,
}

/// Krippendorff's alpha over `units` (here: components), each holding the values the
/// raters gave it (a rater who gave none is simply absent), with the given metric.
///
/// Alpha is chosen over weighted kappa because it takes any number of raters (a focal
/// point's self-assessment and two or more independent raters) and missing ratings (a
/// rater who skipped a component) without dropping units, and corrects for chance
/// agreement. The ordinal metric is used because stages are ordered categories whose
/// steps are not known to be equal ("not started" to "exploration" is not the same
/// distance as "fully mainstreamed" to "continuous learning").
///
/// The computation follows Krippendorff's coincidence matrix: only units with two or
/// more values count; each ordered pair of values `(c, k)` from different raters in a
/// unit with `m` values adds `1/(m − 1)` to `o[c][k]`; `n_c` is the row sum and `n` the
/// total; then `alpha = 1 − (n − 1)·Σ o[c][k]·δ²(c,k) / Σ n_c·n_k·δ²(c,k)`. Ordinal
/// `δ²(c,k) = (Σ_{g from c to k} n_g − (n_c + n_k)/2)²`, interval `δ²(c,k) = (c − k)²`.
///
/// `None` when no unit has two values or every value is the same (no expected
/// disagreement, so alpha is undefined).
pub fn krippendorff_alpha(units: &[Vec<u8>], metric: AlphaMetric) -> Option<f64> {
    // Values 0..=255 index these tables directly; stages use 1..=5.
    let mut coincidences = vec![[0.0_f64; 256]; 256];
    let mut totals = [0.0_f64; 256];
    for values in units.iter().filter(|values| values.len() >= 2) {
        let weight = 1.0 / (values.len() - 1) as f64;
        for (i, c) in values.iter().enumerate() {
            for (j, k) in values.iter().enumerate() {
                if i != j {
                    coincidences[usize::from(*c)][usize::from(*k)] += weight;
                }
            }
        }
    }
    for (c, row) in coincidences.iter().enumerate() {
        totals[c] = row.iter().sum();
    }
    let n: f64 = totals.iter().sum();
    if n < 2.0 {
        return None;
    }
    let present: Vec<usize> = (0..256).filter(|c| totals[*c] > 0.0).collect();
    let delta = |c: usize, k: usize| -> f64 {
        match metric {
            AlphaMetric::Interval => {
                let d = c as f64 - k as f64;
                d * d
            }
            AlphaMetric::Ordinal => {
                let (low, high) = if c <= k { (c, k) } else { (k, c) };
                let between: f64 = present
                    .iter()
                    .filter(|g| (low..=high).contains(*g))
                    .map(|g| totals[*g])
                    .sum();
                let d = between - (totals[c] + totals[k]) / 2.0;
                d * d
            }
        }
    };
    let mut observed = 0.0;
    let mut expected = 0.0;
    for &c in &present {
        for &k in &present {
            if c == k {
                continue;
            }
            let d = delta(c, k);
            observed += coincidences[c][k] * d;
            expected += totals[c] * totals[k] * d;
        }
    }
    if expected <= 0.0 {
        return None;
    }
    Some(1.0 - (n - 1.0) * observed / expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(values: &[u8]) -> Vec<Stage> {
        values
            .iter()
            .map(|v| Stage::parse(i64::from(*v)).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn stage(value: u8) -> Option<Stage> {
        Stage::parse(i64::from(value)).ok()
    }

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    #[test]
    fn median_rule_takes_the_middle_rounded_down() {
        assert_eq!(PillarRule::Median.apply(&stages(&[2, 3, 3])), stage(3));
        assert_eq!(
            PillarRule::Median.apply(&stages(&[5, 1, 4, 2, 4])),
            stage(4)
        );
        // Even counts: the mean of the two middle values, rounded down.
        assert_eq!(PillarRule::Median.apply(&stages(&[3, 4])), stage(3));
        assert_eq!(PillarRule::Median.apply(&stages(&[2, 4])), stage(3));
        assert_eq!(PillarRule::Median.apply(&stages(&[1, 2, 5, 5])), stage(3));
        assert_eq!(PillarRule::Median.apply(&stages(&[4])), stage(4));
        assert_eq!(PillarRule::Median.apply(&[]), None);
    }

    #[test]
    fn minimum_rule_takes_the_weakest_component() {
        assert_eq!(PillarRule::Minimum.apply(&stages(&[4, 2, 5])), stage(2));
        assert_eq!(PillarRule::Minimum.apply(&stages(&[3])), stage(3));
        assert_eq!(PillarRule::Minimum.apply(&[]), None);
    }

    #[test]
    fn mode_rule_breaks_ties_towards_the_lower_stage() {
        assert_eq!(PillarRule::Mode.apply(&stages(&[4, 2, 4, 5])), stage(4));
        assert_eq!(PillarRule::Mode.apply(&stages(&[2, 3, 4])), stage(2));
        assert_eq!(PillarRule::Mode.apply(&stages(&[5, 5, 3, 3])), stage(3));
        assert_eq!(PillarRule::Mode.apply(&[]), None);
    }

    #[test]
    fn rules_round_trip_by_name() {
        for rule in PillarRule::ALL {
            assert_eq!(PillarRule::parse(rule.as_str()), Some(rule));
        }
        assert_eq!(PillarRule::parse("mean"), None);
        assert_eq!(PillarRule::default(), PillarRule::Median);
    }

    #[test]
    fn quartiles_interpolate_between_ranks() {
        // 1 2 3 4 5: positions 1, 2, 3 hit values exactly.
        let odd = [1, 2, 3, 4, 5];
        assert_eq!(quantile(&odd, 0.25), Some(2.0));
        assert_eq!(quantile(&odd, 0.5), Some(3.0));
        assert_eq!(quantile(&odd, 0.75), Some(4.0));
        // 1 2 2 3 5 5: h = 1.25 → 2 + 0.25·0; h = 2.5 → 2 + 0.5·1; h = 3.75 → 3 + 0.75·2.
        let even = [1, 2, 2, 3, 5, 5];
        assert_eq!(quantile(&even, 0.25), Some(2.0));
        assert_eq!(quantile(&even, 0.5), Some(2.5));
        assert_eq!(quantile(&even, 0.75), Some(4.5));
        // 1 2 3 3 4 4: h = 1.25 → 2 + 0.25·1 = 2.25; h = 3.75 → 3 + 0.75·1 = 3.75.
        let mixed = [1, 2, 3, 3, 4, 4];
        assert_eq!(quantile(&mixed, 0.25), Some(2.25));
        assert_eq!(quantile(&mixed, 0.75), Some(3.75));
        assert_eq!(quantile(&[4], 0.75), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn distributions_are_withheld_below_the_minimum_group_size() {
        let four = distribution(&stages(&[3, 3, 4, 4]), MIN_GROUP_SIZE);
        assert_eq!(four.n, 4);
        assert_eq!(four.summary, None);
        assert!(
            four.withheld
                .as_deref()
                .is_some_and(|reason| reason.contains("only 4 organisation(s)")),
            "{four:?}"
        );
        let none = distribution(&[], MIN_GROUP_SIZE);
        assert_eq!((none.n, none.summary.is_none()), (0, true));

        let five = distribution(&stages(&[4, 1, 3, 2, 5]), MIN_GROUP_SIZE);
        assert_eq!(five.withheld, None);
        assert_eq!(
            five.summary,
            Some(DistributionSummary {
                median: 3.0,
                q1: 2.0,
                q3: 4.0,
                counts: [1, 1, 1, 1, 1],
            })
        );
        let six = distribution(&stages(&[1, 2, 3, 3, 4, 4]), MIN_GROUP_SIZE);
        assert_eq!(
            six.summary,
            Some(DistributionSummary {
                median: 3.0,
                q1: 2.25,
                q3: 3.75,
                counts: [1, 1, 2, 2, 0],
            })
        );
    }

    #[test]
    fn pair_agreement_counts_pairs_within_one_stage() {
        assert_eq!(pair_agreement(&stages(&[3])), None);
        let three = pair_agreement(&stages(&[3, 3, 5])).expect("three ratings");
        // Pairs (3,3) within one, (3,5) twice not.
        assert_eq!(
            three,
            PairAgreement {
                ratings: 3,
                pairs: 3,
                within_one: 1,
                range: 2
            }
        );
        assert!(close(three.share_within_one(), 1.0 / 3.0));
        let agreed = pair_agreement(&stages(&[4, 3])).expect("two ratings");
        assert_eq!((agreed.within_one, agreed.range), (1, 1));
        assert!(close(agreed.share_within_one(), 1.0));
    }

    /// Hand computation, three components rated by two raters: (1, 1), (2, 3), (3, 3).
    ///
    /// Coincidences (each unit has m = 2 values, so every ordered pair adds 1/(2 − 1) = 1):
    /// o₁₁ = 2, o₂₃ = o₃₂ = 1, o₃₃ = 2. Totals n₁ = 2, n₂ = 1, n₃ = 3, n = 6.
    ///
    /// Interval, δ² = (c − k)²: Σ o·δ² = o₂₃·1 + o₃₂·1 = 2;
    /// Σ n_c·n_k·δ² over ordered pairs = 2·(n₁n₂·1 + n₁n₃·4 + n₂n₃·1) = 2·(2 + 24 + 3) = 58;
    /// alpha = 1 − (6 − 1)·2/58 = 1 − 10/58 = 48/58 ≈ 0.827586.
    ///
    /// Ordinal, δ²(c,k) = (Σ_{g=c..k} n_g − (n_c + n_k)/2)²:
    /// δ²₁₂ = (3 − 1.5)² = 2.25; δ²₂₃ = (4 − 2)² = 4; δ²₁₃ = (6 − 2.5)² = 12.25.
    /// Σ o·δ² = 2·4 = 8; Σ n·n·δ² = 2·(2·1·2.25 + 2·3·12.25 + 1·3·4) = 2·90 = 180;
    /// alpha = 1 − 5·8/180 = 7/9 ≈ 0.777778.
    #[test]
    fn alpha_matches_the_hand_computation() {
        let units = vec![vec![1, 1], vec![2, 3], vec![3, 3]];
        let interval = krippendorff_alpha(&units, AlphaMetric::Interval).expect("defined");
        assert!(close(interval, 48.0 / 58.0), "{interval}");
        let ordinal = krippendorff_alpha(&units, AlphaMetric::Ordinal).expect("defined");
        assert!(close(ordinal, 7.0 / 9.0), "{ordinal}");
    }

    /// Hand computation with a missing rating and a unit only one rater rated, three
    /// raters: (2, 2, 3), (4, 4, –), (1, –, –).
    ///
    /// The unit (1) has one value and is not pairable: it is left out entirely.
    /// Unit (2, 2, 3), m = 3, each ordered pair adds 1/2: the pair of 2s gives o₂₂ = 2·½ = 1,
    /// the 2–3 pairs give o₂₃ = o₃₂ = 2·½ = 1. Unit (4, 4), m = 2: o₄₄ = 2.
    /// Totals n₂ = 2, n₃ = 1, n₄ = 2, n = 5.
    ///
    /// Interval: Σ o·δ² = o₂₃·1 + o₃₂·1 = 2;
    /// Σ n·n·δ² = 2·(n₂n₃·1 + n₂n₄·4 + n₃n₄·1) = 2·(2 + 16 + 2) = 40;
    /// alpha = 1 − 4·2/40 = 0.8.
    ///
    /// Ordinal: δ²₂₃ = (3 − 1.5)² = 2.25; δ²₃₄ = (3 − 1.5)² = 2.25; δ²₂₄ = (5 − 2)² = 9.
    /// Σ o·δ² = 2·2.25 = 4.5; Σ n·n·δ² = 2·(2·1·2.25 + 2·2·9 + 1·2·2.25) = 2·45 = 90;
    /// alpha = 1 − 4·4.5/90 = 0.8.
    #[test]
    fn alpha_handles_missing_ratings_and_unpaired_units() {
        let units = vec![vec![2, 2, 3], vec![4, 4], vec![1]];
        let interval = krippendorff_alpha(&units, AlphaMetric::Interval).expect("defined");
        assert!(close(interval, 0.8), "{interval}");
        let ordinal = krippendorff_alpha(&units, AlphaMetric::Ordinal).expect("defined");
        assert!(close(ordinal, 0.8), "{ordinal}");
    }

    /// The worked example of Krippendorff's "Computing Krippendorff's alpha-reliability"
    /// (2011): four observers, twelve units, values 1–5 with gaps. The paper reports
    /// alpha 0.815 (ordinal) and 0.849 (interval).
    #[test]
    fn alpha_reproduces_the_published_example() {
        let units = vec![
            vec![1, 1, 1],
            vec![2, 2, 3, 2],
            vec![3, 3, 3, 3],
            vec![3, 3, 3, 3],
            vec![2, 2, 2, 2],
            vec![1, 2, 3, 4],
            vec![4, 4, 4, 4],
            vec![1, 1, 2, 1],
            vec![2, 2, 2, 2],
            vec![5, 5, 5],
            vec![1, 1],
            vec![3],
        ];
        let ordinal = krippendorff_alpha(&units, AlphaMetric::Ordinal).expect("defined");
        assert!((ordinal - 0.815).abs() < 0.0005, "{ordinal}");
        let interval = krippendorff_alpha(&units, AlphaMetric::Interval).expect("defined");
        assert!((interval - 0.849).abs() < 0.0005, "{interval}");
    }

    #[test]
    fn alpha_is_undefined_without_pairs_or_variation() {
        assert_eq!(krippendorff_alpha(&[], AlphaMetric::Ordinal), None);
        assert_eq!(
            krippendorff_alpha(&[vec![3], vec![4]], AlphaMetric::Ordinal),
            None
        );
        assert_eq!(
            krippendorff_alpha(&[vec![3, 3], vec![3, 3]], AlphaMetric::Ordinal),
            None
        );
        // Perfect agreement with variation is 1; systematic disagreement is below 0.
        let perfect = krippendorff_alpha(&[vec![2, 2], vec![4, 4]], AlphaMetric::Ordinal);
        assert!(perfect.is_some_and(|a| close(a, 1.0)));
        let opposed = krippendorff_alpha(&[vec![1, 5], vec![5, 1]], AlphaMetric::Ordinal);
        assert!(opposed.is_some_and(|a| a < 0.0));
    }
}
