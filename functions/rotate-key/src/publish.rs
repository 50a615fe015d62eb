//! The public keys verifiers read: a JWK Set of every staged version of the signing secret
//! (`AWSCURRENT`, `AWSPREVIOUS`, and `AWSPENDING` while a rotation is under way), written to a
//! secret of its own so the authorizer's and the discovery function's roles need no access to
//! the signing secret. With HMAC keys the set is empty: a symmetric key is never published.

use authgate_keys::{STAGE_CURRENT, STAGE_PREVIOUS, parse_secret_key, staged_version};
use authgate_token::KeySet;
use aws_sdk_secretsmanager::Client;

use crate::{RotationError, STAGE_PENDING, aws};

/// Reading a staged version failed: not a key problem, a Secrets Manager one.
fn unreadable(e: authgate_keys::KeySourceError) -> RotationError {
    RotationError::Unpublishable(Box::new(e))
}

/// Publishes the public keys of `signing`'s staged versions to `public`, unless it already holds
/// exactly them. Every staged version must parse: a key that cannot be read is not skipped
/// silently.
pub async fn publish(client: &Client, signing: &str, public: &str) -> Result<(), RotationError> {
    let mut keys = Vec::new();
    for stage in [STAGE_CURRENT, STAGE_PREVIOUS, STAGE_PENDING] {
        let Some(staged) = staged_version(client, signing, stage)
            .await
            .map_err(unreadable)?
        else {
            continue;
        };
        if keys
            .iter()
            .any(|k: &authgate_token::Key| k.kid() == staged.id)
        {
            continue;
        }
        let key = parse_secret_key(signing, &staged.id, &staged.value)
            .map_err(|e| RotationError::Unpublishable(Box::new(e)))?;
        keys.push(key);
    }
    let set = KeySet::verifying(keys).map_err(|e| RotationError::Unpublishable(Box::new(e)))?;
    let jwks = set.public_jwks().to_string();
    let published = staged_version(client, public, STAGE_CURRENT)
        .await
        .map_err(unreadable)?;
    if published.is_some_and(|current| current.value == jwks) {
        tracing::info!(kids = ?set.kids(), "public keys already published");
        return Ok(());
    }
    client
        .put_secret_value()
        .secret_id(public)
        .secret_string(jwks)
        .send()
        .await
        .map_err(aws)?;
    tracing::info!(kids = ?set.kids(), "public keys published");
    Ok(())
}
