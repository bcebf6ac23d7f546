//! Training data and the training loop.

pub mod batch;

pub use batch::synthetic_batch;
