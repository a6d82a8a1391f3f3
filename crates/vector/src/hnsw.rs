//! A compact HNSW graph over the slots of a `Storage`.
//!
//! Concurrency: structural changes (growing the arrays, reserving a node's upper-layer lists)
//! need `&mut self` (the index's write lock, taken briefly when a builder claims slots).
//! Inserting a claimed node (`plan` + `link`) and searching need only `&self`, so several
//! builder threads and queries run together under the read lock. Neighbour lists are arrays of
//! `AtomicU32` (plain loads and stores on x86/ARM); a writer holds the node's stripe lock, and a
//! reader may see a list mid-rewrite — every id it can read is still a node of that layer, which
//! is all a search needs (hnswlib makes the same trade).

use crate::storage::{Prepared, Storage};
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering as AO};
use std::sync::{Mutex, MutexGuard};

/// Slot not yet processed by a builder.
pub(crate) const NOT_IN: u8 = u8::MAX;
/// Slot processed but not linked (it was deleted before indexing).
pub(crate) const SKIPPED: u8 = u8::MAX - 1;
const MAX_LEVEL: u8 = 16;
/// `top` before the first node is linked.
const EMPTY: u64 = u64::MAX;
/// Lock stripes for neighbour-list writers (a lock per node would cost memory for nothing:
/// two writers rarely meet on the same stripe).
const STRIPES: usize = 1024;
/// Upper bound of a list length (m ≤ 64, so layer 0 ≤ 128).
const MAX_LIST: usize = 128;

/// HNSW parameters.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
  /// Neighbours per node on upper layers (layer 0 keeps 2·m).
  pub m: usize,
  /// Beam width while building.
  pub ef_construction: usize,
  /// Beam width while searching up to 100,000 vectors (at least top_k is used; larger indexes
  /// widen it, see `auto_ef`).
  pub ef_search: usize,
}

impl Default for HnswParams {
  fn default() -> Self {
    HnswParams {
      m: 16,
      ef_construction: 100,
      ef_search: 96,
    }
  }
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Cand(pub f32, pub u32);
impl Eq for Cand {}
impl PartialOrd for Cand {
  fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
    Some(self.cmp(other))
  }
}
impl Ord for Cand {
  fn cmp(&self, other: &Self) -> Ordering {
    self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
  }
}

/// Per-thread search scratch, reused so a search allocates only its result.
struct Scratch {
  /// Visited marks, one byte per node (a search thread keeps one of these per graph size: 1 MB
  /// at a million nodes); cleared every 255 searches when the epoch wraps.
  marks: Vec<u8>,
  epoch: u8,
  cands: BinaryHeap<Reverse<Cand>>,
  res: BinaryHeap<Cand>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
      RefCell::new(Scratch { marks: Vec::new(), epoch: 0, cands: BinaryHeap::new(), res: BinaryHeap::new() })
    };
}

impl Scratch {
  fn reset(&mut self, n: usize) {
    if self.marks.len() < n {
      self.marks.resize(n, 0);
    }
    self.epoch = self.epoch.wrapping_add(1);
    if self.epoch == 0 {
      self.marks.fill(0);
      self.epoch = 1;
    }
    self.cands.clear();
    self.res.clear();
  }
  /// Marks `i` visited; false when it already was (or is out of range).
  #[inline]
  fn visit(&mut self, i: u32) -> bool {
    match self.marks.get_mut(i as usize) {
      Some(m) if *m != self.epoch => {
        *m = self.epoch;
        true
      }
      _ => false,
    }
  }
}

pub(crate) struct Graph {
  pub params: HnswParams,
  m0: usize,
  /// Layer 0: per node `[count, ids × m0]`.
  level0: Vec<AtomicU32>,
  /// Nodes above layer 0 → offset of their `[count, ids × m]` blocks (layers 1..=level) in
  /// `upper`. Reserved when a builder claims the node, so linking never grows it.
  upper_at: HashMap<u32, (usize, u8)>,
  upper: Vec<AtomicU32>,
  levels: Vec<AtomicU8>,
  /// Entry node << 8 | its level (the graph's top layer), or `EMPTY`.
  top: AtomicU64,
  locks: Box<[Mutex<()>]>,
  seed: u64,
}

