//! Training data and the training loops.

pub mod batch;
pub mod pretrain;

pub use batch::synthetic_batch;
pub use pretrain::{pretrain, PretrainOptions, Report};
