//! `SmallMap` and `SmallSet`: a sorted `Vec` in place of a `BTreeMap`/`BTreeSet` for the pipeline's many maps of
//! one or two entries (a task's inputs, a component's interface, a task's dependencies).
//!
//! A `BTreeMap` allocates a node for eleven entries however few it holds; at 267,000 stages those nodes were
//! most of the pipeline's memory (bench/memory.sh). The order, and so the serialised output, is the same: by key.

use std::borrow::Borrow;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Up to this many entries a map or set grows one entry at a time: most hold one or two, and a `Vec`'s first
/// growth makes room for four (a task's input map of one entry held three empty ones). Past it, the `Vec`
/// doubles as usual, so a large map's insertions stay amortised.
const EXACT_UP_TO: usize = 4;

/// Makes room for one more entry: exactly while `items` is small.
fn reserve_one<T>(items: &mut Vec<T>) {
    if items.len() < EXACT_UP_TO {
        items.reserve_exact(1);
    }
}

/// A map in key order, stored as a sorted vector (insertion is linear: for small maps only).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmallMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    fn position<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// Inserts or replaces the value of `key`; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                reserve_one(&mut self.0);
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_ok()
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SmallMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut map = SmallMap::default();
        for (k, v) in items {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Serialize, V: Serialize> Serialize for SmallMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A set in order, stored as a sorted vector (insertion is linear: for small sets only).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SmallSet<T>(Vec<T>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        SmallSet(Vec::new())
    }
}

impl<T: Ord> SmallSet<T> {
    /// Adds `item`; false when it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(i) => {
                reserve_one(&mut self.0);
                self.0.insert(i, item);
                true
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for SmallSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in &self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn serialises_like_the_btree_collections_it_replaces() {
        let pairs = [("b", 2), ("a", 1), ("c", 3), ("a", 4)];
        let small: SmallMap<String, i32> = pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        let btree: BTreeMap<String, i32> = pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect();
        assert_eq!(serde_json::to_string(&small).ok(), serde_json::to_string(&btree).ok());
        assert!(small.contains_key("c") && !small.contains_key("d"));
        assert_eq!((small.get("a"), small.get("d")), (btree.get("a"), None));
        let mut set = SmallSet::default();
        let mut tree = BTreeSet::new();
        for item in ["y", "x", "y", "z"] {
            assert_eq!(set.insert(item.to_string()), tree.insert(item.to_string()));
        }
        assert_eq!(serde_json::to_string(&set).ok(), serde_json::to_string(&tree).ok());
    }

    #[test]
    fn small_maps_and_sets_hold_no_spare_room() {
        let mut map = SmallMap::default();
        let mut set = SmallSet::default();
        for n in 0..EXACT_UP_TO {
            map.insert(n, n);
            set.insert(n);
            assert_eq!((map.0.capacity(), set.0.capacity()), (n + 1, n + 1));
        }
        for n in EXACT_UP_TO..100 {
            map.insert(n, n);
            set.insert(n);
        }
        assert_eq!(map.iter().map(|(k, _)| *k).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        assert!(map.0.capacity() < 200, "doubling past the small sizes: {}", map.0.capacity());
    }
}
