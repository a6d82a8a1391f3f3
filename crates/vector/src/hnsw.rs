//! A compact HNSW graph over the slots of a `Storage`. Construction is split into a read-only
//! planning phase (neighbour search) and a short linking phase so that queries and several
//! builder threads can share one `RwLock`.

use crate::storage::{Prepared, Storage};
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

/// Slot not yet processed by a builder.
pub(crate) const NOT_IN: u8 = u8::MAX;
/// Slot processed but not linked (it was deleted before indexing).
pub(crate) const SKIPPED: u8 = u8::MAX - 1;
const MAX_LEVEL: u8 = 16;

/// HNSW parameters.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
  /// Neighbours per node on upper layers (layer 0 keeps 2·m).
  pub m: usize,
  /// Beam width while building.
  pub ef_construction: usize,
  /// Beam width while searching (at least top_k is used).
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

struct Visited {
  marks: Vec<u32>,
  epoch: u32,
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

impl Visited {
  fn reset(&mut self, n: usize) {
    if self.marks.len() < n {
      self.marks.resize(n, 0);
    }
    self.epoch = self.epoch.wrapping_add(1);
    if self.epoch == 0 {
      self.marks.iter_mut().for_each(|m| *m = 0);
      self.epoch = 1;
    }
  }
  #[inline]
  fn insert(&mut self, i: u32) -> bool {
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
  level0: Vec<u32>,
  upper: HashMap<u32, Box<[u32]>>,
  pub levels: Vec<u8>,
  pub entry: Option<u32>,
  pub max_level: u8,
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
      m: params.m.clamp(2, 64),
      ..params
    };
    Graph {
      params,
      m0: params.m * 2,
      level0: Vec::new(),
      upper: HashMap::new(),
      levels: Vec::new(),
      entry: None,
      max_level: 0,
      seed: 0x5EED,
    }
  }

  pub fn ensure(&mut self, n: usize) {
    if self.levels.len() < n {
      self.levels.resize(n, NOT_IN);
      self.level0.resize(n * (self.m0 + 1), 0);
    }
  }

  pub fn is_linked(&self, slot: u32) -> bool {
    self
      .levels
      .get(slot as usize)
      .is_some_and(|l| *l <= MAX_LEVEL)
  }

  pub fn is_done(&self, slot: u32) -> bool {
    self.levels.get(slot as usize).is_some_and(|l| *l != NOT_IN)
  }

  pub fn mark_skipped(&mut self, slot: u32) {
    self.ensure(slot as usize + 1);
    self.levels[slot as usize] = SKIPPED;
  }

