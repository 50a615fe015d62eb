//! IAM policies: the one an answer carries, and how IAM evaluates it for a method ARN.

use authgate_token::AuthorizerContext;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};

use crate::decision::Refusal;

/// The IAM-policy answer, with the context protected functions receive.
pub type Policy = ApiGatewayCustomAuthorizerResponse<AuthorizerContext>;

/// `*` and `?` wildcards, as IAM matches policy resources.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// IAM's evaluation of an authorizer policy for one method or route ARN: an explicit Deny wins,
/// then an Allow; nothing allowed is denied.
pub fn policy_allows(response: &Policy, arn: &str) -> bool {
    let matching = |effect: IamPolicyEffect| {
        response.policy_document.statement.iter().any(|s| {
            s.effect == effect
                && s.action
                    .iter()
                    .any(|a| wildcard_match(a, "execute-api:Invoke"))
                && s.resource.iter().any(|r| wildcard_match(r, arn))
        })
    };
    !matching(IamPolicyEffect::Deny) && matching(IamPolicyEffect::Allow)
}

/// An answer in the shape its event's kind expects, serialized once, by the Lambda runtime.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// An IAM policy: REST APIs, HTTP API payload 1.0, and 2.0 without simple responses.
    Policy(Policy),
    /// An HTTP API payload 2.0 simple response.
    Simple {
        #[serde(rename = "isAuthorized")]
        is_authorized: bool,
        context: AuthorizerContext,
    },
}

/// `arn:aws:execute-api:region:account:api/stage/METHOD/path` → `arn:...:api/stage`, the
/// method ARN's own prefix.
pub fn stage_arn(method_arn: &str) -> Result<&str, Refusal> {
    let mut fields = method_arn.splitn(6, ':');
    let (Some(arn), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(Refusal::BadMethodArn);
    };
    let mut path = resource.splitn(3, '/');
    let (Some(api), Some(stage)) = (path.next(), path.next()) else {
        return Err(Refusal::BadMethodArn);
    };
    if arn != "arn"
        || service != "execute-api"
        || [partition, region, account, api, stage]
            .iter()
            .any(|p| p.is_empty())
    {
        return Err(Refusal::BadMethodArn);
    }
    let end = method_arn.len() - resource.len() + api.len() + 1 + stage.len();
    Ok(&method_arn[..end])
}

/// The policy for `principal`: Allow on `resources`, or an explicit Deny on the whole stage when
/// it may call none of them; with `context` for downstream functions.
pub(crate) fn policy(
    principal: String,
    stage: &str,
    resources: Vec<String>,
    context: AuthorizerContext,
) -> Policy {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    if resources.is_empty() {
        statement.effect = IamPolicyEffect::Deny;
        statement.resource = vec![format!("{stage}/*/*")];
    } else {
        statement.effect = IamPolicyEffect::Allow;
        statement.resource = resources;
    }
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = Policy::default();
    response.principal_id = Some(principal);
    response.policy_document = policy;
    response.context = context;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_arn_is_read_from_the_method_arn() {
        assert_eq!(
            stage_arn("arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod/GET/users/me"),
            Ok("arn:aws:execute-api:eu-west-1:123456789012:abc123/Prod")
        );
        assert_eq!(
            stage_arn("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev/POST/"),
            Ok("arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev")
        );
    }

    #[test]
    fn unreadable_method_arns_are_refused() {
        for bad in [
            "",
            "arn:aws:execute-api:eu-west-1:123456789012:abc123",
            "arn:aws:lambda:eu-west-1:123456789012:abc/Prod/GET/x",
            "arn:aws:execute-api::123456789012:abc/Prod/GET/x",
            "not-an-arn",
        ] {
            assert_eq!(stage_arn(bad), Err(Refusal::BadMethodArn), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match(
            "arn:x:api/Prod/*/*",
            "arn:x:api/Prod/GET/users/me"
        ));
        assert!(wildcard_match("execute-api:*", "execute-api:Invoke"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match(
            "arn:x:api/Prod/GET/*",
            "arn:x:api/Prod/POST/users"
        ));
        assert!(!wildcard_match("arn:x:api/Dev/*", "arn:x:api/Prod/GET/x"));
        assert!(wildcard_match("*", ""));
    }
}
