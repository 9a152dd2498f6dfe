//! What the reader taught, as points: a per-reader logistic regression (linfa) on the papers
//! they said "more like" or "less like" (against the day's other papers when they said only
//! one), and their library's pull, measured against the day.

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use super::{Vectors, LEARNED_POINTS};
use crate::domain::{Paper, PaperId, Verdict};

/// Points from what the reader taught, per passed paper: the model trained on their examples
/// plus their library's pull, together at most ±[`LEARNED_POINTS`]. `None` when there is
/// nothing to learn from.
pub(super) fn learned(
    candidates: &[&Paper],
    passed: &[(&Paper, &Verdict)],
    v: &Vectors,
) -> Option<HashMap<PaperId, f32>> {
    let examples = from_examples(candidates, passed, v);
    let library = from_library(candidates, passed, v);
    if examples.is_none() && library.is_none() {
        return None;
    }
    Some(
        passed
            .iter()
            .filter(|(p, _)| v.papers.contains_key(&p.id))
            .map(|(p, _)| {
                let get = |m: &Option<HashMap<PaperId, f32>>| {
                    m.as_ref()
                        .and_then(|m| m.get(&p.id))
                        .copied()
                        .unwrap_or(0.0)
                };
                let points =
                    (get(&examples) + get(&library)).clamp(-LEARNED_POINTS, LEARNED_POINTS);
                (p.id.clone(), points)
            })
            .collect(),
    )
}

/// The library's pull on each passed paper: how near it is to the library's papers (the mean of
/// its three best cosines), in robust standard deviations over the day's candidates, a third of
/// [`LEARNED_POINTS`] each. Measured against the day rather than learned against it: the
/// library is embedded from titles alone, and a model trained on titles against whole papers
/// would learn that difference instead of the reader's taste.
fn from_library(
    candidates: &[&Paper],
    passed: &[(&Paper, &Verdict)],
    v: &Vectors,
) -> Option<HashMap<PaperId, f32>> {
    if v.library.is_empty() {
        return None;
    }
    let pull = |pv: &[f32]| {
        let mut cos: Vec<f32> = v
            .library
            .iter()
            .map(|l| crate::scoring::group::dot(l, pv))
            .collect();
        cos.sort_unstable_by(|a, b| b.total_cmp(a));
        let best = &cos[..cos.len().min(3)];
        best.iter().sum::<f32>() / best.len() as f32
    };
    let day: Vec<f32> = candidates
        .iter()
        .filter_map(|p| v.papers.get(&p.id))
        .map(|pv| pull(pv))
        .collect();
    let (median, spread) = crate::scoring::group::robust_scale(&day);
    Some(
        passed
            .iter()
            .filter_map(|(p, _)| v.papers.get(&p.id).map(|pv| (p, pv)))
            .map(|(p, pv)| {
                let z = (pull(pv) - median) / spread;
                let points = (z * LEARNED_POINTS / 3.0).clamp(-LEARNED_POINTS, LEARNED_POINTS);
                (p.id.clone(), points)
            })
            .collect(),
    )
}

/// The model trained on the reader's "more/less like" examples, per passed paper.
fn from_examples(
    candidates: &[&Paper],
    passed: &[(&Paper, &Verdict)],
    v: &Vectors,
) -> Option<HashMap<PaperId, f32>> {
    let model = Learner::train(candidates, v)?;
    let day: Vec<&Vec<f32>> = candidates
        .iter()
        .filter_map(|p| v.papers.get(&p.id))
        .collect();
    let day_p: Vec<f32> = model.probabilities(&day).into_iter().flatten().collect();
    let mean = day_p.iter().sum::<f32>() / day_p.len().max(1) as f32;
    let mine: Vec<(&PaperId, &Vec<f32>)> = passed
        .iter()
        .filter_map(|(p, _)| v.papers.get(&p.id).map(|pv| (&p.id, pv)))
        .collect();
    let probs = model.probabilities(&mine.iter().map(|(_, pv)| *pv).collect::<Vec<_>>());
    Some(
        mine.iter()
            .zip(probs)
            .filter_map(|((id, _), p)| {
                let points =
                    ((p? - mean) * 2.0 * LEARNED_POINTS).clamp(-LEARNED_POINTS, LEARNED_POINTS);
                Some(((*id).clone(), points))
            })
            .collect(),
    )
}

/// A per-reader logistic regression on paper embeddings.
struct Learner {
    model: linfa_logistic::FittedLogisticRegression<f64, bool>,
    dims: usize,
}

