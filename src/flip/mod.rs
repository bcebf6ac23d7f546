//! Flip-graph local search (Kauers and Moosbauer, 2022): a random walk over
//! decompositions of the same tensor. A *flip* rewrites two terms that
//! share a factor (up to sign over Z),
//! x⊗y₁⊗z₁ + x⊗y₂⊗z₂ = x⊗(y₁+y₂)⊗z₁ + x⊗y₂⊗(z₂−z₁), in any of the three
//! roles; a *reduction* drops a term whose factor became zero, or merges
//! two terms that share two factors (rank − 1); a *plus transition* splits
//! two terms into three (rank + 1) to leave a plateau. Every step keeps
//! the sum of the terms, so a scheme stays a decomposition.
//!
//! [`factor`] holds the arithmetic (Z2, or Z with bounded coefficients, on
//! bit-packed factors), [`walker`] one walk, [`pool`] the strategy that
//! `flip` runs ([`run`]) on all threads (and `search` runs beside its
//! actors), and [`lift`] Hensel lifting from Z2 to Z or Q.

pub mod bench;
pub mod factor;
pub mod gpu;
pub mod index;
pub mod lift;
pub mod pool;
pub mod rng;
pub mod run;
pub mod scheme;
pub mod symmetric;
pub mod table;
pub mod walker;
