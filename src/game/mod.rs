//! TensorGame: actions and their token encoding, changes of basis,
//! synthetic demonstrations and the state the network sees (docs/design.md §2, §4).

pub mod action;
pub mod basis;
pub mod demo;
pub mod record;
pub mod state;
pub mod symmetry;

pub use action::ActionEncoding;
pub use basis::{Basis, Unimodular};
pub use demo::{random_demonstration, Demonstration, Example};
pub use record::{FinishedGame, Move};
pub use state::GameConfig;
