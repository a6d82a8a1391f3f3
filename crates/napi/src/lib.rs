//! The napi binding: type conversion, JS callbacks and error mapping only. Logic lives in
//! `lumos-core` and `lumos-providers`.

mod batch;
mod embedder;
mod error;
mod js_driven;
mod js_embedder;
mod js_hook;
mod js_model;
mod js_tool;
mod model;
mod pgvector;
mod recall;
mod run;
mod storage;
mod title;
mod vector;
mod workflow;

pub use embedder::BindingEmbedder;
pub use model::BindingModel;
pub use pgvector::BindingPgVector;
pub use recall::BindingSemanticRecall;
pub use run::{BindingRun, BindingToolHost};
pub use storage::BindingStorage;
pub use vector::BindingVectorStore;
pub use workflow::{BindingWorkflow, BindingWorkflowHost, BindingWorkflowRun};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A sized tokio runtime: one worker by default (`LUMOS_WORKER_THREADS` overrides). The loop's
/// native work is short bursts between JS callbacks; measured in bench/, a second worker added
/// ~12% CPU per generate in cross-thread wake-ups and no throughput at 64 concurrent runs.
#[napi_derive::module_init]
fn init() {
  let workers = std::env::var("LUMOS_WORKER_THREADS")
    .ok()
    .and_then(|v| v.parse::<usize>().ok())
    .filter(|n| *n > 0)
    .unwrap_or(1);
  let runtime = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(workers)
    .thread_name("lumos-worker")
    .enable_all()
    .build();
  // On failure napi falls back to its default runtime.
  if let Ok(rt) = runtime {
    napi::bindgen_prelude::create_custom_tokio_runtime(rt);
  }
}
