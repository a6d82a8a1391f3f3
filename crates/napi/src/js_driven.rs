//! Futures polled on the JS thread while JS hands them what they wait for.
//!
//! A workflow run is one future that alternates between the engine (schedule the next step,
//! write its record) and a JS step body. On tokio every step costs two thread wake-ups (tokio →
//! JS through the threadsafe function, JS → tokio through the answer's channel), more than the
//! engine's work. A [`JsDriven`] task is instead polled right where JS answers: inside
//! `answer()`, on the JS thread, within a [`drive`] scope; the step calls it makes there are
//! collected (`outbox`) and handed back to JS as `answer()`'s return value instead of going
//! through the threadsafe function. Whatever else wakes it (a timer, a storage write that had
//! to queue, PostgreSQL I/O) wakes it on another thread, where it is polled on tokio as before.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

type Task = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const RUNNING: u8 = 2;
/// Woken while being polled: poll again before going idle.
const NOTIFIED: u8 = 3;
const DONE: u8 = 4;

/// What a [`drive`] scope collects on the JS thread.
#[derive(Default)]
struct Scope {
  ready: Vec<Arc<JsDriven>>,
  outbox: Vec<String>,
}

thread_local! {
  /// Set only on the JS thread, only inside `drive`.
  static SCOPE: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

pub struct JsDriven {
  task: Mutex<Option<Task>>,
  state: AtomicU8,
  rt: tokio::runtime::Handle,
}

impl Wake for JsDriven {
  fn wake(self: Arc<Self>) {
    self.schedule();
  }

  fn wake_by_ref(self: &Arc<Self>) {
    self.clone().schedule();
  }
}

impl JsDriven {
  /// Starts `task`: its first poll happens in the current `drive` scope (the caller is on the
  /// JS thread, in `drive`), else on tokio (`rt`, which also polls it whenever it is woken
  /// outside a scope).
  pub fn spawn(rt: tokio::runtime::Handle, task: impl Future<Output = ()> + Send + 'static) {
    let driven = Arc::new(JsDriven {
      task: Mutex::new(Some(Box::pin(task))),
      state: AtomicU8::new(IDLE),
      rt,
    });
    driven.schedule();
  }

  fn schedule(self: Arc<Self>) {
    let mut current = self.state.load(Ordering::Acquire);
    loop {
      let next = match current {
        IDLE => SCHEDULED,
        RUNNING => NOTIFIED,
        _ => return,
      };
      match self
        .state
        .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
      {
        Ok(_) if next == SCHEDULED => break,
        Ok(_) => return,
        Err(actual) => current = actual,
      }
    }
    let this = match SCOPE.with(|s| match s.borrow_mut().as_mut() {
      Some(scope) => {
        scope.ready.push(self.clone());
        None
      }
      None => Some(self),
    }) {
      Some(this) => this,
      None => return,
    };
    let rt = this.rt.clone();
    rt.spawn(async move { this.run() });
  }

  fn run(self: Arc<Self>) {
    self.state.store(RUNNING, Ordering::Release);
    let waker = Waker::from(self.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
      let done = {
        let mut slot = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        let done = match slot.as_mut() {
          // A panicking poll ends the task (its result channel closes, which the waiting side
          // reports) instead of unwinding into JS.
          Some(task) => {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.as_mut().poll(&mut cx)))
              .map_or(true, |p| matches!(p, Poll::Ready(())))
          }
          None => true,
        };
        if done {
          *slot = None;
        }
        done
      };
      if done {
        self.state.store(DONE, Ordering::Release);
        return;
      }
      if self
        .state
        .compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
      {
        return;
      }
      // NOTIFIED during the poll.
      self.state.store(RUNNING, Ordering::Release);
    }
  }
}

/// Runs `f` on the JS thread as a drive scope: tasks it wakes are polled here, after it, until
/// none is ready; the step calls they make are returned (JSON texts, in call order).
pub fn drive<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
  let nested = SCOPE.with(|s| {
    let mut s = s.borrow_mut();
    if s.is_some() {
      return true;
    }
    *s = Some(Scope::default());
    false
  });
  if nested {
    return (f(), Vec::new());
  }
  let out = napi::bindgen_prelude::within_runtime_if_available(|| {
    let out = f();
    while let Some(ready) = SCOPE.with(|s| s.borrow_mut().as_mut().and_then(|s| s.ready.pop())) {
      ready.run();
    }
    out
  });
  let outbox = SCOPE
    .with(|s| s.borrow_mut().take())
    .map(|s| s.outbox)
    .unwrap_or_default();
  (out, outbox)
}

/// Puts a step call in the current drive scope's outbox; gives it back when there is no scope
/// (not the JS thread, or not inside `drive`).
pub fn post(call: String) -> Result<(), String> {
  SCOPE.with(|s| match s.borrow_mut().as_mut() {
    Some(scope) => {
      scope.outbox.push(call);
      Ok(())
    }
    None => Err(call),
  })
}

/// Step calls as the facade takes them: a JSON array, or `None` when there are none.
pub fn call_batch(calls: Vec<String>) -> Option<String> {
  (!calls.is_empty()).then(|| format!("[{}]", calls.join(",")))
}
