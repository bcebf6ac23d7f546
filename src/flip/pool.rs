//! The pool strategy (after flip-cpd and Kauers–Moosbauer): a pool
//! of schemes at the current rank; each round starts a fixed number of
//! walks from random members, in parallel; a walk that drops below the
//! pool's rank goes on down while it finds new lows and reports its
//! lowest scheme, and one that does not ends at its path limit. Schemes
//! found at the lowest rank fill the next pool, which replaces the current one when it
//! is full, or when the level has had its share of walks. A walk that
//! made its path limit joins the pool (in a random member's place when it
//! is full) with where it ended at the pool's rank, or the last scheme it
//! came back down to that rank with, as ternary_flip_graph's runners keep
//! their end states: at a plateau the pool keeps moving instead of
//! restarting from the same few schemes.
//!
//! Walk seeds are drawn from one generator in a fixed order and results
//! are taken in walk order, so a run is the same for a given seed whatever
//! the number of threads.

use super::factor::Factor;
use super::scheme::Scheme;
use super::symmetric::{SymmetricWalker, Symmetry};
use super::walker::{Walk, Walker, XorShift};
use crate::problem::Shape;
use anyhow::{bail, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The strategy's knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSettings {
    /// Schemes kept at one rank.
    pub pool_size: usize,
    /// Walks per round (fixed, so results do not depend on threads).
    pub walks_per_round: usize,
    /// Flips before a walk gives up.
    pub path_limit: u64,
    /// Flips without a new low in a walk before a plus transition.
    pub plateau: u64,
    /// Walks at one rank after which the next pool is taken even when
    /// not full.
    pub level_walks: u64,
    /// Whether walks also make the general reduction (a term whose factor
    /// depends on those of terms sharing another factor is folded away),
    /// not only merges of terms sharing two factors.
    #[serde(default)]
    pub general_reduction: bool,
    /// The group the walks keep their schemes invariant under (square
    /// shapes over Z2); every pool member is invariant.
    #[serde(default, skip_serializing_if = "Symmetry::is_none")]
    pub symmetry: Symmetry,
    /// Ranks above its own low within which a walk takes its plus
    /// transitions (Arai, Ichikawa and Hukushima's slack); past it the
    /// walk flips on at the rank it has (usize::MAX: no bound).
    #[serde(default = "no_slack_bound")]
    pub slack: usize,
    /// Flips drawn per move, the first that reduces being made
    /// ([`Walker::prefer_reductions`]; 1: every flip random).
    #[serde(default = "one_draw")]
    pub draws: usize,
    /// Adaptive path limits (after Arai, Ichikawa and Hukushima): walks
    /// start at a sixteenth of `path_limit`, twice as long after every
    /// `level_walks` walks without a lower rank, up to 16 times it, and
    /// short again once the rank drops.
    #[serde(default)]
    pub adaptive: bool,
}

fn one_draw() -> usize {
    1
}

fn no_slack_bound() -> usize {
    usize::MAX
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            pool_size: 64,
            walks_per_round: 32,
            path_limit: 2_000_000,
            plateau: 50_000,
            level_walks: 256,
            general_reduction: false,
            symmetry: Symmetry::None,
            slack: usize::MAX,
            draws: 1,
            adaptive: true,
        }
    }
}

/// The plateau of symmetric walks: at 5x5x5 under C3, one walk of 15 s
/// reached 99, 99, 105, 105 with it (seeds 0 to 3) against 102, 108,
/// 105, 102 with the plain walk's 50,000, and a pool 99 against 102 in
/// two minutes.
const SYMMETRIC_PLATEAU: u64 = 16_000;

/// Doublings of an adaptive path limit: from `path_limit` / 16 (0) to
/// `path_limit` · 16 (8).
pub const STRETCHES: u32 = 8;

impl PoolSettings {
    /// The defaults of walks that keep `symmetry` (the plain defaults for
    /// none): a shorter plateau, and fixed path limits, since at 5x5x5
    /// under C3, seeds 1–3, 6 minutes, fixed ones reached 93, 99, 99 and
    /// adaptive ones 102, 99, 99.
    pub fn for_symmetry(symmetry: Symmetry) -> Self {
        let plain = PoolSettings::default();
        if symmetry.is_none() {
            return plain;
        }
        PoolSettings {
            symmetry,
            plateau: SYMMETRIC_PLATEAU,
            adaptive: false,
            ..plain
        }
    }

