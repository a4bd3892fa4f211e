//! Uploaded media (素材): temporary files an app uploads and later refers
//! to by `media_id`, e.g. the CSV of a batch import.

use crate::ids::CorpId;

/// How long temporary media stay available: 3 days, as in WeCom.
pub const TEMPORARY_MEDIA_TTL_MS: i64 = 3 * 24 * 3600 * 1000;

/// The media types of `media/upload` and their size limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// `image`: up to 10 MB.
    Image,
    /// `voice`: up to 2 MB.
    Voice,
    /// `video`: up to 10 MB.
    Video,
    /// `file`: up to 20 MB.
    File,
}

impl MediaKind {
    /// From the `type` query parameter.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "image" => Some(MediaKind::Image),
            "voice" => Some(MediaKind::Voice),
            "video" => Some(MediaKind::Video),
            "file" => Some(MediaKind::File),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Voice => "voice",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }

    /// Largest accepted upload.
    pub fn max_bytes(self) -> u64 {
        match self {
            MediaKind::Image | MediaKind::Video => 10 * 1024 * 1024,
            MediaKind::Voice => 2 * 1024 * 1024,
            MediaKind::File => 20 * 1024 * 1024,
        }
    }

    /// Smallest accepted upload (WeCom refuses files of 5 bytes or less).
    pub fn min_bytes(self) -> u64 {
        6
    }
}

/// Why an upload or a media reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The `type` parameter is not one of image, voice, video, file.
    #[error("invalid media type parameter {0:?}")]
    BadKind(String),
    /// No file part (`media`) in the upload.
    #[error("no media part in the upload")]
    NoFile,
    /// The file is empty.
    #[error("empty media file")]
    Empty,
    /// The file is smaller or larger than its type allows.
    #[error("{kind} size {size} not within {min}..={max} bytes")]
    Size {
        /// The type.
        kind: &'static str,
        /// Bytes received (so far).
        size: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// Unknown, expired or another corp's media id.
    #[error("invalid media_id")]
    UnknownId,
    /// `media/uploadimg` takes JPG or PNG only.
    #[error("an image for uploadimg must be JPG or PNG")]
    NotJpegOrPng,
    /// The media exists but is of the wrong type for this use.
    #[error("media is a {found}, expected a {expected}")]
    WrongKind {
        /// What it is.
        found: &'static str,
        /// What was needed.
        expected: &'static str,
    },
}

/// Largest picture `media/uploadimg` takes (2 MB).
pub const UPLOADIMG_MAX_BYTES: u64 = 2 * 1024 * 1024;

/// Whether bytes begin like a JPG or PNG file.
pub fn is_jpeg_or_png(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xD8, 0xFF]) || head.starts_with(b"\x89PNG\r\n\x1a\n")
}

impl MediaError {
    /// WeCom's errcode for this refusal.
    pub fn errcode(&self) -> i64 {
        match self {
            MediaError::WrongKind { .. } => 40004,
            MediaError::BadKind(_) => 40005,
            MediaError::Size { .. } => 40006,
            MediaError::UnknownId => 40007,
            MediaError::NotJpegOrPng => 40005,
            MediaError::NoFile | MediaError::Empty => 44001,
        }
    }
}

impl MediaKind {
    /// Checks a size against the type's limits.
    pub fn check_size(self, size: u64) -> Result<(), MediaError> {
        if size == 0 {
            return Err(MediaError::Empty);
        }
        if size < self.min_bytes() || size > self.max_bytes() {
            return Err(MediaError::Size {
                kind: self.as_str(),
                size,
                min: self.min_bytes(),
                max: self.max_bytes(),
            });
        }
        Ok(())
    }
}

/// A media id: 64 characters of letters and digits, unguessable.
pub fn new_media_id() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let mut rng = rand::rng();
    // WeCom's ids start with a digit and are long; clients treat them as opaque.
    let mut id = String::from("3");
    id.extend((0..63).map(|_| rng.sample(Alphanumeric) as char));
    id
}

/// Whether a string can be a media id (so a path built from it stays in
/// its directory).
pub fn plausible_media_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRecord {
    /// Owner.
    pub corp_id: CorpId,
    /// Its id.
    pub media_id: String,
    /// Its type.
    pub kind: MediaKind,
    /// The uploaded file name.
    pub filename: String,
    /// The uploaded content type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Upload time (ms).
    pub created_at: i64,
    /// Expiry (ms).
    pub expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_with_limits() {
        for k in [
            MediaKind::Image,
            MediaKind::Voice,
            MediaKind::Video,
            MediaKind::File,
        ] {
            assert_eq!(MediaKind::parse(k.as_str()), Some(k));
            assert!(k.max_bytes() > k.min_bytes());
        }
        assert_eq!(MediaKind::parse("exe"), None);
        assert_eq!(MediaKind::File.max_bytes(), 20 * 1024 * 1024);
    }

    #[test]
    fn sizes_are_checked_per_kind() {
        assert_eq!(MediaKind::File.check_size(0), Err(MediaError::Empty));
        assert!(matches!(
            MediaKind::File.check_size(5),
            Err(MediaError::Size { .. })
        ));
        assert!(MediaKind::File.check_size(6).is_ok());
        assert!(is_jpeg_or_png(b"\x89PNG\r\n\x1a\nrest"));
        assert!(is_jpeg_or_png(&[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(!is_jpeg_or_png(b"GIF89a"));
        assert!(!is_jpeg_or_png(b""));
        assert!(MediaKind::File.check_size(20 * 1024 * 1024).is_ok());
        assert!(MediaKind::File.check_size(20 * 1024 * 1024 + 1).is_err());
        assert!(MediaKind::Voice.check_size(2 * 1024 * 1024 + 1).is_err());
    }

    #[test]
    fn media_ids_are_unique_and_plausible() {
        let a = new_media_id();
        let b = new_media_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(plausible_media_id(&a));
        assert!(!plausible_media_id("../etc/passwd"));
        assert!(!plausible_media_id(""));
    }
}
