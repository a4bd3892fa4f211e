//! Uploaded media (素材): the bytes live in the media directory, one file
//! per media id under a folder per corp; the record (type, name, size,
//! SHA-256, expiry) lives in the store.
//!
//! An upload is streamed: [`Services::begin_upload`] opens a temporary
//! file, [`MediaUpload::write`] appends chunks and refuses the upload as
//! soon as it grows past its type's limit, [`MediaUpload::finish`] moves the
//! file into place and records it. An upload that is dropped unfinished
//! removes its temporary file. Media expire after three days; housekeeping
//! deletes expired records and their files.

use std::path::{Path, PathBuf};

use qiye_domain::ids::CorpId;
use qiye_domain::media::{
    MediaError, MediaKind, MediaRecord, TEMPORARY_MEDIA_TTL_MS, new_media_id, plausible_media_id,
};
use qiye_domain::ports::StoreError;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::Services;
use crate::error::{AppError, AppResult};

/// Longest file name kept with an upload (bytes); longer names are cut.
const MAX_FILENAME: usize = 255;

/// An upload in progress.
pub struct MediaUpload {
    corp: CorpId,
    kind: MediaKind,
    dir: PathBuf,
    tmp: PathBuf,
    file: Option<tokio::fs::File>,
    size: u64,
    hasher: Sha256,
}

impl std::fmt::Debug for MediaUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaUpload")
            .field("corp", &self.corp)
            .field("kind", &self.kind)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> AppError {
    AppError::Store(StoreError::Other(format!(
        "{what} {}: {err}",
        path.display()
    )))
}

/// Keeps a file name printable and bounded, without path separators.
fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base.chars().filter(|c| !c.is_control()).collect();
    if name.len() > MAX_FILENAME {
        let mut cut = MAX_FILENAME;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    if name.is_empty() {
        "media".to_owned()
    } else {
        name
    }
}

impl MediaUpload {
    /// Appends a chunk; refuses (and discards the upload) once it is larger
    /// than its type allows.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.kind.max_bytes() {
            // Too large: refused here, before anything more is written.
            self.kind.check_size(self.size)?;
        }
        self.hasher.update(chunk);
        let file = self.file.as_mut().expect("file open until finish");
        file.write_all(chunk)
            .await
            .map_err(|e| io_error("cannot write", &self.tmp, e))
    }

    /// Checks the size, moves the file into place and records it.
    pub async fn finish(
        mut self,
        services: &Services,
        filename: &str,
        content_type: &str,
    ) -> AppResult<MediaRecord> {
        self.kind.check_size(self.size)?;
        let file = self.file.take().expect("file open until finish");
        file.sync_all()
            .await
            .map_err(|e| io_error("cannot sync", &self.tmp, e))?;
        drop(file);
        let now = services.clock.now_millis();
        let record = MediaRecord {
            corp_id: self.corp.clone(),
            media_id: new_media_id(),
            kind: self.kind,
            filename: clean_filename(filename),
            content_type: content_type.chars().take(128).collect(),
            size: self.size,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
            created_at: now,
            expires_at: now + TEMPORARY_MEDIA_TTL_MS,
        };
        let target = self.dir.join(&record.media_id);
        tokio::fs::rename(&self.tmp, &target)
            .await
            .map_err(|e| io_error("cannot store", &target, e))?;
        if let Err(err) = services.store.insert_media(&record).await {
            let _ = tokio::fs::remove_file(&target).await;
            return Err(err.into());
        }
        Ok(record)
    }
}

impl Drop for MediaUpload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Services {
    fn media_root(&self) -> AppResult<&Path> {
        self.media_dir
            .as_deref()
            .ok_or_else(|| AppError::Forbidden("server without a media directory".into()))
    }

    fn corp_media_dir(&self, corp: &CorpId) -> AppResult<PathBuf> {
        Ok(self.media_root()?.join(corp.as_str()))
    }

    /// Starts an upload of `kind` for `corp`.
    pub async fn begin_upload(&self, corp: &CorpId, kind: MediaKind) -> AppResult<MediaUpload> {
        let dir = self.corp_media_dir(corp)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error("cannot create", &dir, e))?;
        let tmp = dir.join(format!(".upload-{}", new_media_id()));
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_error("cannot create", &tmp, e))?;
        Ok(MediaUpload {
            corp: corp.clone(),
            kind,
            dir,
            tmp,
            file: Some(file),
            size: 0,
            hasher: Sha256::new(),
        })
    }

    /// Makes uploads permanent (`media/uploadimg`, media a message uses).
    pub async fn keep_media(&self, corp: &CorpId, media_ids: &[String]) -> AppResult<()> {
        Ok(self.store.keep_media(corp, media_ids).await?)
    }

    /// Stores bytes produced by the server itself (an export file) as media
    /// of `corp`.
    pub async fn store_media_bytes(
        &self,
        corp: &CorpId,
        kind: MediaKind,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> AppResult<MediaRecord> {
        let mut upload = self.begin_upload(corp, kind).await?;
        upload.write(bytes).await?;
        upload.finish(self, filename, content_type).await
    }

    /// A live media record of `corp` and the path of its bytes; unknown,
    /// expired and other corps' ids are all [`MediaError::UnknownId`].
    pub async fn media(&self, corp: &CorpId, media_id: &str) -> AppResult<(MediaRecord, PathBuf)> {
        if !plausible_media_id(media_id) {
            return Err(MediaError::UnknownId.into());
        }
        let record = match self.store.get_media(corp, media_id).await {
            Err(StoreError::NotFound) => return Err(MediaError::UnknownId.into()),
            other => other?,
        };
        if record.expires_at <= self.clock.now_millis() {
            return Err(MediaError::UnknownId.into());
        }
        let path = self.corp_media_dir(corp)?.join(&record.media_id);
        Ok((record, path))
    }

    /// A live media record's bytes, checked to be of `kind`.
    pub async fn media_bytes(
        &self,
        corp: &CorpId,
        media_id: &str,
        kind: MediaKind,
    ) -> AppResult<Vec<u8>> {
        let (record, path) = self.media(corp, media_id).await?;
        if record.kind != kind {
            return Err(MediaError::WrongKind {
                found: record.kind.as_str(),
                expected: kind.as_str(),
            }
            .into());
        }
        tokio::fs::read(&path)
            .await
            .map_err(|e| io_error("cannot read", &path, e))
    }

    /// Deletes expired media records and their files. Returns how many.
    pub(crate) async fn prune_media(&self) -> AppResult<usize> {
        let Ok(root) = self.media_root() else {
            return Ok(0);
        };
        let expired = self
            .store
            .delete_expired_media(self.clock.now_millis())
            .await?;
        for (corp, media_id) in &expired {
            let path = root.join(corp.as_str()).join(media_id);
            if let Err(err) = tokio::fs::remove_file(&path).await
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(%err, path = %path.display(), "cannot delete expired media");
            }
        }
        Ok(expired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\x\\成员.csv"), "成员.csv");
        assert_eq!(clean_filename("a\nb.csv"), "ab.csv");
        assert_eq!(clean_filename(""), "media");
        let long = "名".repeat(200);
        let cut = clean_filename(&long);
        assert!(cut.len() <= MAX_FILENAME);
        assert!(cut.starts_with('名'));
    }
}
