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
}
