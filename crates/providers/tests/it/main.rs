//! Integration tests against a loopback mock server replaying recorded provider responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anthropic;
mod embed;
mod errors;
mod mock;
mod openai;
