//! The stack's `Custom::SigningKeys` resource: at every create and update, the signing secret
//! gets a real key if it holds the template's RS256 placeholder, and its public keys are
//! published; then CloudFormation is told, always, so a deploy never waits out a timeout.

use authgate_keys::{STAGE_CURRENT, STAGE_PREVIOUS, parse_secret_key};
use serde::Deserialize;

use crate::{RotateKey, RotationError, aws, new_key_json, publish};

/// The custom resource type the template declares.
pub const SETUP_RESOURCE_TYPE: &str = "Custom::SigningKeys";

/// The length of the `k` the template's `GenerateSecretString` writes: for RS256 that random
/// string is not a key, only the sign that no RSA key has been made yet.
pub const RS256_PLACEHOLDER_LEN: usize = 64;

/// A CloudFormation custom resource request (Create, Update or Delete): the fields an answer
/// copies back, and the properties.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Request {
    request_type: String,
    #[serde(rename = "ResponseURL")]
    response_url: String,
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
    /// Absent from a Create, which chooses it.
    physical_resource_id: Option<String>,
    #[serde(default)]
    resource_properties: serde_json::Value,
}

/// The resource's properties in the template.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Properties {
    signing_key_secret_id: String,
}

/// The first version of an RS256 secret as the template made it: `{"alg": "RS256", "k": <64
/// letters and digits>}`. Anything else that does not parse is a broken key, never replaced.
fn is_rs256_placeholder(value: &str) -> bool {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Placeholder {
        alg: String,
        k: String,
    }
    serde_json::from_str::<Placeholder>(value).is_ok_and(|p| {
        p.alg == "RS256"
            && p.k.len() == RS256_PLACEHOLDER_LEN
            && p.k.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Replaces the template's RS256 placeholder in `signing` by a random RSA-2048 key, which
/// becomes `AWSCURRENT`; the placeholder loses every label, so no process ever loads it.
async fn replace_placeholder(rotator: &RotateKey, signing: &str) -> Result<(), RotationError> {
    let client = &rotator.client;
    let current = client
        .get_secret_value()
        .secret_id(signing)
        .version_stage(STAGE_CURRENT)
        .send()
        .await
        .map_err(aws)?;
    let version = current.version_id().unwrap_or_default().to_owned();
    let value = current.secret_string().unwrap_or_default();
    let Err(broken) = parse_secret_key(signing, &version, value) else {
        return Ok(());
    };
    if !is_rs256_placeholder(value) {
        return Err(RotationError::BadCurrentKey(broken));
    }
    let key = new_key_json("RS256").map_err(|e| RotationError::BadPendingKey(Box::new(e)))?;
    let created = client
        .put_secret_value()
        .secret_id(signing)
        .client_request_token(uuid::Uuid::new_v4().to_string())
        .secret_string(key)
        .version_stages(STAGE_CURRENT)
        .send()
        .await
        .map_err(aws)?;
    client
        .update_secret_version_stage()
        .secret_id(signing)
        .version_stage(STAGE_PREVIOUS)
        .remove_from_version_id(&version)
        .send()
        .await
        .map_err(aws)?;
    tracing::info!(
        version = created.version_id().unwrap_or_default(),
        "the template's RS256 placeholder replaced by a random RSA-2048 key"
    );
    Ok(())
}

/// Does a create or update, then answers CloudFormation. Only a failure to answer is an error of
/// the invocation: a failed setup is reported to CloudFormation (which rolls the stack back) and
/// logged, and a retried invocation would only repeat it.
pub(crate) async fn answer(rotator: &RotateKey, request: Request) -> Result<(), RotationError> {
    let Request {
        request_type: kind,
        response_url: url,
        stack_id: stack,
        request_id,
        logical_resource_id: logical,
        physical_resource_id: physical,
        resource_properties: properties,
    } = request;
    let kind = kind.as_str();
    let parsed = serde_json::from_value::<Properties>(properties);
    let outcome = match (kind, &parsed) {
        ("Delete", _) => Ok(()),
        ("Create" | "Update", Ok(props)) => prepare(rotator, &props.signing_key_secret_id).await,
        ("Create" | "Update", Err(e)) => Err(format!("bad properties: {e}")),
        (other, _) => Err(format!("unknown request type {other:?}")),
    };
    let physical = physical.unwrap_or_else(|| match &parsed {
        Ok(props) => format!("{}#signing-keys", props.signing_key_secret_id),
        Err(_) => logical.clone(),
    });
    let mut body = serde_json::json!({
        "Status": if outcome.is_ok() { "SUCCESS" } else { "FAILED" },
        "PhysicalResourceId": physical,
        "StackId": stack,
        "RequestId": request_id,
        "LogicalResourceId": logical,
    });
    if let Err(reason) = &outcome {
        tracing::error!(request = kind, error = %reason, "signing-key setup failed");
        // The whole answer must stay under CloudFormation's 4096 bytes.
        body["Reason"] = reason.chars().take(1000).collect::<String>().into();
    }
    rotator
        .http
        .put(&url)
        .body(body.to_string())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(RotationError::Respond)?;
    tracing::info!(
        request = kind,
        ok = outcome.is_ok(),
        "CloudFormation answered"
    );
    Ok(())
}

async fn prepare(rotator: &RotateKey, signing: &str) -> Result<(), String> {
    let steps = async {
        replace_placeholder(rotator, signing).await?;
        publish(&rotator.client, signing, &rotator.public_keys).await
    };
    steps.await.map_err(|e| authgate_http::error_chain(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_templates_rs256_first_version_counts_as_a_placeholder() {
        let k = "a".repeat(RS256_PLACEHOLDER_LEN);
        assert!(is_rs256_placeholder(&format!(
            r#"{{"alg":"RS256","k":"{k}"}}"#
        )));
        for other in [
            format!(r#"{{"alg":"ES256","k":"{k}"}}"#),
            format!(r#"{{"alg":"RS256","k":"{k}a"}}"#),
            format!(r#"{{"alg":"RS256","k":"{}!"}}"#, &k[1..]),
            format!(r#"{{"alg":"RS256","k":"{k}","x":1}}"#),
            "not json".to_owned(),
        ] {
            assert!(!is_rs256_placeholder(&other), "{other}");
        }
    }
}
