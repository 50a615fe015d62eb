//! A signing key in a local file, for running authgate on a developer's machine.
//!
//! Created on first use with a fresh random key, readable and writable by its owner only; a file
//! that others can read is refused rather than trusted. Same JSON as the Secrets Manager secret,
//! plus the `kid` that a secret gets from its version id.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use authgate_token::{Key, KeySet, SIGNING_ALGORITHMS, new_secret_material};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{KeySource, KeySourceError};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    kid: String,
    alg: String,
    k: String,
}

/// A key file at a path.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
    algorithm: String,
}

impl KeyFile {
    /// The key file at `path` (created by [`KeyFile::load_or_create`] if absent).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            algorithm: "HS256".into(),
        }
    }

    /// Creates new keys for `algorithm` (HS256, EdDSA, ES256 or RS256); an existing file keeps its
    /// own.
    pub fn with_algorithm(mut self, algorithm: impl Into<String>) -> Self {
        self.algorithm = algorithm.into();
        self
    }

    /// Where the key lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn format_error(&self, what: impl Into<String>) -> KeySourceError {
        KeySourceError::Format {
            secret_id: self.path.display().to_string(),
            version: what.into(),
        }
    }

    fn io(&self, err: std::io::Error) -> KeySourceError {
        KeySourceError::Backend {
            secret_id: self.path.display().to_string(),
            source: Box::new(err),
        }
    }

    /// Writes a new random key unless the file exists. Returns whether it created one.
    pub fn create_if_missing(&self) -> Result<bool, KeySourceError> {
        let k = new_secret_material(&self.algorithm).map_err(|source| KeySourceError::Key {
            secret_id: self.path.display().to_string(),
            source,
        })?;
        let key = FileKey {
            kid: format!("local-{}", random_id()),
            alg: self.algorithm.clone(),
            k,
        };
        let json = serde_json::to_vec_pretty(&key).map_err(|e| self.io(e.into()))?;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path);
        match created {
            Ok(mut file) => {
                file.write_all(&json).map_err(|e| self.io(e))?;
                file.sync_all().map_err(|e| self.io(e))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Reads the key, refusing a file that group or others can access.
    pub fn read(&self) -> Result<KeySet, KeySourceError> {
        let metadata = std::fs::metadata(&self.path).map_err(|e| self.io(e))?;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(KeySourceError::InsecureFile {
                path: self.path.display().to_string(),
            });
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io(e))?;
        let parsed: FileKey =
            serde_json::from_str(&text).map_err(|_| self.format_error("not a JSON key file"))?;
        if !SIGNING_ALGORITHMS.contains(&parsed.alg.as_str()) {
            return Err(KeySourceError::UnsupportedAlgorithm {
                secret_id: self.path.display().to_string(),
                version: parsed.kid,
                alg: parsed.alg,
            });
        }
        let key = Key::from_secret_material(&parsed.kid, &parsed.alg, parsed.k.as_bytes())
            .map_err(|source| KeySourceError::Key {
                secret_id: self.path.display().to_string(),
                source,
            })?;
        KeySet::signing(&parsed.kid, [key]).map_err(|source| KeySourceError::Key {
            secret_id: self.path.display().to_string(),
            source,
        })
    }

    /// Creates the key file if needed, then reads it.
    pub fn load_or_create(&self) -> Result<KeySet, KeySourceError> {
        self.create_if_missing()?;
        self.read()
    }
}

/// A key id drawn on its own: every token header shows the `kid`, so it must say nothing of `k`.
fn random_id() -> String {
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl KeySource for KeyFile {
    async fn load(&self) -> Result<KeySet, KeySourceError> {
        self.load_or_create()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn creates_an_owner_only_key_once_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("signing-key.json"));
        let first = file.load_or_create().unwrap();
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            !file.create_if_missing().unwrap(),
            "an existing key is never replaced"
        );
        let second = file.load_or_create().unwrap();
        assert_eq!(first.kids(), second.kids());
        assert!(first.kids()[0].starts_with("local-"));
    }

    #[test]
    fn the_key_id_reveals_nothing_of_the_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let file = KeyFile::new(dir.path().join("signing-key.json"));
            file.create_if_missing().unwrap();
            let stored: FileKey =
                serde_json::from_str(&std::fs::read_to_string(file.path()).unwrap()).unwrap();
            let id = stored.kid.trim_start_matches("local-");
            // No 4-byte run of the key appears in the id (by chance: about 1 in 10^7 per file).
            let shared = (0..=stored.k.len() - 8)
                .filter(|i| i % 2 == 0)
                .any(|i| id.contains(&stored.k[i..i + 8]));
            assert!(!shared, "kid {} repeats bytes of the key", stored.kid);
        }
    }

    #[test]
    fn creates_a_key_of_each_algorithm_that_signs() {
        for alg in ["HS256", "EdDSA", "ES256", "RS256"] {
            let dir = tempfile::tempdir().unwrap();
            let file = KeyFile::new(dir.path().join("k.json")).with_algorithm(alg);
            let keys = file.load_or_create().unwrap();
            assert_eq!(
                format!("{:?}", keys.signing_key().unwrap().algorithm()),
                alg
            );
        }
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("signing-key.json"));
        file.create_if_missing().unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = file.read().unwrap_err();
        assert!(
            matches!(err, KeySourceError::InsecureFile { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }
}