    /// Whether `scheme` may be a member: invariant under the symmetry.
    pub fn invariant<F: Factor>(&self, scheme: &Scheme<F>) -> Result<()> {
        match self.symmetry {
            Symmetry::None => Ok(()),
            symmetry => SymmetricWalker::new(scheme, symmetry, 0).map(|_| ()),
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.pool_size == 0 || self.walks_per_round == 0 || self.path_limit == 0 {
            bail!("--pool, the walks per round and --path-limit must be at least 1");
        }
        if self.plateau == 0 {
            bail!("--plateau must be at least 1");
        }
        if self.draws == 0 {
            bail!("--prefer-reductions must be at least 1");
        }
        if self.draws > 1 && !self.symmetry.is_none() {
            bail!(
                "--prefer-reductions is for walks without a symmetry: leave it out with --symmetry"
            );
        }
        if self.general_reduction && !self.symmetry.is_none() {
            bail!("--reduction general does not keep a symmetry: give --reduction merge with --symmetry");
        }
        Ok(())
    }
}

/// Everything a pool search needs to continue: saved by `flip` at its
/// checkpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "F: Factor")]
pub struct PoolState<F> {
    /// The pool's rank and its schemes (terms as packed factors).
    pub rank: usize,
    pub pool: Vec<Vec<[F; 3]>>,
    /// Schemes found below `rank`, all at `next_rank`.
    pub next_rank: usize,
    pub next: Vec<Vec<[F; 3]>>,
    /// The walk-seed generator's state.
    pub rng: u64,
    pub rounds: u64,
    pub walks: u64,
    pub flips: u64,
    /// Walks started at the current rank.
    pub level_walks: u64,
    /// Adaptive limits: doublings of the path limit now
    /// ([`PoolSettings::adaptive`]), and walks since the last doubling or
    /// lower rank (runs from before them read 0).
    #[serde(default)]
    pub stretch: u32,
    #[serde(default)]
    pub stale_walks: u64,
}

/// What one round did.
#[derive(Clone, Debug)]
pub struct Round<F> {
    pub flips: u64,
    /// Schemes this round found at the lowest rank known after it
    /// ([`PoolSearch::best_rank`]).
    pub best: Vec<Scheme<F>>,
    /// Whether that rank is lower than before the round.
    pub improved: bool,
}

pub struct PoolSearch<F> {
    pub shape: Shape,
    pub settings: PoolSettings,
    pub state: PoolState<F>,
}

impl<F: Factor> PoolSearch<F> {
    /// A search from `start`; fails when the settings' symmetry does not
    /// leave it invariant.
    pub fn new(start: &Scheme<F>, settings: PoolSettings, seed: u64) -> Result<Self> {
        // Reductions the start allows happen before the pool is made.
        let start = match settings.symmetry {
            Symmetry::None => Walker::new(start, seed).scheme(),
            symmetry => SymmetricWalker::new(start, symmetry, seed)?.scheme(),
        };
        let rank = start.rank();
        Ok(PoolSearch {
            shape: start.shape,
            settings,
            state: PoolState {
                rank,
                pool: vec![start.terms],
                next_rank: rank,
                next: vec![],
                rng: XorShift::new(seed).state(),
                rounds: 0,
                walks: 0,
                flips: 0,
                level_walks: 0,
                stretch: 0,
                stale_walks: 0,
            },
        })
    }

