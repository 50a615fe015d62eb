//! Which permission each route needs, and the one policy per token that says so.
//!
//! The rules come from `ROUTE_PERMISSIONS`, set beside the authorizer in `template.yaml`: a JSON
//! object from `"METHOD /path"` (as the route's `Api` event declares it) to the permissions that
//! route needs, all of them; `[]` means any valid token. API Gateway caches one policy per token
//! and reuses it for every route (`AuthorizerCacheTtlSeconds`), so the policy must be right for
//! every route at once: it allows exactly the listed routes whose permissions the token has. A
//! route's `{param}` and `{proxy+}` become `*` in its resource ARN.
//!
//! Without `ROUTE_PERMISSIONS`, every valid token may call every route, as before rules existed.

use std::collections::BTreeSet;

/// Why `ROUTE_PERMISSIONS` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteRulesError {
    #[error("ROUTE_PERMISSIONS is not a JSON object of \"METHOD /path\" to permission lists: {0}")]
    Format(String),
    #[error("ROUTE_PERMISSIONS names {0:?}, which is not \"METHOD /path\"")]
    BadRoute(String),
    #[error("the route {0:?} has rules in both ROUTE_PERMISSIONS and EXTRA_ROUTE_PERMISSIONS")]
    Twice(String),
}

/// One protected route and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// The path as the template declares it, e.g. `/users/{id}`.
    pub path: String,
    /// Every permission the token must have.
    pub permissions: BTreeSet<String>,
}

impl RouteRule {
    /// The route's resource under a stage ARN (`arn:…:api/stage`), as a policy names it.
    fn resource(&self, stage_arn: &str) -> String {
        let method = if self.method == "ANY" {
            "*"
        } else {
            &self.method
        };
        let path: Vec<&str> = self
            .path
            .trim_start_matches('/')
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    "*"
                } else {
                    segment
                }
            })
            .collect();
        format!("{stage_arn}/{method}/{}", path.join("/"))
    }
}

/// The routes the authorizer guards with permissions; empty means no rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRules(Vec<RouteRule>);

impl RouteRules {
    /// From the JSON of `ROUTE_PERMISSIONS`; blank means no rules.
    pub fn parse(json: &str) -> Result<Self, RouteRulesError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        let map: std::collections::BTreeMap<String, BTreeSet<String>> =
            serde_json::from_str(json).map_err(|e| RouteRulesError::Format(e.to_string()))?;
        let mut rules = Vec::new();
        for (route, permissions) in map {
            let (method, path) = route
                .split_once(' ')
                .filter(|(m, p)| !m.is_empty() && p.starts_with('/') && !p.contains(' '))
                .ok_or_else(|| RouteRulesError::BadRoute(route.clone()))?;
            rules.push(RouteRule {
                method: method.to_ascii_uppercase(),
                path: path.to_owned(),
                permissions,
            });
        }
        Ok(Self(rules))
    }

    /// These rules and `extra`'s, which must name other routes.
    pub fn merged(mut self, extra: RouteRules) -> Result<Self, RouteRulesError> {
        for rule in extra.0 {
            if self
                .0
                .iter()
                .any(|r| r.method == rule.method && r.path == rule.path)
            {
                return Err(RouteRulesError::Twice(format!(
                    "{} {}",
                    rule.method, rule.path
                )));
            }
            self.0.push(rule);
        }
        Ok(self)
    }

    /// The rules, for checking them against the template.
    pub fn rules(&self) -> &[RouteRule] {
        &self.0
    }

    /// The resources a token may invoke under `stage_arn`, `granted` saying whether it has a
    /// permission: every route when there are no rules (nothing asked of the token), else
    /// exactly the listed routes whose permissions it has.
    pub fn allowed(&self, stage_arn: &str, granted: impl Fn(&str) -> bool) -> Vec<String> {
        if self.0.is_empty() {
            return vec![format!("{stage_arn}/*/*")];
        }
        self.0
            .iter()
            .filter(|rule| rule.permissions.iter().all(|p| granted(p)))
            .map(|rule| rule.resource(stage_arn))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const STAGE: &str = "arn:aws:execute-api:eu-west-1:123456789012:abc/Prod";

    fn has<'a>(granted: &'a BTreeSet<&str>) -> impl Fn(&str) -> bool + 'a {
        |p| granted.contains(p)
    }

    fn rules() -> RouteRules {
        RouteRules::parse(
            r#"{"GET /users/me": [], "GET /users": ["users:read"], "PATCH /users/{id}": ["users:write"],
                "ANY /files/{proxy+}": ["files:read", "files:write"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_token_is_allowed_exactly_the_routes_its_permissions_satisfy() {
        let none = rules().allowed(STAGE, has(&BTreeSet::new()));
        assert_eq!(none, [format!("{STAGE}/GET/users/me")]);
        let reader = rules().allowed(STAGE, has(&BTreeSet::from(["users:read", "files:read"])));
        assert_eq!(
            reader,
            [
                format!("{STAGE}/GET/users"),
                format!("{STAGE}/GET/users/me")
            ]
        );
        let all = rules().allowed(
            STAGE,
            has(&BTreeSet::from([
                "users:read",
                "users:write",
                "files:read",
                "files:write",
            ])),
        );
        assert!(all.contains(&format!("{STAGE}/PATCH/users/*")));
        assert!(all.contains(&format!("{STAGE}/*/files/*")));
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn without_rules_every_route_is_allowed() {
        assert_eq!(
            RouteRules::default().allowed(STAGE, has(&BTreeSet::new())),
            [format!("{STAGE}/*/*")]
        );
        assert_eq!(RouteRules::parse("  ").unwrap(), RouteRules::default());
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            r#"["GET /x"]"#,
            r#"{"/x": []}"#,
            r#"{"GET x": []}"#,
            r#"{"GET /x": "p"}"#,
        ] {
            assert!(RouteRules::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_for_fifty_routes_stays_far_below_8_kib() {
        let json: serde_json::Map<String, serde_json::Value> = (0..50)
            .map(|i| {
                (
                    format!("GET /resource-{i:02}/{{id}}/items"),
                    serde_json::json!(["p"]),
                )
            })
            .collect();
        let rules = RouteRules::parse(&serde_json::Value::Object(json).to_string()).unwrap();
        let resources = rules.allowed(STAGE, has(&BTreeSet::from(["p"])));
        assert_eq!(resources.len(), 50);
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": resources}]});
        let size = policy.to_string().len();
        println!("policy for 50 routes: {size} bytes");
        assert!(size < 8 * 1024, "{size} bytes");
    }

    #[test]
    fn extra_rules_add_other_apis_routes_and_may_not_restate_one() {
        let merged = rules()
            .merged(RouteRules::parse(r#"{"GET /items": ["items:read"]}"#).unwrap())
            .unwrap();
        let granted = BTreeSet::from(["items:read"]);
        let allowed = merged.allowed(STAGE, has(&granted));
        assert!(
            allowed.contains(&format!("{STAGE}/GET/items")),
            "{allowed:?}"
        );
        assert!(allowed.contains(&format!("{STAGE}/GET/users/me")));
        let twice = rules().merged(RouteRules::parse(r#"{"get /users/me": []}"#).unwrap());
        assert_eq!(
            twice.err(),
            Some(RouteRulesError::Twice("GET /users/me".into()))
        );
    }
}
