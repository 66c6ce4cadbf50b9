//! Which rows hold each match key, in memory: what `regroup` looks a new
//! row's copies up in. The keys themselves are stored with each index row
//! (`entries.keys`); this map is read from them once per connection and
//! kept up to date by the writes that connection makes, so a set's
//! transaction adds no key rows to a B-tree and looks none up in one.

use rusqlite::Connection;

use super::StoreError;
use super::fast::Map;
use super::index::blob_keys;

/// Most keys are held by one row; a few (copies at several holders) by more.
enum Rows {
    One(i64),
    More(Vec<i64>),
}

#[derive(Default)]
pub(crate) struct KeyMap {
    rows: Map<i64, Rows>,
}

impl KeyMap {
    /// Every index row's keys as stored.
    fn load(conn: &Connection) -> Result<Self, StoreError> {
        let mut map = Self::default();
        let mut stmt = conn.prepare("SELECT resource, keys FROM entries")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let row: i64 = r.get(0)?;
            let keys = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            for key in blob_keys(keys) {
                map.add(key, row);
            }
        }
        Ok(map)
    }

    pub fn add(&mut self, key: i64, row: i64) {
        match self.rows.get_mut(&key) {
            None => {
                self.rows.insert(key, Rows::One(row));
            }
            Some(Rows::One(first)) if *first == row => {}
            Some(Rows::One(first)) => {
                let first = *first;
                self.rows.insert(key, Rows::More(vec![first, row]));
            }
            Some(Rows::More(all)) => {
                if !all.contains(&row) {
                    all.push(row);
                }
            }
        }
    }

    pub fn remove(&mut self, key: i64, row: i64) {
        let emptied = match self.rows.get_mut(&key) {
            Some(Rows::One(only)) => *only == row,
            Some(Rows::More(all)) => {
                all.retain(|r| *r != row);
                all.is_empty()
            }
            None => false,
        };
        if emptied {
            self.rows.remove(&key);
        }
    }

    /// The rows holding `key`.
    pub fn rows(&self, key: i64) -> &[i64] {
        match self.rows.get(&key) {
            None => &[],
            Some(Rows::One(row)) => std::slice::from_ref(row),
            Some(Rows::More(all)) => all,
        }
    }
}

/// The map as last left by this connection, with the database's
/// `data_version` it was true for (another connection's commit moves it).
#[derive(Default)]
pub(crate) struct HeldKeys(Option<(i64, KeyMap)>);

impl HeldKeys {
    /// The map for the database as `conn` sees it now: the one held, unless
    /// another connection wrote since, else read afresh. Taken out, so a
    /// write that fails leaves none held, and the next reads the keys again;
    /// `put_back` once the write is committed.
    pub fn take(&mut self, conn: &Connection) -> Result<(i64, KeyMap), StoreError> {
        let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        match self.0.take() {
            Some((held, map)) if held == version => Ok((version, map)),
            _ => Ok((version, KeyMap::load(conn)?)),
        }
    }

    pub fn put_back(&mut self, version: i64, map: KeyMap) {
        self.0 = Some((version, map));
    }

    /// Forgets the map (after the index was rebuilt whole).
    pub fn clear(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_added_once_and_removed_to_nothing() {
        let mut map = KeyMap::default();
        map.add(7, 1);
        map.add(7, 1);
        assert_eq!(map.rows(7), [1]);
        map.add(7, 2);
        map.add(7, 2);
        assert_eq!(map.rows(7), [1, 2]);
        map.remove(7, 1);
        assert_eq!(map.rows(7), [2]);
        map.remove(7, 2);
        assert!(map.rows(7).is_empty());
        assert!(map.rows.is_empty(), "an emptied key is dropped");
        map.remove(8, 1);
        assert!(map.rows(8).is_empty());
    }
}