    /// Continues a saved search. Nothing saved is believed unchecked:
    /// every scheme of the pool and of the next level must be a
    /// decomposition of `shape` in F's arithmetic, of the rank the state
    /// says, with no bits outside its factors.
    pub fn resume(shape: Shape, settings: PoolSettings, state: PoolState<F>) -> Result<Self> {
        if state.pool.is_empty() || state.pool.iter().any(|t| t.len() != state.rank) {
            bail!("the saved pool is empty or not all of rank {}", state.rank);
        }
        if state.next.iter().any(|t| t.len() != state.next_rank)
            || (!state.next.is_empty() && state.next_rank >= state.rank)
        {
            bail!(
                "the saved schemes below the pool are not all of rank {}, below {}",
                state.next_rank,
                state.rank
            );
        }
        for (i, terms) in state.pool.iter().chain(&state.next).enumerate() {
            let scheme = Scheme {
                shape,
                terms: terms.clone(),
            };
            scheme
                .check()
                .and_then(|()| settings.invariant(&scheme))
                .map_err(|e| anyhow::anyhow!("saved scheme {i}: {e}"))?;
        }
        Ok(PoolSearch {
            shape,
            settings,
            state,
        })
    }

    /// The path limit of the next walks: the settings' own, or with
    /// adaptive limits path_limit · 2^stretch / 16.
    pub fn path_limit(&self) -> u64 {
        if !self.settings.adaptive {
            return self.settings.path_limit;
        }
        let stretch = self.state.stretch.min(STRETCHES);
        (self.settings.path_limit.saturating_mul(1 << stretch) / 16).max(1)
    }

    /// The lowest rank found so far.
    pub fn best_rank(&self) -> usize {
        self.state.rank.min(self.state.next_rank)
    }

    /// A scheme of the lowest rank found so far.
    pub fn best(&self) -> Scheme<F> {
        let terms = match self.state.next.first() {
            Some(t) if self.state.next_rank < self.state.rank => t,
            _ => &self.state.pool[0],
        };
        Scheme {
            shape: self.shape,
            terms: terms.clone(),
        }
    }

    /// Takes a scheme found elsewhere (by self-play): below every rank
    /// known it starts the next level, at the next level's rank it joins
    /// it, at the pool's rank it joins the pool, each while there is room.
    /// Returns whether it was taken. The caller has verified it.
    pub fn offer(&mut self, scheme: Scheme<F>) -> bool {
        if self.settings.invariant(&scheme).is_err() {
            return false;
        }
        let (r, cap) = (scheme.rank(), self.settings.pool_size);
        let st = &mut self.state;
        if r < st.rank && r < st.next_rank {
            st.next_rank = r;
            st.next = vec![scheme.terms];
        } else if r < st.rank && r == st.next_rank && st.next.len() < cap {
            st.next.push(scheme.terms);
        } else if r == st.rank && st.pool.len() < cap {
            st.pool.push(scheme.terms);
        } else {
            return false;
        }
        true
    }

    /// Takes schemes another worker found (verified by the caller) when
    /// they are below every rank here: their lowest rank becomes the pool,
    /// so the walks go on from there at once. Returns whether they did.
    pub fn adopt(&mut self, schemes: Vec<Scheme<F>>) -> bool {
        let fit: Vec<Scheme<F>> = schemes
            .into_iter()
            .filter(|s| s.shape == self.shape && self.settings.invariant(s).is_ok())
            .collect();
        let Some(r) = fit.iter().map(Scheme::rank).min() else {
            return false;
        };
        if r >= self.best_rank() {
            return false;
        }
        let st = &mut self.state;
        st.pool = fit
            .into_iter()
            .filter(|s| s.rank() == r)
            .take(self.settings.pool_size)
            .map(|s| s.terms)
            .collect();
        st.rank = r;
        st.next_rank = r;
        st.next.clear();
        st.level_walks = 0;
        true
    }

    /// Runs one round of walks on the current rayon pool; walks end early
    /// when `halt` says so (checked every few tens of thousands of steps).
    pub fn round(&mut self, halt: &(dyn Fn() -> bool + Sync)) -> Round<F> {
        let starts = self.plan(self.settings.walks_per_round);
        let settings = PoolSettings {
            path_limit: self.path_limit(),
            ..self.settings
        };
        let (shape, rank) = (self.shape, self.state.rank);
        let pool = &self.state.pool;
        let results: Vec<WalkResult<F>> = starts
            .par_iter()
            .map(|&(k, seed)| descend(shape, &pool[k], rank, &settings, seed, halt))
            .collect();
        self.absorb(results)
    }

