//! In-memory fakes for unit tests (feature `test-util`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::StoreError;
use crate::connections::{ConnectionStore, Registration};

/// A [`ConnectionStore`] kept in a map keyed by (room, connection id).
#[derive(Debug, Default)]
pub struct MemoryConnectionStore {
    rows: Mutex<BTreeMap<(String, String), Registration>>,
    failing: AtomicBool,
}

impl MemoryConnectionStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `connection_id`s registered in rooms, given as
    /// `(room, connection_id)` pairs.
    pub fn with(rows: &[(&str, &str)]) -> Self {
        let store = Self::new();
        for (room, conn) in rows {
            store.insert(Registration::new(room, conn, 0, 7200));
        }
        store
    }

    pub fn insert(&self, r: Registration) {
        self.rows.lock().unwrap().insert((r.room.clone(), r.connection_id.clone()), r);
    }

    /// Every registration, ordered by (room, connection id).
    pub fn registrations(&self) -> Vec<Registration> {
        self.rows.lock().unwrap().values().cloned().collect()
    }

    /// `(room, connection_id)` pairs, ordered.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.rows.lock().unwrap().keys().cloned().collect()
    }

    /// Makes every later operation fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::new("injected store failure"))
        } else {
            Ok(())
        }
    }
}

impl ConnectionStore for MemoryConnectionStore {
    async fn put(&self, r: &Registration) -> Result<(), StoreError> {
        self.check()?;
        self.insert(r.clone());
        Ok(())
    }

    async fn rooms_of(&self, connection_id: &str) -> Result<Vec<String>, StoreError> {
        self.check()?;
        Ok(self
            .rows
            .lock()
            .unwrap()
            .keys()
            .filter(|(_, c)| c == connection_id)
            .map(|(room, _)| room.clone())
            .collect())
    }

    async fn connections_in(&self, room: &str) -> Result<Vec<String>, StoreError> {
        self.check()?;
        Ok(self.rows.lock().unwrap().keys().filter(|(r, _)| r == room).map(|(_, c)| c.clone()).collect())
    }

    async fn delete(&self, room: &str, connection_id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.rows.lock().unwrap().remove(&(room.to_string(), connection_id.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_round_trip() {
        let s = MemoryConnectionStore::with(&[("a", "c1"), ("a", "c2"), ("b", "c1")]);
        assert_eq!(s.rooms_of("c1").await.unwrap(), vec!["a", "b"]);
        assert_eq!(s.connections_in("a").await.unwrap(), vec!["c1", "c2"]);
        s.delete("a", "c1").await.unwrap();
        assert_eq!(s.connections_in("a").await.unwrap(), vec!["c2"]);
        s.set_failing(true);
        assert!(s.connections_in("a").await.is_err());
    }
}
