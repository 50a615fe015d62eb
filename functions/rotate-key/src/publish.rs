//! The public keys verifiers read: a JWK Set of every staged version of the signing secret
//! (`AWSCURRENT`, `AWSPREVIOUS`, and `AWSPENDING` while a rotation is under way), written to a
//! secret of its own so the authorizer's and the discovery function's roles need no access to
//! the signing secret. With HMAC keys the set is empty: a symmetric key is never published.

use authgate_keys::{STAGE_CURRENT, STAGE_PREVIOUS, parse_secret_key};
use authgate_token::KeySet;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::{RotationError, STAGE_PENDING, aws};

/// The version at `stage` of `secret` as `(version id, value)`, or `None` if no version carries
/// that label.
async fn staged(
    client: &Client,
    secret: &str,
    stage: &str,
) -> Result<Option<(String, String)>, RotationError> {
    match client
        .get_secret_value()
        .secret_id(secret)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            out.version_id.unwrap_or_default(),
            out.secret_string.unwrap_or_default(),
        ))),
        Err(err)
            if matches!(
                err.as_service_error(),
                Some(GetSecretValueError::ResourceNotFoundException(_))
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws(err)),
    }
}

/// Publishes the public keys of `signing`'s staged versions to `public`, unless it already holds
/// exactly them. Every staged version must parse: a key that cannot be read is not skipped
/// silently.
pub async fn publish(client: &Client, signing: &str, public: &str) -> Result<(), RotationError> {
    let mut keys = Vec::new();
    for stage in [STAGE_CURRENT, STAGE_PREVIOUS, STAGE_PENDING] {
        let Some((version, value)) = staged(client, signing, stage).await? else {
            continue;
        };
        if keys
            .iter()
            .any(|k: &authgate_token::Key| k.kid() == version)
        {
            continue;
        }
        let key = parse_secret_key(signing, &version, &value)
            .map_err(|e| RotationError::Unpublishable(Box::new(e)))?;
        keys.push(key);
    }
    let set = KeySet::verifying(keys).map_err(|e| RotationError::Unpublishable(Box::new(e)))?;
    let jwks = set.public_jwks().to_string();
    if staged(client, public, STAGE_CURRENT).await?.map(|(_, v)| v) == Some(jwks.clone()) {
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