    /// The next `walks` walks: a pool member and a seed each, drawn in a
    /// fixed order from the search's generator.
    pub fn plan(&mut self, walks: usize) -> Vec<(usize, u64)> {
        let st = &mut self.state;
        let mut rng = XorShift::from_state(st.rng);
        let starts = (0..walks)
            .map(|_| (rng.below(st.pool.len()), rng.next_u64()))
            .collect();
        st.rng = rng.state();
        starts
    }

    /// Takes the results of a round's walks, in the order they were
    /// planned: the next pool fills, and replaces the pool when full or
    /// when the level has had its walks.
    pub fn absorb(&mut self, results: Vec<WalkResult<F>>) -> Round<F> {
        let shape = self.shape;
        let st = &mut self.state;
        let before = st.rank.min(st.next_rank);
        let mut round = Round {
            flips: 0,
            best: vec![],
            improved: false,
        };
        let mut rng = XorShift::from_state(st.rng);
        let round_walks = results.len() as u64;
        for WalkResult {
            found,
            flips,
            wandered,
        } in results
        {
            round.flips += flips;
            st.walks += 1;
            st.level_walks += 1;
            if let Some(terms) = wandered.filter(|t| t.len() == st.rank) {
                if st.pool.len() < self.settings.pool_size {
                    st.pool.push(terms);
                } else {
                    let k = rng.below(st.pool.len());
                    st.pool[k] = terms;
                }
                continue;
            }
            let Some(terms) = found else { continue };
            let r = terms.len();
            if r < st.next_rank {
                st.next_rank = r;
                st.next.clear();
            }
            if r == st.next_rank && st.next.len() < self.settings.pool_size {
                round.best.push(Scheme {
                    shape,
                    terms: terms.clone(),
                });
                st.next.push(terms);
            }
        }
        st.rng = rng.state();
        let best = st.rank.min(st.next_rank);
        round.best.retain(|s| s.rank() == best);
        round.improved = best < before;
        if round.improved {
            (st.stretch, st.stale_walks) = (0, 0);
        } else {
            st.stale_walks += round_walks;
            if st.stale_walks >= self.settings.level_walks {
                st.stretch = (st.stretch + 1).min(STRETCHES);
                st.stale_walks = 0;
            }
        }
        st.flips += round.flips;
        st.rounds += 1;
        let full = st.next.len() >= self.settings.pool_size;
        if !st.next.is_empty() && (full || st.level_walks >= self.settings.level_walks) {
            st.pool = std::mem::take(&mut st.next);
            st.rank = st.next_rank;
            st.level_walks = 0;
        }
        round
    }
}

/// What one walk gave.
pub struct WalkResult<F> {
    /// Its lowest scheme, when its rank went below the pool's.
    pub found: Option<Vec<[F; 3]>>,
    pub flips: u64,
    /// After its path limit: where it ended, when at the pool's rank, or
    /// else the last scheme it came back down to that rank with (a new
    /// member for the pool).
    pub wandered: Option<Vec<[F; 3]>>,
}

/// Steps between looks at `halt`.
const HALT_EVERY: u64 = 1 << 16;

/// One walk from `start` (of rank `rank`): its lowest scheme when its
/// rank went below `rank`, or None after the path limit (or a halt); and
/// the flips made.
fn descend<F: Factor>(
    shape: Shape,
    start: &[[F; 3]],
    rank: usize,
    s: &PoolSettings,
    seed: u64,
    halt: &(dyn Fn() -> bool + Sync),
) -> WalkResult<F> {
    let start = Scheme {
        shape,
        terms: start.to_vec(),
    };
    match s.symmetry {
        Symmetry::None => {
            let mut w = Walker::new(&start, seed);
            w.prefer_reductions(s.draws);
            if s.general_reduction {
                w.enable_general_reduction();
            }
            walk_down(w, rank, s, halt)
        }
        symmetry => match SymmetricWalker::new(&start, symmetry, seed) {
            Ok(w) => walk_down(w, rank, s, halt),
            // Members are checked on the way in; a walk is never made on
            // one that fails.
            Err(_) => WalkResult {
                found: None,
                flips: 0,
                wandered: None,
            },
        },
    }
}

/// Plateaus without a new low after which a walk that went below the
/// pool's rank stops and reports its lowest scheme.
const DESCENT_PLATEAUS: u64 = 4;

/// Walks `w` from the pool's `rank` until its path limit or a halt; a
/// walk that goes below `rank` goes on down while it keeps finding new
/// lows (each within [`DESCENT_PLATEAUS`] plateaus of the last), so one
/// walk descends several ranks instead of the pool refilling at each.
fn walk_down<F: Factor, W: Walk<F>>(
    mut w: W,
    rank: usize,
    s: &PoolSettings,
    halt: &(dyn Fn() -> bool + Sync),
) -> WalkResult<F> {
    // The last scheme the walk came back down to the pool's rank with
    // (after a plus transition): where it wandered, when it ends above.
    let (mut came_back, mut previous) = (None, w.rank());
    let (mut lowest, mut low, mut low_at) = (None, rank, 0u64);
    let leash = s.plateau.saturating_mul(DESCENT_PLATEAUS);
    let mut halted = false;
    w.wander(u64::MAX, s.plateau, s.slack, |w, step| {
        let r = w.rank();
        if r < low {
            (low, low_at) = (r, step);
            lowest = Some(w.scheme().terms);
        }
        if r == rank && previous > rank {
            came_back = Some(w.scheme().terms);
        }
        previous = r;
        let limit = if lowest.is_some() {
            leash
        } else {
            s.path_limit
        };
        if step % HALT_EVERY == HALT_EVERY - 1 && halt() {
            halted = true;
        }
        step - low_at < limit && !halted
    });
    let wandered = if lowest.is_some() || halted || halt() {
        None
    } else if w.rank() == rank {
        Some(w.scheme().terms)
    } else {
        came_back
    };
    WalkResult {
        found: lowest,
        flips: w.flips(),
        wandered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flip::factor::Ternary;
    use crate::flip::scheme::Z2Scheme;
    use crate::problem::{verify, Field};

    fn search(n: usize, threads: usize, rounds: usize) -> PoolSearch<u64> {
        let shape = Shape::new(n, n, n).unwrap();
        let settings = PoolSettings {
            pool_size: 8,
            walks_per_round: 8,
            path_limit: 100_000,
            plateau: 10_000,
            level_walks: 32,
            general_reduction: false,
            symmetry: Symmetry::None,
            slack: usize::MAX,
            draws: 1,
            adaptive: false,
        };
        let mut s = PoolSearch::new(&Z2Scheme::standard(shape).unwrap(), settings, 17).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            for _ in 0..rounds {
                s.round(&|| false);
            }
        });
        s
    }

