//! The search (docs/design.md §5): sampled MCTS over TensorGame, batched self-play
//! against the network, and the rank bound charged at the step limit.

pub mod actions;
pub mod actor_pool;
pub mod archive;
pub mod bench;
pub mod expert;
pub mod greedy;
pub mod imitation;
pub mod noise;
pub mod plot;
pub mod rank_bound;
pub mod role;
pub mod run;
pub mod selfplay;
pub mod tree;

pub use crate::game::record::{FinishedGame, Move};
pub use selfplay::{SelfPlay, SelfPlayConfig, SelfPlayCounters};
pub use tree::{MctsConfig, Tree};
