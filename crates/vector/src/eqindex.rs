//! Equality index over top-level scalar metadata fields: field → value → sorted slot list.
//!
//! Lets `{ field: value }` / `$in` filters find their candidate slots without decoding every
//! slot's JSON metadata. Exactness rules:
//! - A slot is listed under `(field, v)` iff its metadata's top-level `field` is the scalar `v`
//!   or an array holding the scalar `v` (exactly the slots `Cond::Eq(v)` matches, since a scalar
//!   never equals an object, array or null). Numbers are keyed by their f64 value, like
//!   `json_eq` compares them.
//! - Killed slots may stay listed (removal is lazy, purged in bulk); callers drop slots whose id
//!   is gone. Slots whose metadata changes in place are removed eagerly.
//! - A field with too many distinct values (ids: one list per vector would cost too much
//!   memory) becomes a column of value hashes, one `u64` per slot: a query on it scans the
//!   column (8 bytes a slot, no JSON decoded) and checks the few candidates' metadata, since
//!   hashes can collide. Fields beyond the field cap are not indexed; their queries use the
//!   normal path.

use crate::filter::{Cond, Filter};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Below this many distinct values a field is always indexed.
const MIN_DISTINCT: usize = 4096;
/// At most this many fields are tracked per index.
const MAX_FIELDS: usize = 64;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
  Str(Box<str>),
  Num(u64),
  Bool(bool),
}

impl Key {
  pub(crate) fn of(v: &Value) -> Option<Key> {
    match v {
      Value::String(s) => Some(Key::Str(s.as_str().into())),
      Value::Bool(b) => Some(Key::Bool(*b)),
      Value::Number(n) => {
        let f = n.as_f64()?;
        // -0.0 == 0.0 for json_eq, so they share a key.
        Some(Key::Num(if f == 0.0 { 0 } else { f.to_bits() }))
      }
      _ => None,
    }
  }
}

enum FieldIx {
  On(HashMap<Key, Vec<u32>>),
  /// Per slot: 0 = no scalar value, `MULTI` = an array of several (decided by decoding),
  /// else the hash of its one value (`key_hash`).
  Column(Vec<u64>),
}

const NONE: u64 = 0;
const MULTI: u64 = 1;

/// A slot's column entry for its keys.
fn column_entry(keys: &[Key]) -> u64 {
  match keys {
    [] => NONE,
    [k] => key_hash(k),
    _ => MULTI,
  }
}

/// Stable within the process (fixed SipHash keys); never NONE or MULTI.
fn key_hash(k: &Key) -> u64 {
  use std::hash::{Hash, Hasher};
  let mut h = std::hash::DefaultHasher::new();
  k.hash(&mut h);
  h.finish().max(2)
}

/// The column entry of `slot`, growing the column to reach it.
fn column_cell(col: &mut Vec<u64>, slot: u32) -> &mut u64 {
  let i = slot as usize;
  if col.len() <= i {
    col.resize(i + 1, NONE);
  }
  &mut col[i]
}

/// Candidates of `{ field: v }` / `$in` from a hash column: slots whose one value hashes like
/// a wanted value, plus those holding several values (all to be checked).
fn column_slots(col: &[u64], cond: &Cond) -> Option<Vec<u32>> {
  let values: &[Value] = match cond {
    Cond::Eq(v) => std::slice::from_ref(v),
    Cond::In(list) => list,
    _ => return None,
  };
  let mut wanted: Vec<u64> = values
    .iter()
    .map(|v| Key::of(v).map(|k| key_hash(&k)))
    .collect::<Option<_>>()?;
  wanted.sort_unstable();
  wanted.dedup();
  let hit = |h: u64| h == MULTI || (h != NONE && wanted.binary_search(&h).is_ok());
  Some(
    col
      .iter()
      .enumerate()
      .filter(|&(_, &h)| hit(h))
      .map(|(s, _)| s as u32)
      .collect(),
  )
}

