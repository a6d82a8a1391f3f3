//! The napi binding: type conversion, JS callbacks and error mapping only. Logic lives in
//! `lumos-core` and `lumos-providers`.

mod error;
mod js_hook;
mod js_model;
mod js_tool;
mod model;
mod run;

pub use model::BindingModel;
pub use run::{BindingRun, BindingToolHost};