    #[test]
    fn the_pool_reaches_strassen_rank_and_every_member_holds() {
        let s = search(2, 2, 4);
        assert_eq!(s.best_rank(), 7);
        for terms in s.state.pool.iter().chain(&s.state.next) {
            let scheme = Z2Scheme {
                shape: s.shape,
                terms: terms.clone(),
            };
            assert!(verify(&scheme.to_decomposition(), Field::Z2).is_ok());
        }
    }

    #[test]
    fn over_z_with_ternary_coefficients_the_pool_reaches_strassen_rank() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let settings = PoolSettings {
            pool_size: 4,
            walks_per_round: 4,
            path_limit: 200_000,
            plateau: 5_000,
            level_walks: 16,
            general_reduction: false,
            symmetry: Symmetry::None,
            slack: usize::MAX,
            draws: 1,
            adaptive: false,
        };
        let mut s =
            PoolSearch::new(&Scheme::<Ternary>::standard(shape).unwrap(), settings, 3).unwrap();
        for _ in 0..20 {
            if s.best_rank() == 7 {
                break;
            }
            s.round(&|| false);
        }
        assert_eq!(s.best_rank(), 7);
        let d = s.best().to_decomposition();
        assert_eq!(d.field, Field::Z);
        verify(&d, Field::Z).unwrap();
    }

    /// A walk that made its path limit at the pool's rank joins the pool,
    /// in a member's place once the pool is full; one at another rank
    /// does not.
    #[test]
    fn walks_ending_at_the_pool_rank_join_the_pool() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let settings = PoolSettings {
            pool_size: 2,
            ..PoolSettings::default()
        };
        let start = Z2Scheme::standard(shape).unwrap();
        let mut s = PoolSearch::new(&start, settings, 5).unwrap();
        let rank = s.state.rank;
        let variant = |rotate: usize| {
            let mut t = s.state.pool[0].clone();
            t.rotate_left(rotate);
            t
        };
        let (one, two) = (variant(1), variant(2));
        let ended = |terms: Vec<[u64; 3]>| WalkResult {
            found: None,
            flips: 10,
            wandered: Some(terms),
        };
        s.absorb(vec![ended(one.clone())]);
        assert_eq!(s.state.pool.len(), 2);
        assert!(s.state.pool.contains(&one));
        s.absorb(vec![ended(two.clone())]);
        assert_eq!(s.state.pool.len(), 2, "a full pool stays full");
        assert!(s.state.pool.contains(&two));
        s.absorb(vec![ended(two[..rank - 1].to_vec())]);
        assert!(s.state.pool.iter().all(|t| t.len() == rank));
        assert_eq!(s.state.walks, 3);
    }

    #[test]
    fn adopted_schemes_become_the_pool_only_below_its_rank() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let standard = Scheme::<u64>::standard(shape).unwrap();
        let mut search = PoolSearch::new(&standard, PoolSettings::default(), 3).unwrap();
        assert_eq!(search.best_rank(), 8);
        let strassen = Scheme::<u64>::from_decomposition(&{
            let mut d = crate::problem::Decomposition::strassen();
            d.field = crate::problem::Field::Z2;
            for x in d.u.iter_mut().chain(&mut d.v).chain(&mut d.w).flatten() {
                *x = num_rational::Ratio::from_integer(x.to_integer().rem_euclid(2));
            }
            d
        })
        .unwrap();
        // Not below: nothing changes.
        assert!(!search.adopt(vec![standard.clone()]));
        assert!(search.adopt(vec![standard, strassen.clone()]));
        assert_eq!((search.best_rank(), search.state.pool.len()), (7, 1));
        assert_eq!(search.best().terms, strassen.terms);
        // The walks go on from the adopted rank.
        let round = search.round(&|| false);
        assert!(round.best.iter().all(|s| s.rank() <= 7));
        assert!(search.state.pool.iter().all(|t| t.len() <= 7));
    }

    #[test]
    fn a_run_is_the_same_whatever_the_thread_count() {
        let (one, two) = (search(3, 1, 6), search(3, 2, 6));
        assert_eq!(one.state, two.state);
        assert!(one.best_rank() < 27, "no progress in 6 rounds");
    }

    /// Adaptive limits: a sixteenth of the path limit at first, doubled
    /// after every level's walks without a lower rank, up to 16 times,
    /// and short again when the rank drops.
    #[test]
    fn adaptive_path_limits_grow_on_a_plateau_and_reset_on_a_drop() {
        let shape = Shape::new(2, 2, 2).unwrap();
        let settings = PoolSettings {
            walks_per_round: 8,
            level_walks: 16,
            path_limit: 1_600_000,
            adaptive: true,
            ..PoolSettings::default()
        };
        let start = Z2Scheme::standard(shape).unwrap();
        let mut s = PoolSearch::new(&start, settings, 1).unwrap();
        let nothing = || {
            (0..8)
                .map(|_| WalkResult::<u64> {
                    found: None,
                    flips: 10,
                    wandered: None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(s.path_limit(), 100_000);
        s.absorb(nothing());
        assert_eq!(s.path_limit(), 100_000, "half a level's walks");
        s.absorb(nothing());
        assert_eq!(s.path_limit(), 200_000);
        for _ in 0..40 {
            s.absorb(nothing());
        }
        assert_eq!(s.path_limit(), 25_600_000, "capped at 16 times");
        let mut lower = nothing();
        lower[3].found = Some(start.terms[1..].to_vec());
        assert!(s.absorb(lower).improved);
        assert_eq!(s.path_limit(), 100_000);
        let fixed = PoolSettings {
            adaptive: false,
            ..settings
        };
        let fixed = PoolSearch::new(&start, fixed, 1).unwrap();
        assert_eq!(fixed.path_limit(), 1_600_000);
    }
}
