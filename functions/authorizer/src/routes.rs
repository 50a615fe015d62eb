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
//!
//! IAM's `*` matches any run of characters, `/` included, so `GET /items/{id}` (`…/GET/items/*`)
//! also matches `GET /items/1/admin`, and `ANY /x` (`…/*/x`) matches `DELETE /x`. No IAM pattern
//! can stop at a segment's end, so a rule set in which a less demanding rule's pattern reaches a
//! path that API Gateway routes to another rule is refused when the authorizer starts
//! ([`RouteRules::check_coverage`]), as are routes named twice (in any letter case, or with other
//! parameter names) and JSON that names a member twice.

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
    #[error("the route {0:?} is named twice")]
    Repeated(String),
    #[error("{0:?} is not an API id (letters and digits)")]
    BadApi(String),
    #[error(
        "the rule for {wider:?} needs less than the one for {narrower:?}, and its policy pattern \
         {pattern:?} also matches requests routed to {narrower:?} (an IAM * crosses /): give \
         {wider:?} at least the permissions of {narrower:?}, or move one of them"
    )]
    Covers {
        wider: String,
        narrower: String,
        pattern: String,
    },
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
    /// `METHOD /path`, as the rule is named.
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The route with its parameters' names left out: two rules with the same shape are one
    /// route to API Gateway.
    fn shape(&self) -> (String, Vec<Segment<'_>>) {
        (self.method.clone(), segments(&self.path))
    }

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
        Self::from_value(strict(json)?)
    }

    fn from_value(value: serde_json::Value) -> Result<Self, RouteRulesError> {
        let map: std::collections::BTreeMap<String, BTreeSet<String>> =
            serde_json::from_value(value).map_err(|e| RouteRulesError::Format(e.to_string()))?;
        let mut rules = Self::default();
        for (route, permissions) in map {
            let (method, path) = route
                .split_once(' ')
                .filter(|(m, p)| !m.is_empty() && p.starts_with('/') && !p.contains(' '))
                .ok_or_else(|| RouteRulesError::BadRoute(route.clone()))?;
            rules.add(
                RouteRule {
                    method: method.to_ascii_uppercase(),
                    path: path.to_owned(),
                    permissions,
                },
                RouteRulesError::Repeated,
            )?;
        }
        Ok(rules)
    }

    /// Adds `rule`, or `twice(its name)` when a rule of the same shape is already here.
    fn add(
        &mut self,
        rule: RouteRule,
        twice: fn(String) -> RouteRulesError,
    ) -> Result<(), RouteRulesError> {
        if self.0.iter().any(|r| r.shape() == rule.shape()) {
            return Err(twice(rule.name()));
        }
        self.0.push(rule);
        Ok(())
    }

    /// Refuses the rules if a less demanding rule's policy pattern matches a request that API
    /// Gateway routes to another rule, which would let a token through that the other rule
    /// refuses. A request matched by a rule's pattern and by a more specific rule's route goes
    /// to the more specific one (a literal segment before a parameter, a parameter before a
    /// greedy `{proxy+}`, a method before `ANY`), as API Gateway routes.
    pub fn check_coverage(&self) -> Result<(), RouteRulesError> {
        for wider in &self.0 {
            for narrower in &self.0 {
                if std::ptr::eq(wider, narrower)
                    || wider.permissions.is_superset(&narrower.permissions)
                {
                    continue;
                }
                if coverage::reaches(wider, narrower) {
                    return Err(RouteRulesError::Covers {
                        wider: wider.name(),
                        narrower: narrower.name(),
                        pattern: wider.resource("…"),
                    });
                }
            }
        }
        Ok(())
    }

    /// These rules and `extra`'s, which must name other routes.
    pub fn merged(mut self, extra: RouteRules) -> Result<Self, RouteRulesError> {
        for rule in extra.0 {
            self.add(rule, RouteRulesError::Twice)?;
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

/// JSON that names no member twice.
fn strict(json: &str) -> Result<serde_json::Value, RouteRulesError> {
    authgate_token::strict_json::from_slice(json.as_bytes())
        .map_err(|e| RouteRulesError::Format(e.to_string()))
}

/// The rules of every API the authorizer guards: authgate's own (with any `EXTRA_ROUTE_PERMISSIONS`
/// given for every API), and rules of their own for the APIs `EXTRA_ROUTE_PERMISSIONS` names by
/// id, which replace authgate's for those APIs, so that a route of another API is never judged
/// by a rule of authgate's that has the same path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiRules {
    own: RouteRules,
    by_api: std::collections::BTreeMap<String, RouteRules>,
}

impl ApiRules {
    /// `own` (`ROUTE_PERMISSIONS`) and `extra` (`EXTRA_ROUTE_PERMISSIONS`): either routes
    /// (`{"GET /items": []}`, added to authgate's) or API ids to routes (`{"a1b2c3d4e5":
    /// {"GET /items": []}}`). Each set is checked with [`RouteRules::check_coverage`].
    pub fn parse(own: &str, extra: &str) -> Result<Self, RouteRulesError> {
        let own = RouteRules::parse(own)?;
        let mut rules = Self::default();
        if extra.trim().is_empty() {
            rules.own = own;
        } else {
            let value = strict(extra)?;
            let per_api = value
                .as_object()
                .is_some_and(|m| !m.is_empty() && m.values().all(serde_json::Value::is_object));
            if per_api {
                let serde_json::Value::Object(apis) = value else {
                    return Err(RouteRulesError::Format("not an object".into()));
                };
                for (api, routes) in apis {
                    if api.is_empty() || !api.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return Err(RouteRulesError::BadApi(api));
                    }
                    rules.by_api.insert(api, RouteRules::from_value(routes)?);
                }
                rules.own = own;
            } else {
                rules.own = own.merged(RouteRules::from_value(value)?)?;
            }
        }
        rules.own.check_coverage()?;
        for routes in rules.by_api.values() {
            routes.check_coverage()?;
        }
        Ok(rules)
    }

    /// The rules for the API of `stage_arn` (`arn:…:execute-api:region:account:api/stage`).
    pub fn for_stage(&self, stage_arn: &str) -> &RouteRules {
        let api = stage_arn
            .rsplit(':')
            .next()
            .and_then(|resource| resource.split('/').next())
            .unwrap_or_default();
        self.by_api.get(api).unwrap_or(&self.own)
    }

    /// authgate's own rules, for checking them against the template.
    pub fn own(&self) -> &RouteRules {
        &self.own
    }
}