impl Learner {
    fn train(candidates: &[&Paper], v: &Vectors) -> Option<Learner> {
        let dims = v.signals.first()?.vector.len();
        let pos: Vec<&Vec<f32>> = v
            .signals
            .iter()
            .filter(|s| s.more)
            .map(|s| &s.vector)
            .collect();
        let neg: Vec<&Vec<f32>> = v
            .signals
            .iter()
            .filter(|s| !s.more)
            .map(|s| &s.vector)
            .collect();
        let background = || -> Vec<&Vec<f32>> {
            candidates
                .iter()
                .filter_map(|p| v.papers.get(&p.id))
                .filter(|pv| !v.signals.iter().any(|s| &s.vector == *pv))
                .collect()
        };
        let (pos, neg) = match (pos.is_empty(), neg.is_empty()) {
            (false, false) => (pos, neg),
            (false, true) => (pos, background()),
            (true, false) => (background(), neg),
            (true, true) => return None,
        };
        if pos.is_empty() || neg.is_empty() {
            return None;
        }
        let rows: Vec<(&Vec<f32>, bool)> = pos
            .iter()
            .map(|x| (*x, true))
            .chain(neg.iter().map(|x| (*x, false)))
            .filter(|(x, _)| x.len() == dims)
            .collect();
        let x = features(&rows.iter().map(|(x, _)| *x).collect::<Vec<_>>(), dims);
        let y = Array1::from_iter(rows.iter().map(|(_, y)| *y));
        let model = LogisticRegression::default()
            .alpha(1.0)
            .max_iterations(60)
            .fit(&Dataset::new(x, y))
            .map_err(|e| tracing::warn!(error = %e, "the reader's model could not be trained"))
            .ok()?;
        Some(Learner { model, dims })
    }

    /// One probability per vector of `xs`, in order; `None` for a vector of another length
    /// (it cannot be read by this model, and must not take another paper's place).
    fn probabilities(&self, xs: &[&Vec<f32>]) -> Vec<Option<f32>> {
        let fit: Vec<&Vec<f32>> = xs
            .iter()
            .copied()
            .filter(|x| x.len() == self.dims)
            .collect();
        let mut probs = if fit.is_empty() {
            Vec::new()
        } else {
            self.model
                .predict_probabilities(&features(&fit, self.dims))
                .iter()
                .map(|p| *p as f32)
                .collect()
        }
        .into_iter();
        xs.iter()
            .map(|x| {
                if x.len() == self.dims {
                    probs.next()
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Unit vectors scaled so each dimension is of order one (the regularization then means the
/// same whatever the model's dimensions).
fn features(rows: &[&Vec<f32>], dims: usize) -> Array2<f64> {
    let scale = (dims as f64).sqrt();
    Array2::from_shape_fn((rows.len(), dims), |(i, j)| rows[i][j] as f64 * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::paper;
    use crate::domain::Score;
    use crate::scoring::rank::Signal;

    /// A paper whose vector is of another length comes before one that fits: the second must
    /// get its own points and the first none (they were shifted onto each other).
    #[test]
    fn a_vector_of_another_length_takes_no_other_papers_points() {
        let unit = |i: usize| {
            let mut v = vec![0.0f32; 4];
            v[i] = 1.0;
            v
        };
        let papers: Vec<Paper> = ["2501.00001", "2501.00002", "2501.00003", "2501.00004"]
            .iter()
            .map(|id| paper(id))
            .collect();
        let mut day = HashMap::new();
        day.insert(papers[0].id.clone(), vec![1.0f32, 0.0, 0.0]); // another length
        day.insert(papers[1].id.clone(), unit(0)); // like the "more" example
        day.insert(papers[2].id.clone(), unit(1)); // like the "less" example
        day.insert(papers[3].id.clone(), unit(2));
        let v = Vectors {
            pieces: vec![],
            papers: std::sync::Arc::new(day),
            signals: vec![
                Signal {
                    vector: unit(0),
                    more: true,
                },
                Signal {
                    vector: unit(1),
                    more: false,
                },
            ],
            library: vec![],
        };
        let verdict = Verdict {
            relevance: Score::new(8).unwrap(),
            novelty: Some(Score::new(7).unwrap()),
            comment: String::new(),
            tldr: None,
        };
        let candidates: Vec<&Paper> = papers.iter().collect();
        let passed: Vec<(&Paper, &Verdict)> = papers[..3].iter().map(|p| (p, &verdict)).collect();
        let points = from_examples(&candidates, &passed, &v).unwrap();
        assert!(!points.contains_key(&papers[0].id), "{points:?}");
        assert!(points[&papers[1].id] > 0.0, "{points:?}");
        assert!(points[&papers[2].id] < 0.0, "{points:?}");
    }
}
