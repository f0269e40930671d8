//! The flow context: self-serve and automatic access flows, their validation and evaluation.
#![forbid(unsafe_code)]

pub mod domain;
