//! The body of each command, one file each; `main.rs` parses and dispatches.

pub mod bench;
pub mod cluster;
pub mod common;
pub mod convert;
pub mod devices;
pub mod export;
pub mod flip;
pub mod info;
pub mod matmul;
pub mod output;
pub mod pretrain;
pub mod search;
pub mod table;
pub mod verify;
