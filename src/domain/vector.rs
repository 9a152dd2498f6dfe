//! Embedding vectors: compared by cosine, so kept at length 1.

/// `v` scaled to length 1 (a zero vector stays zero). The length is summed in f64, so large
/// values do not overflow it.
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
    v
}

/// Whether `v` points somewhere: every value finite and its length neither zero nor so small
/// that scaling it to 1 would only magnify noise.
pub fn is_direction(v: &[f32]) -> bool {
    let norm = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    v.iter().all(|x| x.is_finite()) && norm.is_finite() && norm > 1e-20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finite_nonzero_vectors_are_directions() {
        assert!(is_direction(&[0.5, -0.5]));
        assert!(!is_direction(&[0.0, 0.0]));
        assert!(!is_direction(&[f32::NAN, 1.0]));
        assert!(!is_direction(&[f32::INFINITY, 1.0]));
        assert!(!is_direction(&[1e-30, 0.0]));
        let big = unit(vec![3e38, 3e38]);
        assert!(
            (big[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{big:?}"
        );
    }
}
