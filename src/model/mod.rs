//! The AlphaTensor network (docs/design.md §3): configuration, the flat parameter
//! buffer, layers, and the torso, policy and value heads.

pub mod adamw;
pub mod checkpoint;
pub mod config;
pub mod incremental;
pub mod inference;
pub mod layers;
pub mod memory;
pub mod network;
pub mod params;
pub mod policy;
pub mod torso;
pub mod value;

pub use config::ModelConfig;
pub use inference::{Evaluation, Evaluator, LeafUpdates};
pub use network::{Batch, Network, StepStats};
pub use params::{Init, ParamLayout};
