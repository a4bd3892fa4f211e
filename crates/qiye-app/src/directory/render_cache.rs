//! Rendered replies of whole-directory reads, kept per directory version.
//!
//! A listing of a large subtree (`user/simplelist?department_id=1&
//! fetch_child=1` over 100,000 members is a 10 MiB reply) costs time in
//! proportion to the corp. Integrations poll such listings, and the
//! directory changes far less often than it is read, so the rendered bytes
//! are kept and served again until the directory's version moves on.
//!
//! **Invariant:** a key holds everything the bytes depend on: the corp, the
//! directory version (bumped by every committed change, from any process),
//! the caller's reach (so an app whose visible range changes gets a new
//! key) and the query (endpoint and parameters). An entry of an old version
//! is never served again (its key cannot be built any more) and ages out.
//! The cache is bounded by bytes.

use std::hash::{Hash, Hasher};

use bytes::Bytes;
use qiye_domain::directory::Reach;
use qiye_domain::ids::CorpId;

/// At most this many bytes of rendered replies are kept (over all corps).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// What a rendered reply depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RenderKey {
    corp: CorpId,
    version: i64,
    /// The caller's reach, hashed (a range can be long).
    reach: u64,
    query: String,
}

impl RenderKey {
    pub(crate) fn new(corp: &CorpId, version: i64, reach: &Reach, query: &str) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        reach.hash(&mut hasher);
        Self {
            corp: corp.clone(),
            version,
            reach: hasher.finish(),
            query: query.to_owned(),
        }
    }
}

/// The cache.
pub(crate) struct RenderCache {
    entries: moka::sync::Cache<RenderKey, Bytes>,
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl Default for RenderCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|_: &RenderKey, bytes: &Bytes| {
                    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }
}

impl RenderCache {
    /// The bytes under `key`, rendering them (once, even when asked
    /// concurrently) if absent. A failed rendering is not kept.
    pub(crate) fn get_or_render<E: Clone + Send + Sync + 'static>(
        &self,
        key: RenderKey,
        render: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        self.entries
            .try_get_with(key, render)
            .map_err(|shared| (*shared).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_domain::directory::Range;
    use qiye_domain::ids::DeptId;

    fn corp(raw: &str) -> CorpId {
        CorpId::parse(raw).unwrap()
    }

    #[test]
    fn keys_separate_corps_versions_reaches_and_queries() {
        let cache = RenderCache::default();
        let a = corp("ww0123456789abcdef");
        let b = corp("ww0123456789abcdee");
        let within = Reach::Within(Range {
            depts: vec![DeptId::new(2).unwrap()],
            ..Range::default()
        });
        let mut renders = 0;
        let mut get = |key: RenderKey, body: &'static str| {
            cache
                .get_or_render::<()>(key, || {
                    renders += 1;
                    Ok(Bytes::from_static(body.as_bytes()))
                })
                .unwrap()
        };
        assert_eq!(
            get(RenderKey::new(&a, 1, &Reach::Everything, "q"), "a1"),
            "a1"
        );
        // Same key: served again, not rendered.
        assert_eq!(
            get(RenderKey::new(&a, 1, &Reach::Everything, "q"), "x"),
            "a1"
        );
        // Anything else differs: rendered anew.
        assert_eq!(
            get(RenderKey::new(&b, 1, &Reach::Everything, "q"), "b1"),
            "b1"
        );
        assert_eq!(
            get(RenderKey::new(&a, 2, &Reach::Everything, "q"), "a2"),
            "a2"
        );
        assert_eq!(get(RenderKey::new(&a, 1, &within, "q"), "a1w"), "a1w");
        assert_eq!(
            get(RenderKey::new(&a, 1, &Reach::Everything, "r"), "a1r"),
            "a1r"
        );

        assert_eq!(renders, 5);
    }

    #[test]
    fn refusals_are_not_kept() {
        let cache = RenderCache::default();
        let key = RenderKey::new(&corp("ww0123456789abcdef"), 1, &Reach::Everything, "q");
        assert_eq!(
            cache.get_or_render(key.clone(), || Err::<Bytes, _>("no")),
            Err("no")
        );
        assert_eq!(
            cache.get_or_render::<&str>(key, || Ok(Bytes::from_static(b"yes"))),
            Ok(Bytes::from_static(b"yes"))
        );
    }
}
