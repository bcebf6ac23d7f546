//! Training data and the training loops.

pub mod batch;
pub mod bench;
pub mod pretrain;
pub mod replay;

pub use batch::synthetic_batch;
pub use batch::Demos;
pub use pretrain::{memory_estimate, open_dir, pretrain, PretrainOptions, Report};
pub use replay::{mixed_batch, BestGame, Mix, Replay, StandardShare};
