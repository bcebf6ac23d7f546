//! Synthetic demonstrations (docs/design.md §4): R random sparse factor triples over
//! the coefficient set, summed into a tensor D; the network learns to play
//! them back. Generated on the fly, never stored.

use super::action::{canonicalise, coefficient_set};
use super::state::GameConfig;
use rand::seq::SliceRandom;
use rand::Rng;

/// A tensor and R factors u‖v‖w that decompose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demonstration {
    pub tensor: Vec<i32>,
    pub factors: Vec<Vec<i32>>,
}

/// One training position: the residual after `step` factors, the last
/// actions (most recent first, zero-padded), the next factor to play, and
/// the value target −(remaining steps).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub residual: Vec<i32>,
    pub history: Vec<Vec<i32>>,
    pub step: usize,
    pub action: Vec<i32>,
    pub value: f32,
}

/// A random nonzero vector over the coefficient set, each entry zero with
/// probability `p_zero`.
pub fn sparse_vector<R: Rng>(rng: &mut R, len: usize, set: &[i32], p_zero: f64) -> Vec<i32> {
    let nonzero: Vec<i32> = set.iter().copied().filter(|&x| x != 0).collect();
    loop {
        let v: Vec<i32> = (0..len)
            .map(|_| {
                if rng.random_bool(p_zero) {
                    0
                } else {
                    nonzero[rng.random_range(0..nonzero.len())]
                }
            })
            .collect();
        if v.iter().any(|&x| x != 0) {
            return v;
        }
    }
}

/// `rank` random factors (none with a zero u, v or w) and their sum.
pub fn random_demonstration<R: Rng>(
    rng: &mut R,
    cfg: &GameConfig,
    rank: usize,
    p_zero: f64,
) -> Demonstration {
    let set = coefficient_set(cfg.field);
    let [la, lb, lc] = cfg.dims;
    // Sign-canonical factors: (u,v,w) and (−u,−v,w) are the same term, and
    // a target that is either at random cannot be learned exactly.
    let factors: Vec<Vec<i32>> = (0..rank)
        .map(|_| {
            let mut f: Vec<i32> = [la, lb, lc]
                .iter()
                .flat_map(|&n| sparse_vector(rng, n, set, p_zero))
                .collect();
            canonicalise(cfg.field, cfg.dims, &mut f);
            f
        })
        .collect();
    Demonstration::of_factors(cfg, factors)
}

impl Demonstration {
    /// The demonstration whose tensor is the sum of `factors`.
    pub fn of_factors(cfg: &GameConfig, factors: Vec<Vec<i32>>) -> Self {
        // Subtracting every term from zero gives −D.
        let mut tensor = vec![0i32; cfg.dims.iter().product()];
        for f in &factors {
            cfg.subtract(&mut tensor, f);
        }
        tensor.iter_mut().for_each(|x| *x = cfg.reduce(-*x));
        Demonstration { tensor, factors }
    }

    /// The positions of playing the factors back in a random order.
    pub fn examples<R: Rng>(&self, rng: &mut R, cfg: &GameConfig) -> Vec<Example> {
        let order = self.random_order(rng);
        let mut residual = self.tensor.clone();
        let mut out = Vec::with_capacity(order.len());
        for step in 0..order.len() {
            out.push(position(&order, cfg, step, residual.clone()));
            cfg.subtract(&mut residual, order[step]);
        }
        out
    }

    /// One position of a random play-back, drawn uniformly: the same draw
    /// as picking from [`Demonstration::examples`], holding one residual
    /// instead of R (a large shape's R residuals do not fit in memory).
    pub fn random_example<R: Rng>(&self, rng: &mut R, cfg: &GameConfig) -> Example {
        let order = self.random_order(rng);
        let step = rng.random_range(0..order.len());
        self.example_at(&order, cfg, step)
    }

    /// One position of the play-back in the factors' own order, drawn
    /// uniformly: R positions in all, where a random order gives up to R!.
    pub fn example_in_order<R: Rng>(&self, rng: &mut R, cfg: &GameConfig) -> Example {
        let order: Vec<&Vec<i32>> = self.factors.iter().collect();
        let step = rng.random_range(0..order.len());
        self.example_at(&order, cfg, step)
    }