/// The neighbour lists chosen for a new node, per layer.
pub(crate) struct Plan {
  pub node: u32,
  pub level: u8,
  pub had_entry: bool,
  pub layers: Vec<Vec<u32>>,
}

fn splitmix(mut x: u64) -> u64 {
  x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
  x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
  x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
  x ^ (x >> 31)
}

impl Graph {
  pub fn new(params: HnswParams) -> Self {
    let params = HnswParams {
      m: params.m.clamp(2, MAX_LIST / 2),
      ..params
    };
    Graph {
      params,
      m0: params.m * 2,
      level0: Vec::new(),
      upper_at: HashMap::new(),
      upper: Vec::new(),
      levels: Vec::new(),
      top: AtomicU64::new(EMPTY),
      locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
      seed: 0x5EED,
    }
  }

  /// Grow to `n` slots (write lock).
  pub fn ensure(&mut self, n: usize) {
    if self.levels.len() < n {
      self.levels.resize_with(n, || AtomicU8::new(NOT_IN));
      self
        .level0
        .resize_with(n * (self.m0 + 1), || AtomicU32::new(0));
    }
  }

  /// Reserve `slot`'s upper-layer lists before it is linked (write lock).
  pub fn claim(&mut self, slot: u32) {
    self.ensure(slot as usize + 1);
    let level = self.random_level(slot) as usize;
    if level > 0 && !self.upper_at.contains_key(&slot) {
      self.upper_at.insert(slot, (self.upper.len(), level as u8));
      let len = self.upper.len() + level * (self.params.m + 1);
      self.upper.resize_with(len, || AtomicU32::new(0));
    }
  }

  pub fn is_linked(&self, slot: u32) -> bool {
    self
      .levels
      .get(slot as usize)
      .is_some_and(|l| l.load(AO::Acquire) <= MAX_LEVEL)
  }

  pub fn is_done(&self, slot: u32) -> bool {
    self
      .levels
      .get(slot as usize)
      .is_some_and(|l| l.load(AO::Acquire) != NOT_IN)
  }

  pub fn mark_skipped(&mut self, slot: u32) {
    self.ensure(slot as usize + 1);
    if let Some(l) = self.levels.get(slot as usize) {
      l.store(SKIPPED, AO::Release);
    }
  }