#[derive(Default)]
pub(crate) struct EqIndex {
  fields: HashMap<Box<str>, FieldIx>,
  /// Set once a field was refused for the cap: unknown fields are then not known to be absent.
  overflow: bool,
  /// Kills since the last purge (their entries are still listed).
  stale: usize,
}

/// The indexed keys of one slot's metadata, per top-level field (sorted, deduplicated).
fn keys_of(meta: &Value) -> Vec<(&str, Vec<Key>)> {
  let Value::Object(m) = meta else {
    return Vec::new();
  };
  let mut out = Vec::with_capacity(m.len());
  for (k, v) in m {
    let mut keys: Vec<Key> = match v {
      Value::Array(items) => items.iter().filter_map(Key::of).collect(),
      v => Key::of(v).into_iter().collect(),
    };
    if keys.len() > 1 {
      // Order only matters for dedup.
      keys.sort_by(|a, b| key_ord(a).cmp(&key_ord(b)));
      keys.dedup();
    }
    out.push((k.as_str(), keys));
  }
  out
}

fn key_ord(k: &Key) -> (u8, u64, &str) {
  match k {
    Key::Str(s) => (0, 0, s),
    Key::Num(n) => (1, *n, ""),
    Key::Bool(b) => (2, *b as u64, ""),
  }
}

/// A candidate set from the index.
pub(crate) struct Plan<'a> {
  /// Sorted, deduplicated slots (may include killed slots); borrowed when one list answers,
  /// so a query matching 100k slots copies nothing.
  pub slots: Cow<'a, [u32]>,
  /// Whether the whole filter is decided by the index (no need to evaluate it on candidates).
  pub exact: bool,
}

impl EqIndex {
  pub(crate) fn add(&mut self, slot: u32, meta: &Value, live: usize) {
    for (field, keys) in keys_of(meta) {
      if keys.is_empty() {
        continue;
      }
      let fx = match self.fields.get_mut(field) {
        Some(fx) => fx,
        None => {
          if self.fields.len() >= MAX_FIELDS {
            self.overflow = true;
            continue;
          }
          self
            .fields
            .entry(field.into())
            .or_insert_with(|| FieldIx::On(HashMap::new()))
        }
      };
      let map = match fx {
        FieldIx::On(map) => map,
        FieldIx::Column(col) => {
          *column_cell(col, slot) = column_entry(&keys);
          continue;
        }
      };
      for k in keys {
        let list = map.entry(k).or_default();
        match list.last() {
          Some(&l) if l >= slot => {
            if let Err(i) = list.binary_search(&slot) {
              list.insert(i, slot);
            }
          }
          _ => list.push(slot),
        }
      }
      // Near-unique fields (ids) would cost a list per vector: a hash column instead.
      if map.len() > MIN_DISTINCT && map.len() > live / 2 {
        let mut col: Vec<u64> = Vec::new();
        for (k, slots) in map.iter() {
          let h = key_hash(k);
          for &s in slots {
            let cell = column_cell(&mut col, s);
            // A second value for the slot: it holds an array.
            *cell = if *cell == NONE { h } else { MULTI };
          }
        }
        *fx = FieldIx::Column(col);
      }
    }
  }

  /// Remove `slot`, whose metadata was `meta`, from its lists (metadata changing in place).
  pub(crate) fn remove(&mut self, slot: u32, meta: &Value) {
    for (field, keys) in keys_of(meta) {
      let map = match self.fields.get_mut(field) {
        Some(FieldIx::On(map)) => map,
        Some(FieldIx::Column(col)) => {
          if let Some(e) = col.get_mut(slot as usize) {
            *e = NONE;
          }
          continue;
        }
        None => continue,
      };
      for k in keys {
        if let Some(list) = map.get_mut(&k) {
          if let Ok(i) = list.binary_search(&slot) {
            list.remove(i);
          }
          if list.is_empty() {
            map.remove(&k);
          }
        }
      }
    }
  }

