//! What the flow and request contexts both reason with, and nothing else: who a condition
//! matches, how long a span is, and how approval works. Pure data and rules; no I/O, no
//! storage, no wire format (the contracts carry these as protobuf messages).
#![forbid(unsafe_code)]

pub mod approval;
pub mod conditions;
pub mod duration;
pub mod unmet;
