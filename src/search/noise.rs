//! Exploration noise at the root (AlphaZero): the priors of a new root's
//! candidates are mixed with a Dirichlet(α) draw, π ← (1 − ε)·π + ε·η, so
//! that self-play tries actions the policy does not yet favour.

use rand::Rng;

/// A Gamma(shape, 1) draw (Marsaglia and Tsang; shape < 1 by the boost
/// Gamma(a) = Gamma(a + 1)·U^(1/a)).
fn gamma<R: Rng>(rng: &mut R, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A draw from the symmetric Dirichlet(α) over `n` outcomes.
pub fn dirichlet<R: Rng>(rng: &mut R, alpha: f64, n: usize) -> Vec<f64> {
    let g: Vec<f64> = (0..n).map(|_| gamma(rng, alpha)).collect();
    let sum: f64 = g.iter().sum();
    if sum > 0.0 {
        g.iter().map(|x| x / sum).collect()
    } else {
        vec![1.0 / n.max(1) as f64; n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn gamma_draws_have_the_right_mean_and_variance() {
        let mut rng = StdRng::seed_from_u64(3);
        for shape in [0.3, 1.0, 4.0] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| gamma(&mut rng, shape)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            // Gamma(k, 1): mean k, variance k.
            assert!(
                (mean - shape).abs() < 0.02 * shape.max(1.0),
                "{shape}: {mean}"
            );
            assert!(
                (var - shape).abs() < 0.05 * shape.max(1.0),
                "{shape}: {var}"
            );
        }
    }

    #[test]
    fn dirichlet_draws_sum_to_one_and_average_to_uniform() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut total = [0.0; 4];
        for _ in 0..20_000 {
            let d = dirichlet(&mut rng, 0.3, 4);
            assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(d.iter().all(|&x| x >= 0.0));
            total.iter_mut().zip(&d).for_each(|(t, x)| *t += x);
        }
        for t in total {
            assert!((t / 20_000.0 - 0.25).abs() < 0.01, "{t}");
        }
    }
}