/// A path segment as API Gateway routes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    /// `{name}`: one segment.
    Param,
    /// `{name+}`: one or more segments.
    Greedy,
}

impl Segment<'_> {
    /// How specific API Gateway holds the segment when it chooses a route.
    fn rank(self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param => 1,
            Segment::Greedy => 0,
        }
    }
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    path.trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if name.ends_with('+') => Segment::Greedy,
                Some(_) => Segment::Param,
                None => Segment::Literal(s),
            },
        )
        .collect()
}

mod coverage {
    //! Whether one rule's policy pattern reaches requests routed to another: the intersection of
    //! two patterns over characters, each a sequence of pieces, decided by walking both at once.

    use super::{RouteRule, Segment, segments};

    /// One piece of a pattern, matching characters.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Piece {
        /// This character.
        Char(char),
        /// Any run of characters, `/` included, maybe empty (IAM's `*`).
        AnyRun,
        /// One character other than `/`.
        NotSlash,
        /// Any run of characters other than `/`, maybe empty.
        NotSlashRun,
    }

    impl Piece {
        /// Whether the piece repeats (or may be skipped), rather than taking one character.
        fn is_run(self) -> bool {
            matches!(self, Piece::AnyRun | Piece::NotSlashRun)
        }

        /// Whether some character is taken by both pieces.
        fn overlaps(self, other: Piece) -> bool {
            match (self, other) {
                (Piece::Char(a), Piece::Char(b)) => a == b,
                (Piece::Char(c), Piece::NotSlash | Piece::NotSlashRun)
                | (Piece::NotSlash | Piece::NotSlashRun, Piece::Char(c)) => c != '/',
                _ => true,
            }
        }
    }

    fn text(pieces: &mut Vec<Piece>, text: &str) {
        pieces.extend(text.chars().map(Piece::Char));
    }

    /// The requests a rule's policy pattern allows: `METHOD/path`, with `*` for `ANY` and for
    /// each parameter; `crossing` makes the `*` at that place (0: the method, then the
    /// parameters in order) span a `/`, as no request routed to the rule itself does.
    fn pattern(rule: &RouteRule, crossing: Option<usize>) -> Vec<Piece> {
        let wildcard = |pieces: &mut Vec<Piece>, place: usize| {
            if crossing == Some(place) {
                pieces.extend([Piece::AnyRun, Piece::Char('/'), Piece::AnyRun]);
            } else {
                pieces.push(Piece::AnyRun);
            }
        };
        let mut pieces = Vec::new();
        if rule.method == "ANY" {
            wildcard(&mut pieces, 0);
        } else {
            text(&mut pieces, &rule.method);
        }
        let mut param = 0;
        for segment in segments(&rule.path) {
            pieces.push(Piece::Char('/'));
            match segment {
                Segment::Literal(s) => text(&mut pieces, s),
                Segment::Param => {
                    param += 1;
                    wildcard(&mut pieces, param);
                }
                Segment::Greedy => pieces.push(Piece::AnyRun),
            }
        }
        pieces
    }

    /// The places of a rule's pattern where a `*` stands for one segment (or the method).
    fn single_segment_stars(rule: &RouteRule) -> Vec<usize> {
        let mut places = Vec::new();
        if rule.method == "ANY" {
            places.push(0);
        }
        let params = segments(&rule.path)
            .into_iter()
            .filter(|s| *s == Segment::Param)
            .count();
        places.extend(1..=params);
        places
    }

    /// The requests API Gateway routes by a rule's route: `METHOD/path`, any method for `ANY`,
    /// one segment for a parameter, one or more for a greedy one.
    fn route(rule: &RouteRule) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if rule.method == "ANY" {
            pieces.extend([Piece::NotSlash, Piece::NotSlashRun]);
        } else {
            text(&mut pieces, &rule.method);
        }
        for segment in segments(&rule.path) {
            pieces.push(Piece::Char('/'));
            match segment {
                Segment::Literal(s) => text(&mut pieces, s),
                Segment::Param => pieces.extend([Piece::NotSlash, Piece::NotSlashRun]),
                Segment::Greedy => pieces.extend([Piece::NotSlash, Piece::AnyRun]),
            }
        }
        pieces
    }

    /// Whether some string matches both `a` and `b`.
    fn intersect(a: &[Piece], b: &[Piece]) -> bool {
        let mut seen = vec![vec![false; b.len() + 1]; a.len() + 1];
        let mut todo = vec![(0, 0)];
        while let Some((i, j)) = todo.pop() {
            if std::mem::replace(&mut seen[i][j], true) {
                continue;
            }
            if i == a.len() && j == b.len() {
                return true;
            }
            let (pa, pb) = (a.get(i).copied(), b.get(j).copied());
            if pa.is_some_and(Piece::is_run) {
                todo.push((i + 1, j));
            }
            if pb.is_some_and(Piece::is_run) {
                todo.push((i, j + 1));
            }
            if let (Some(pa), Some(pb)) = (pa, pb)
                && pa.overlaps(pb)
            {
                let next_i = if pa.is_run() { i } else { i + 1 };
                let next_j = if pb.is_run() { j } else { j + 1 };
                todo.push((next_i, next_j));
            }
        }
        false
    }

    /// Whether `a`'s route takes a request that `b`'s route also matches, by API Gateway's
    /// order: segment by segment a literal before a parameter before a greedy parameter, then a
    /// method before `ANY`.
    fn more_specific(a: &RouteRule, b: &RouteRule) -> bool {
        let (sa, sb) = (segments(&a.path), segments(&b.path));
        for (x, y) in sa.iter().zip(&sb) {
            if x.rank() != y.rank() {
                return x.rank() > y.rank();
            }
        }
        sa.len() == sb.len() && a.method != "ANY" && b.method == "ANY"
    }

    /// Whether `wider`'s policy pattern matches a request that API Gateway routes to `narrower`.
    pub(super) fn reaches(wider: &RouteRule, narrower: &RouteRule) -> bool {
        let target = route(narrower);
        if more_specific(wider, narrower) {
            // The requests both routes match go to `wider`; only a `*` spanning a `/` reaches
            // past them.
            single_segment_stars(wider)
                .into_iter()
                .any(|star| intersect(&pattern(wider, Some(star)), &target))
        } else {
            intersect(&pattern(wider, None), &target)
        }
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

    fn refusal(json: &str) -> RouteRulesError {
        RouteRules::parse(json)
            .and_then(|rules| rules.check_coverage().map(|()| rules))
            .expect_err(json)
    }

    fn accepted(json: &str) {
        let rules = RouteRules::parse(json).expect(json);
        assert_eq!(rules.check_coverage(), Ok(()), "{json}");
    }

    #[test]
    fn a_less_demanding_pattern_that_reaches_another_rules_route_is_refused() {
        for (json, wider, narrower) in [
            (
                r#"{"GET /items/{id}": [], "GET /items/{id}/admin": ["admin"]}"#,
                "GET /items/{id}",
                "GET /items/{id}/admin",
            ),
            (
                r#"{"GET /items/{id}": [], "GET /items/admin": ["admin"]}"#,
                "GET /items/{id}",
                "GET /items/admin",
            ),
            (
                r#"{"ANY /x": [], "DELETE /x": ["admin"]}"#,
                "ANY /x",
                "DELETE /x",
            ),
            (
                r#"{"ANY /users": [], "GET /admin/users": ["admin"]}"#,
                "ANY /users",
                "GET /admin/users",
            ),
            (
                r#"{"GET /a/{x}/c": [], "GET /a/b/{y}/c": ["admin"]}"#,
                "GET /a/{x}/c",
                "GET /a/b/{y}/c",
            ),
            (
                r#"{"GET /files/{proxy+}": ["read"], "GET /files/secret/{id}": ["read", "admin"]}"#,
                "GET /files/{proxy+}",
                "GET /files/secret/{id}",
            ),
        ] {
            match refusal(json) {
                RouteRulesError::Covers {
                    wider: w,
                    narrower: n,
                    ..
                } => assert_eq!((w.as_str(), n.as_str()), (wider, narrower), "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    #[test]
    fn rules_whose_patterns_reach_only_their_own_routes_are_accepted() {
        accepted(
            r#"{"GET /users/me": [], "PATCH /users/me": [], "POST /auth/logout": [], "POST /auth/logout-all": [],
                "GET /users": ["users:read"], "GET /users/{id}": ["users:read"],
                "PATCH /users/{id}": ["users:write"], "DELETE /users/{id}": ["users:write"]}"#,
        );
        accepted(r#"{"GET /items/{id}": ["r"], "GET /items/public": []}"#);
        accepted(r#"{"GET /items/{id}": ["admin"], "GET /items/{id}/admin": ["admin"]}"#);
        accepted(r#"{"GET /a/{id}": [], "GET /b/{id}": ["x"], "GET /ab": ["y"]}"#);
        accepted(r#"{"DELETE /x": ["admin"], "ANY /x": ["admin", "more"]}"#);
        assert_eq!(rules().check_coverage(), Ok(()));
    }

    #[test]
    fn a_route_named_twice_is_refused_whatever_its_case_parameter_names_or_json() {
        for json in [
            r#"{"get /x": [], "GET /x": ["admin"]}"#,
            r#"{"GET /u/{id}": [], "GET /u/{uid}": ["admin"]}"#,
            r#"{"GET /x": ["admin"], "GET /x": []}"#,
        ] {
            let err = refusal(json);
            assert!(
                matches!(
                    err,
                    RouteRulesError::Repeated(_) | RouteRulesError::Format(_)
                ),
                "{json}: {err:?}"
            );
        }
    }

    #[test]
    fn another_apis_rules_replace_authgates_for_that_api_only() {
        const OTHER: &str = "arn:aws:execute-api:eu-west-1:123456789012:zzz999/Prod";
        let rules = ApiRules::parse(
            r#"{"GET /users/me": []}"#,
            r#"{"zzz999": {"GET /users/me": ["admin"], "GET /items": []}}"#,
        )
        .unwrap();
        let none = |_: &str| false;
        assert_eq!(
            rules.for_stage(STAGE).allowed(STAGE, none),
            [format!("{STAGE}/GET/users/me")],
            "authgate's API: its own rules"
        );
        assert_eq!(
            rules.for_stage(OTHER).allowed(OTHER, none),
            [format!("{OTHER}/GET/items")],
            "the other API's GET /users/me needs admin there, whatever authgate's rule says"
        );
        let shared = ApiRules::parse(r#"{"GET /users/me": []}"#, r#"{"GET /items": []}"#).unwrap();
        assert_eq!(
            shared.for_stage(OTHER).rules().len(),
            2,
            "routes for every API"
        );
        for bad in [
            r#"{"zzz 999": {"GET /x": []}}"#,
            r#"{"zzz999": {"GET /x": []}, "GET /y": []}"#,
            r#"{"zzz999": {"GET /x/{id}": [], "GET /x/{id}/admin": ["admin"]}}"#,
        ] {
            assert!(ApiRules::parse("", bad).is_err(), "{bad}");
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
