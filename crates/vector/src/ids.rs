//! The ids of an index's slots, packed: one byte buffer plus one end offset per slot. A boxed
//! string per slot cost 16 bytes of pointer plus a ≥ 32-byte heap block (48 MB at a million
//! short ids); packed, it is 8 bytes plus the id's own bytes.

/// Set on a slot's end offset once the slot is dead (deleted or replaced). A dead slot's bytes
/// stay in the buffer: slots are never reused, and the buffer is rebuilt when the index is
/// reloaded from its snapshot.
const DEAD: u64 = 1 << 63;

#[derive(Default)]
pub(crate) struct SlotIds {
  bytes: Vec<u8>,
  ends: Vec<u64>,
}

impl SlotIds {
  pub fn len(&self) -> usize {
    self.ends.len()
  }

  pub fn push(&mut self, id: &str) {
    self.bytes.extend_from_slice(id.as_bytes());
    self.ends.push(self.bytes.len() as u64);
  }

  /// The id of a live slot; `None` for a dead or unknown slot.
  #[inline]
  pub fn get(&self, slot: u32) -> Option<&str> {
    let s = slot as usize;
    let end = *self.ends.get(s)?;
    if end & DEAD != 0 {
      return None;
    }
    let start = if s == 0 { 0 } else { self.ends[s - 1] & !DEAD };
    // Every pushed range is a whole &str, so this never fails.
    std::str::from_utf8(self.bytes.get(start as usize..end as usize)?).ok()
  }

  #[inline]
  pub fn is_live(&self, slot: u32) -> bool {
    self.ends.get(slot as usize).is_some_and(|&e| e & DEAD == 0)
  }

  pub fn kill(&mut self, slot: u32) {
    if let Some(e) = self.ends.get_mut(slot as usize) {
      *e |= DEAD;
    }
  }

  /// Heap bytes in use (capacity, which is what the allocator holds).
  pub fn heap_bytes(&self) -> usize {
    self.bytes.capacity() + 8 * self.ends.capacity()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn push_get_kill() {
    let mut ids = SlotIds::default();
    ids.push("a");
    ids.push("");
    ids.push("ünïcode-id");
    assert_eq!(ids.len(), 3);
    assert_eq!(ids.get(0), Some("a"));
    assert_eq!(ids.get(1), Some(""));
    assert_eq!(ids.get(2), Some("ünïcode-id"));
    assert_eq!(ids.get(3), None);
    ids.kill(1);
    assert!(!ids.is_live(1));
    assert_eq!(ids.get(1), None);
    // A dead neighbour does not shift the next slot's range.
    assert_eq!(ids.get(2), Some("ünïcode-id"));
    ids.push("z");
    assert_eq!(ids.get(3), Some("z"));
    assert!(!ids.is_live(9));
  }
}
