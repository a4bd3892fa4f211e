//! Each corp's directory, held in memory and kept equal to the database.
//!
//! Every read first compares the cached version with `corps.dir_version`
//! (one indexed read) and reloads when another process (the CLI, another
//! node) committed meanwhile. Writers of a corp are serialized by a mutex in
//! this process and by optimistic concurrency on the version across
//! processes: a commit validated against an older version is refused by the
//! store, the directory is reloaded and the command is planned again.
//!
//! The member-facing policy (visibility and field rules) is cached beside
//! the directory the same way, keyed by `corps.policy_version`.

use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use qiye_domain::directory::{Directory, Policy};
use qiye_domain::ids::CorpId;
use qiye_domain::ports::Store;

use crate::error::AppResult;

/// A corp's directory at a version.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// `None` until loaded.
    pub version: Option<i64>,
    /// The directory.
    pub dir: Directory,
}

/// One corp's cache entry.
#[derive(Debug, Default)]
pub(crate) struct CorpDirectory {
    /// Serializes this process's writers of the corp.
    pub writer: tokio::sync::Mutex<()>,
    /// The directory; readers hold the read lock only while they look.
    pub state: RwLock<Loaded>,
    /// The member-facing policy at its `policy_version`, once loaded.
    pub policy: RwLock<Option<(i64, Arc<Policy>)>>,
}

impl CorpDirectory {
    pub(crate) fn version(&self) -> Option<i64> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).version
    }
}

/// All corps' directories.
#[derive(Debug, Default)]
pub(crate) struct DirectoryCache {
    corps: DashMap<CorpId, Arc<CorpDirectory>>,
}

impl DirectoryCache {
    pub(crate) fn entry(&self, corp: &CorpId) -> Arc<CorpDirectory> {
        self.corps.entry(corp.clone()).or_default().clone()
    }

    /// Makes the entry current with the database and returns it.
    pub(crate) async fn fresh(
        &self,
        store: &dyn Store,
        corp: &CorpId,
    ) -> AppResult<Arc<CorpDirectory>> {
        let entry = self.entry(corp);
        Self::catch_up(store, corp, &entry).await?;
        Ok(entry)
    }

    /// Reloads `entry` if the database holds another version; returns the
    /// stored version.
    pub(crate) async fn catch_up(
        store: &dyn Store,
        corp: &CorpId,
        entry: &CorpDirectory,
    ) -> AppResult<i64> {
        let stored = store.directory_version(corp).await?;
        if entry.version() != Some(stored) {
            Self::reload(store, corp, entry).await?;
        }
        Ok(stored)
    }

    /// The corp's policy, reloaded only when `corps.policy_version` moved
    /// (the same one-indexed-read check the directory uses). The version is
    /// read before the rules, so a cached policy is never older than its
    /// label.
    pub(crate) async fn fresh_policy(
        store: &dyn Store,
        corp: &CorpId,
        entry: &CorpDirectory,
    ) -> AppResult<Arc<Policy>> {
        let stored = store.policy_version(corp).await?;
        if let Some((version, policy)) = &*entry.policy.read().unwrap_or_else(|e| e.into_inner()) {
            if *version == stored {
                return Ok(Arc::clone(policy));
            }
        }
        let policy = Arc::new(store.load_policy(corp).await?);
        let mut slot = entry.policy.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_none_or(|(v, _)| *v <= stored) {
            *slot = Some((stored, Arc::clone(&policy)));
        }
        Ok(policy)
    }

    /// Loads the corp's directory from the database.
    pub(crate) async fn reload(
        store: &dyn Store,
        corp: &CorpId,
        entry: &CorpDirectory,
    ) -> AppResult<()> {
        let (version, dir) = store.load_directory(corp).await?;
        let mut state = entry.state.write().unwrap_or_else(|e| e.into_inner());
        if state.version.is_none_or(|v| v < version) {
            *state = Loaded {
                version: Some(version),
                dir,
            };
        }
        Ok(())
    }
}