    fn example_at(&self, order: &[&Vec<i32>], cfg: &GameConfig, step: usize) -> Example {
        let mut residual = self.tensor.clone();
        for action in &order[..step] {
            cfg.subtract(&mut residual, action);
        }
        position(order, cfg, step, residual)
    }

    fn random_order<R: Rng>(&self, rng: &mut R) -> Vec<&Vec<i32>> {
        let mut order: Vec<&Vec<i32>> = self.factors.iter().collect();
        order.shuffle(rng);
        order
    }
}

/// The position before playing `order[step]`, given its residual.
fn position(order: &[&Vec<i32>], cfg: &GameConfig, step: usize, residual: Vec<i32>) -> Example {
    let history = (1..=cfg.history)
        .map(|back| {
            step.checked_sub(back)
                .map_or_else(|| vec![0; cfg.action_len()], |s| order[s].clone())
        })
        .collect();
    Example {
        residual,
        history,
        step,
        action: order[step].clone(),
        value: -((order.len() - step) as f32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Field, Shape};
    use rand::SeedableRng;

    #[test]
    fn a_random_example_is_the_one_picked_from_all() {
        let cfg = GameConfig::new(Shape::new(2, 3, 2).unwrap(), Field::Z, 2, 12);
        for seed in 0..20 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let demo = random_demonstration(&mut rng, &cfg, 7, 0.7);
            let (mut a, mut b) = (
                rand::rngs::StdRng::seed_from_u64(seed + 100),
                rand::rngs::StdRng::seed_from_u64(seed + 100),
            );
            let mut all = demo.examples(&mut a, &cfg);
            let picked = all.swap_remove(a.random_range(0..all.len()));
            assert_eq!(demo.random_example(&mut b, &cfg), picked);
        }
    }

    #[test]
    fn playing_a_demonstration_back_solves_it() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for field in [Field::Z, Field::Z2] {
            let cfg = GameConfig::new(Shape::new(2, 3, 2).unwrap(), field, 2, 12);
            for rank in [1, 4, 9] {
                let demo = random_demonstration(&mut rng, &cfg, rank, 0.7);
                let examples = demo.examples(&mut rng, &cfg);
                assert_eq!(examples.len(), rank);
                assert_eq!(examples[0].residual, demo.tensor);
                let mut residual = demo.tensor.clone();
                for (t, e) in examples.iter().enumerate() {
                    assert_eq!(e.residual, residual);
                    assert_eq!(e.value, -((rank - t) as f32));
                    assert_eq!(e.history.len(), 2);
                    if t > 0 {
                        assert_eq!(e.history[0], examples[t - 1].action, "most recent first");
                    } else {
                        assert!(e.history[0].iter().all(|&x| x == 0));
                    }
                    let [la, lb, _] = cfg.dims;
                    assert!(e.action[..la].iter().any(|&x| x != 0));
                    assert!(e.action[la..la + lb].iter().any(|&x| x != 0));
                    assert!(e.action[la + lb..].iter().any(|&x| x != 0));
                    cfg.subtract(&mut residual, &e.action);
                }
                assert!(residual.iter().all(|&x| x == 0), "{field} rank {rank}");
            }
        }
    }

    #[test]
    fn encoding_places_each_entry_in_all_three_grids() {
        let cfg = GameConfig::new(Shape::new(1, 2, 3).unwrap(), Field::Z, 1, 10);
        // dims (2, 6, 3), S = 6, F = 6·2 + 1 = 13.
        let (s, f) = (cfg.grid(), cfg.cell_features());
        assert_eq!((s, f), (6, 13));
        let mut residual = vec![0; 36];
        residual[(6 + 4) * 3 + 2] = -2; // entry (i, j, k) = (1, 4, 2): (i·6 + j)·3 + k
        let mut out = vec![f32::NAN; cfg.state_features()];
        cfg.encode(&residual, &[vec![0; 11]], 5, &mut out);
        let at = |g: usize, x: usize, y: usize, feat: usize| out[((g * s + x) * s + y) * f + feat];
        assert_eq!(at(0, 1, 4, 2), -2.0);
        assert_eq!(at(1, 4, 2, 1), -2.0);
        assert_eq!(at(2, 2, 1, 4), -2.0);
        assert_eq!(out.iter().filter(|&&x| x == -2.0).count(), 3);
        assert_eq!(at(1, 0, 0, f - 1), 0.5, "step / R_limit");
        assert!(out.iter().all(|x| x.is_finite()));
    }
}