  /// Note a killed slot; returns true when a purge is due.
  pub(crate) fn killed(&mut self, live: usize) -> bool {
    self.stale += 1;
    self.stale > 4096 && self.stale > live / 2
  }

  /// Drop entries of slots for which `alive` is false.
  pub(crate) fn purge(&mut self, alive: impl Fn(u32) -> bool) {
    for fx in self.fields.values_mut() {
      if let FieldIx::On(map) = fx {
        map.retain(|_, list| {
          list.retain(|&s| alive(s));
          list.shrink_to_fit();
          !list.is_empty()
        });
      }
    }
    self.stale = 0;
  }

  #[cfg(test)]
  pub(crate) fn is_column(&self, field: &str) -> bool {
    matches!(self.fields.get(field), Some(FieldIx::Column(_)))
  }

  pub(crate) fn heap_bytes(&self) -> usize {
    self
      .fields
      .iter()
      .map(|(f, fx)| {
        f.len()
          + 64
          + match fx {
            FieldIx::On(map) => map
              .iter()
              .map(|(k, l)| {
                56 + l.capacity() * 4
                  + match k {
                    Key::Str(s) => s.len(),
                    _ => 0,
                  }
              })
              .sum(),
            FieldIx::Column(col) => col.capacity() * 8,
          }
      })
      .sum()
  }

  /// Candidates of an indexable condition on `field`, and whether they are exactly its matches
  /// (`None`: not answerable by the index).
  fn cond_slots(&self, field: &str, cond: &Cond) -> Option<(Cow<'_, [u32]>, bool)> {
    let map = match self.fields.get(field) {
      Some(FieldIx::On(map)) => Some(map),
      Some(FieldIx::Column(col)) => return column_slots(col, cond).map(|c| (Cow::Owned(c), false)),
      None if self.overflow => return None,
      // Never seen with a scalar value: nothing matches a scalar.
      None => None,
    };
    let values: &[Value] = match cond {
      Cond::Eq(v) => std::slice::from_ref(v),
      Cond::In(list) => list,
      Cond::And(cs) => {
        // Several operators on one field: the narrowest indexable one (never exact alone).
        return cs
          .iter()
          .filter_map(|c| self.cond_slots(field, c))
          .min_by_key(|(s, _)| s.len())
          .map(|(s, _)| (s, false));
      }
      _ => return None,
    };
    let keys: Vec<Key> = values.iter().map(Key::of).collect::<Option<_>>()?;
    let Some(map) = map else {
      return Some((Cow::Borrowed(&[]), true));
    };
    let mut lists: Vec<&Vec<u32>> = keys.iter().filter_map(|k| map.get(k)).collect();
    let slots = match lists.len() {
      0 => Cow::Borrowed(&[][..]),
      1 => Cow::Borrowed(lists.pop().map_or(&[][..], |l| &l[..])),
      _ => {
        let mut all: Vec<u32> = lists.into_iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        Cow::Owned(all)
      }
    };
    Some((slots, true))
  }

  /// Candidate slots for `filter`, when some AND-ed condition is an equality/`$in` on an
  /// indexed top-level field.
  pub(crate) fn plan(&self, filter: &Filter) -> Option<Plan<'_>> {
    match filter {
      Filter::Field(path, cond) if path.len() == 1 => {
        let (slots, exact) = self.cond_slots(&path[0], cond)?;
        Some(Plan {
          slots,
          exact: exact && matches!(cond, Cond::Eq(_) | Cond::In(_)),
        })
      }
      Filter::And(parts) => {
        let best = parts
          .iter()
          .filter_map(|p| self.plan(p))
          .min_by_key(|p| p.slots.len())?;
        Some(Plan {
          slots: best.slots,
          exact: parts.len() == 1 && best.exact,
        })
      }
      _ => None,
    }
  }
}
