//! Hash maps for the row ids and match keys a set's write looks up once or
//! more per record: std's SipHash was a tenth of a writer's time. The
//! hasher is seeded per process, so a holder cannot choose records whose
//! keys collide (the keys are digests of their content besides).

pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type Set<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
