//! TensorGame: actions and their token encoding (DESIGN §2).

pub mod action;

pub use action::ActionEncoding;