  pub fn random_level(&self, slot: u32) -> u8 {
    let r = splitmix(self.seed ^ (slot as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let u = ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let ml = 1.0 / (self.params.m as f64).ln();
    ((-u.ln() * ml).floor() as u64).min(MAX_LEVEL as u64) as u8
  }

  fn neighbors(&self, node: u32, level: u8) -> &[u32] {
    if level == 0 {
      let base = node as usize * (self.m0 + 1);
      match self.level0.get(base) {
        Some(&c) => &self.level0[base + 1..base + 1 + c as usize],
        None => &[],
      }
    } else {
      match self.upper.get(&node) {
        Some(b) => {
          let base = (level as usize - 1) * (self.params.m + 1);
          match b.get(base) {
            Some(&c) => &b[base + 1..base + 1 + c as usize],
            None => &[],
          }
        }
        None => &[],
      }
    }
  }

  fn set_neighbors(&mut self, node: u32, level: u8, list: &[u32]) {
    if level == 0 {
      let base = node as usize * (self.m0 + 1);
      let n = list.len().min(self.m0);
      self.level0[base] = n as u32;
      self.level0[base + 1..base + 1 + n].copy_from_slice(&list[..n]);
    } else {
      let m = self.params.m;
      let top = self
        .levels
        .get(node as usize)
        .copied()
        .unwrap_or(0)
        .min(MAX_LEVEL) as usize;
      let b = self
        .upper
        .entry(node)
        .or_insert_with(|| vec![0u32; top.max(level as usize) * (m + 1)].into_boxed_slice());
      let base = (level as usize - 1) * (m + 1);
      if b.len() < base + m + 1 {
        return;
      }
      let n = list.len().min(m);
      b[base] = n as u32;
      b[base + 1..base + 1 + n].copy_from_slice(&list[..n]);
    }
  }

  fn greedy(&self, dist: &impl Fn(u32) -> f32, mut cur: Cand, level: u8) -> Cand {
    loop {
      let mut changed = false;
      for &nb in self.neighbors(cur.1, level) {
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
  fn search_layer(
    &self,
    dist: &impl Fn(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    eps: &[Cand],
    level: u8,
    ef: usize,
    budget: usize,
  ) -> (Vec<Cand>, bool) {
    VISITED.with(|v| {
      let mut vis = v.borrow_mut();
      vis.reset(self.levels.len());
      let mut cands: BinaryHeap<Reverse<Cand>> = BinaryHeap::new();
      let mut res: BinaryHeap<Cand> = BinaryHeap::new();
      for &c in eps {
        if vis.insert(c.1) {
          cands.push(Reverse(c));
          if accept(c.1) {
            res.push(c);
          }
        }
      }
      let mut evals = 0usize;
      let mut exhausted = false;
      while let Some(Reverse(c)) = cands.pop() {
        if res.len() >= ef && res.peek().is_some_and(|w| c.0 > w.0) {
          break;
        }
        for &nb in self.neighbors(c.1, level) {
          if !vis.insert(nb) {
            continue;
          }
          let d = dist(nb);
          evals += 1;
          let worst = if res.len() >= ef {
            res.peek().map_or(f32::INFINITY, |w| w.0)
          } else {
            f32::INFINITY
          };
          if d < worst || res.len() < ef {
            cands.push(Reverse(Cand(d, nb)));
            if accept(nb) {
              res.push(Cand(d, nb));
              if res.len() > ef {
                res.pop();
              }
            }
          }
        }
        if budget > 0 && evals > budget {
          exhausted = true;
          break;
        }
      }
      let mut out = res.into_vec();
      out.sort();
      (out, exhausted)
    })
  }

  /// hnswlib's neighbour-selection heuristic.
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

  /// Phase 1 (read access): choose neighbours for `node`.
  pub fn plan(&self, st: &Storage, node: u32) -> Plan {
    let level = self.random_level(node);
    let Some(ep) = self.entry else {
      return Plan {
        node,
        level,
        had_entry: false,
        layers: Vec::new(),
      };
    };
    let p: Prepared = st.prepare_slot(node);
    let dist = |s: u32| st.dist(&p, s);
    let linked = |s: u32| self.is_linked(s);
    let mut cur = Cand(dist(ep), ep);
    let mut l = self.max_level;
    while l > level {
      cur = self.greedy(&dist, cur, l);
      l -= 1;
    }
    let top = level.min(self.max_level);
    let mut layers = vec![Vec::new(); top as usize + 1];
    let mut eps = vec![cur];
    for lc in (0..=top).rev() {
      let (w, _) = self.search_layer(&dist, &linked, &eps, lc, self.params.ef_construction, 0);
      let w: Vec<Cand> = w.into_iter().filter(|c| c.1 != node).collect();
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

  /// Phase 2 (write access): link a planned node. Returns false when the plan is stale (the
  /// graph got its first node meanwhile) and must be redone.
  pub fn link(&mut self, st: &Storage, plan: Plan) -> bool {
    if !plan.had_entry && self.entry.is_some() {
      return false;
    }
    let node = plan.node;
    self.ensure(node as usize + 1);
    self.levels[node as usize] = plan.level;
    if plan.level > 0 {
      let m = self.params.m;
      self.upper.insert(
        node,
        vec![0u32; plan.level as usize * (m + 1)].into_boxed_slice(),
      );
    }
    for (lc, list) in plan.layers.iter().enumerate() {
      let lc = lc as u8;
      self.set_neighbors(node, lc, list);
      let cap = if lc == 0 { self.m0 } else { self.params.m };
      for &nb in list {
        let mut cur: Vec<u32> = self.neighbors(nb, lc).to_vec();
        if cur.contains(&node) {
          continue;
        }
        if cur.len() < cap {
          cur.push(node);
        } else {
          let mut cands: Vec<Cand> = cur.iter().map(|&x| Cand(st.node_dist(nb, x), x)).collect();
          let dn = st.node_dist(nb, node);
          cands.push(Cand(dn, node));
          cands.sort();
          cur = self.select(st, &cands, cap);
        }
        self.set_neighbors(nb, lc, &cur);
      }
    }
    if self.entry.is_none() || plan.level > self.max_level {
      self.entry = Some(node);
      self.max_level = plan.level;
    }
    true
  }

  /// Search: nodes accepted by `accept`, closest first, at most `ef`.
  pub fn search(
    &self,
    dist: &impl Fn(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    ef: usize,
    budget: usize,
  ) -> (Vec<Cand>, bool) {
    let Some(ep) = self.entry else {
      return (Vec::new(), false);
    };
    let mut cur = Cand(dist(ep), ep);
    let mut l = self.max_level;
    while l > 0 {
      cur = self.greedy(dist, cur, l);
      l -= 1;
    }
    self.search_layer(dist, accept, &[cur], 0, ef, budget)
  }

  pub fn heap_bytes(&self) -> usize {
    self.level0.capacity() * 4
      + self.levels.capacity()
      + self.upper.values().map(|b| b.len() * 4 + 48).sum::<usize>()
  }
}
