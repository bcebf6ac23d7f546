//! The mathematics: shapes, fields, the tensor T, decompositions, exact
//! verification, decomposition files, reference ranks and code export.

pub mod decomposition;
pub mod export;
pub mod field;
pub mod formats;
pub mod json;
pub mod meta;
pub mod reference;
pub mod shape;
pub mod verify;

pub use decomposition::Decomposition;
pub use field::{Coeff, Field};
pub use shape::Shape;
pub use verify::{verify, VerifyFailure};