  pub fn random_level(&self, slot: u32) -> u8 {
    let r = splitmix(self.seed ^ (slot as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let u = ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let ml = 1.0 / (self.params.m as f64).ln();
    ((-u.ln() * ml).floor() as u64).min(MAX_LEVEL as u64) as u8
  }

  fn top(&self) -> Option<(u32, u8)> {
    match self.top.load(AO::Acquire) {
      EMPTY => None,
      t => Some(((t >> 8) as u32, t as u8)),
    }
  }

  /// The `[count, ids…]` block of a node's list on a layer (empty when it has none).
  #[inline]
  fn block(&self, node: u32, level: u8) -> &[AtomicU32] {
    if level == 0 {
      let base = node as usize * (self.m0 + 1);
      self.level0.get(base..base + self.m0 + 1).unwrap_or(&[])
    } else {
      let m = self.params.m;
      match self.upper_at.get(&node) {
        Some(&(at, top)) if top >= level => {
          let base = at + (level as usize - 1) * (m + 1);
          self.upper.get(base..base + m + 1).unwrap_or(&[])
        }
        _ => &[],
      }
    }
  }

  /// Copy a neighbour list into `buf`; returns its length.
  #[inline]
  fn read_list(&self, node: u32, level: u8, buf: &mut [u32; MAX_LIST]) -> usize {
    let b = self.block(node, level);
    let Some((c, ids)) = b.split_first() else {
      return 0;
    };
    // Acquire pairs with the writer's Release: the ids below `count` are written.
    let n = (c.load(AO::Acquire) as usize).min(ids.len());
    for (dst, src) in buf.iter_mut().zip(&ids[..n]) {
      *dst = src.load(AO::Relaxed);
    }
    n
  }

  /// Overwrite a neighbour list (caller holds the node's stripe lock).
  fn write_list(&self, node: u32, level: u8, list: &[u32]) {
    let b = self.block(node, level);
    let Some((c, ids)) = b.split_first() else {
      return;
    };
    let n = list.len().min(ids.len());
    for (dst, src) in ids.iter().zip(&list[..n]) {
      dst.store(*src, AO::Relaxed);
    }
    c.store(n as u32, AO::Release);
  }

  fn lock(&self, node: u32) -> MutexGuard<'_, ()> {
    self.locks[node as usize % STRIPES]
      .lock()
      .unwrap_or_else(|e| e.into_inner())
  }

  fn greedy(&self, dist: &impl Fn(u32) -> f32, mut cur: Cand, level: u8) -> Cand {
    let mut buf = [0u32; MAX_LIST];
    loop {
      let mut changed = false;
      let n = self.read_list(cur.1, level, &mut buf);
      for &nb in &buf[..n] {
        let d = dist(nb);
        if d < cur.0 {
          cur = Cand(d, nb);
          changed = true;
        }
      }
      if !changed {
        return cur;
      }
    }
  }

  /// Beam search on one layer. Returns accepted nodes, closest first. `budget` bounds the number
  /// of distance evaluations (0 = unbounded); the bool says whether it was exhausted.
  #[allow(clippy::too_many_arguments)]
  fn search_layer(
    &self,
    st: &Storage,
    dist: &impl Fn(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    eps: &[Cand],
    level: u8,
    ef: usize,
    budget: usize,
  ) -> (Vec<Cand>, bool) {
    SCRATCH.with(|s| {
      let mut guard = s.borrow_mut();
      let sc = &mut *guard;
      sc.reset(self.levels.len());
      for &c in eps {
        if sc.visit(c.1) {
          sc.cands.push(Reverse(c));
          if accept(c.1) {
            sc.res.push(c);
          }
        }
      }
      let mut evals = 0usize;
      let mut exhausted = false;
      let mut buf = [0u32; MAX_LIST];
      let mut fresh = [0u32; MAX_LIST];
      while let Some(Reverse(c)) = sc.cands.pop() {
        if sc.res.len() >= ef && sc.res.peek().is_some_and(|w| c.0 > w.0) {
          break;
        }
        let n = self.read_list(c.1, level, &mut buf);
        // Unvisited neighbours first, with their vectors prefetched, then the distances: the
        // memory loads overlap instead of stalling one after another.
        let mut k = 0;
        for &nb in &buf[..n] {
          if sc.visit(nb) {
            st.prefetch(nb);
            fresh[k] = nb;
            k += 1;
          }
        }
        for &nb in &fresh[..k] {
          let d = dist(nb);
          evals += 1;
          let full = sc.res.len() >= ef;
          if !full || sc.res.peek().is_some_and(|w| d < w.0) {
            sc.cands.push(Reverse(Cand(d, nb)));
            if accept(nb) {
              sc.res.push(Cand(d, nb));
              if sc.res.len() > ef {
                sc.res.pop();
              }
            }
          }
        }
        if budget > 0 && evals > budget {
          exhausted = true;
          break;
        }
      }
      let mut out: Vec<Cand> = sc.res.drain().collect();
      out.sort();
      (out, exhausted)
    })
  }

  /// hnswlib's neighbour-selection heuristic: keep a candidate only if it is closer to the base
  /// than to every neighbour kept so far (spreads the links over directions).
  fn select(&self, st: &Storage, sorted: &[Cand], m: usize) -> Vec<u32> {
    let mut out: Vec<Cand> = Vec::with_capacity(m);
    for &c in sorted {
      if out.len() >= m {
        break;
      }
      if out.iter().all(|r| st.node_dist(c.1, r.1) >= c.0) {
        out.push(c);
      }
    }
    out.into_iter().map(|c| c.1).collect()
  }

  /// Phase 1: choose neighbours for `node` (claimed, not linked).
  pub fn plan(&self, st: &Storage, node: u32) -> Plan {
    let level = self.random_level(node);
    let Some((ep, max_level)) = self.top() else {
      return Plan {
        node,
        level,
        had_entry: false,
        layers: Vec::new(),
      };
    };
    let p: Prepared = st.prepare_slot(node);
    let dist = |s: u32| st.dist(&p, s);
    let linked = |s: u32| s != node && self.is_linked(s);
    let mut cur = Cand(dist(ep), ep);
    let mut l = max_level;
    while l > level {
      cur = self.greedy(&dist, cur, l);
      l -= 1;
    }
    let top = level.min(max_level);
    let mut layers = vec![Vec::new(); top as usize + 1];
    let mut eps = vec![cur];
    for lc in (0..=top).rev() {
      let (w, _) = self.search_layer(st, &dist, &linked, &eps, lc, self.params.ef_construction, 0);
      layers[lc as usize] = self.select(st, &w, self.params.m);
      if !w.is_empty() {
        eps = w;
      }
    }
    Plan {
      node,
      level,
      had_entry: true,
      layers,
    }
  }

  /// Phase 2: link a planned node. Returns false when the plan is stale (it was made on an
  /// empty graph that meanwhile got its first node) and must be redone.
  pub fn link(&self, st: &Storage, plan: Plan) -> bool {
    let node = plan.node;
    let Some(level_cell) = self.levels.get(node as usize) else {
      return true;
    };
    if !plan.had_entry {
      let me = ((node as u64) << 8) | plan.level as u64;
      if self
        .top
        .compare_exchange(EMPTY, me, AO::AcqRel, AO::Acquire)
        .is_err()
      {
        return false;
      }
      level_cell.store(plan.level, AO::Release);
      return true;
    }
    {
      let _g = self.lock(node);
      for (lc, list) in plan.layers.iter().enumerate() {
        self.write_list(node, lc as u8, list);
      }
    }
    let mut buf = [0u32; MAX_LIST];
    for (lc, list) in plan.layers.iter().enumerate() {
      let lc = lc as u8;
      let cap = if lc == 0 { self.m0 } else { self.params.m };
      for &nb in list {
        let _g = self.lock(nb);
        let n = self.read_list(nb, lc, &mut buf);
        let cur = &buf[..n];
        if cur.contains(&node) {
          continue;
        }
        if n < cap {
          buf[n] = node;
          self.write_list(nb, lc, &buf[..n + 1]);
        } else {
          let mut cands: Vec<Cand> = cur.iter().map(|&x| Cand(st.node_dist(nb, x), x)).collect();
          cands.push(Cand(st.node_dist(nb, node), node));
          cands.sort();
          let kept = self.select(st, &cands, cap);
          self.write_list(nb, lc, &kept);
        }
      }
    }
    level_cell.store(plan.level, AO::Release);
    // A node above the current top layer becomes the entry point.
    let me = ((node as u64) << 8) | plan.level as u64;
    let mut cur = self.top.load(AO::Acquire);
    while cur == EMPTY || (cur as u8) < plan.level {
      match self
        .top
        .compare_exchange_weak(cur, me, AO::AcqRel, AO::Acquire)
      {
        Ok(_) => break,
        Err(now) => cur = now,
      }
    }
    true
  }

  /// Search: nodes accepted by `accept`, closest first, at most `ef`.
  pub fn search(
    &self,
    st: &Storage,
    dist: &impl Fn(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    ef: usize,
    budget: usize,
  ) -> (Vec<Cand>, bool) {
    let Some((ep, max_level)) = self.top() else {
      return (Vec::new(), false);
    };
    let mut cur = Cand(dist(ep), ep);
    let mut l = max_level;
    while l > 0 {
      cur = self.greedy(dist, cur, l);
      l -= 1;
    }
    self.search_layer(st, dist, accept, &[cur], 0, ef, budget)
  }

  pub fn heap_bytes(&self) -> usize {
    self.level0.capacity() * 4
      + self.levels.capacity()
      + self.upper.capacity() * 4
      + self.upper_at.capacity() * 16
  }
}
