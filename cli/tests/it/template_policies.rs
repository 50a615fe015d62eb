//! What the template's IAM policies allow each function, read from `template.yaml` itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate::serve::template::TEMPLATE;
use yaml_serde::Value;

fn statements(function: &str) -> Vec<Value> {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let policies = &template["Resources"][function]["Properties"]["Policies"];
    policies
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has no Policies list"))
        .iter()
        .flat_map(|policy| {
            policy["Statement"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    statement["Action"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_authorizer_may_only_read_its_key_and_the_session_checks_attributes() {
    let statements = statements("AuthorizerFunction");
    let mut all: Vec<String> = statements.iter().flat_map(actions).collect();
    all.sort();
    assert_eq!(
        all,
        ["dynamodb:BatchGetItem", "secretsmanager:GetSecretValue"],
        "the authorizer's actions"
    );
    let read = statements
        .iter()
        .find(|s| actions(s) == ["dynamodb:BatchGetItem"])
        .unwrap();
    let allowed: Vec<&str> = read["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        .as_sequence()
        .expect("the read is limited to named attributes")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mut read_by_checks: Vec<&str> = authgate_dynamo::SESSION_CHECK_ATTRIBUTES
        .into_iter()
        .chain(authgate_dynamo::CLIENT_CHECK_ATTRIBUTES)
        .chain(authgate_dynamo::API_KEY_CHECK_ATTRIBUTES)
        .chain(authgate_dynamo::API_KEY_CHECK_USER_ATTRIBUTES)
        .collect();
    read_by_checks.sort_unstable();
    read_by_checks.dedup();
    let mut allowed_sorted = allowed.clone();
    allowed_sorted.sort_unstable();
    assert_eq!(allowed_sorted, read_by_checks);
    // A read always has a Select, ALL_ATTRIBUTES when it names no attributes (the DynamoDB
    // Developer Guide, "Using IAM policy conditions for fine-grained access control"), so
    // StringEquals, unlike ...IfExists on a key that might be absent, refuses such a read even
    // though ForAllValues holds for its empty attribute list.
    assert_eq!(
        read["Condition"]["StringEquals"]["dynamodb:Select"].as_str(),
        Some("SPECIFIC_ATTRIBUTES")
    );
    assert!(read["Condition"]["StringEqualsIfExists"].is_null());
    for private in [
        "password_hash",
        "email",
        "email_normalized",
        "claims",
        "secret_hash",
        "previous_secret_hash",
    ] {
        assert!(!allowed.contains(&private), "{private}");
    }
}

#[test]
fn login_and_registration_have_their_own_stage_throttles_below_the_default() {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let settings = template["Resources"]["AuthApi"]["Properties"]["MethodSettings"]
        .as_sequence()
        .expect("MethodSettings");
    let default_rate = |name: &str| {
        template["Parameters"][name]["Default"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has a numeric default"))
    };
    let stage_default = settings
        .iter()
        .find(|s| s["ResourcePath"].as_str() == Some("/*"))
        .and_then(|s| s["ThrottlingRateLimit"].as_u64())
        .unwrap();
    for (path, parameter) in [
        ("/~1auth~1login", "LoginRateLimit"),
        ("/~1oauth2~1token", "LoginRateLimit"),
        ("/~1auth~1register", "RegisterRateLimit"),
    ] {
        let setting = settings
            .iter()
            .find(|s| s["ResourcePath"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("no throttle for {path}"));
        assert_eq!(setting["HttpMethod"].as_str(), Some("POST"));
        let Value::Tagged(rate) = &setting["ThrottlingRateLimit"] else {
            panic!("{path}'s rate is a parameter")
        };
        assert_eq!(rate.value.as_str(), Some(parameter));
        assert!(default_rate(parameter) < stage_default, "{parameter}");
    }
}

#[test]
fn the_optional_web_acl_is_off_by_default_and_blocks_an_address_with_a_json_429() {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    assert_eq!(
        template["Parameters"]["WafRequestsPerIpPer5Minutes"]["Default"].as_u64(),
        Some(0)
    );
    let acl = &template["Resources"]["WebAcl"];
    let association = &template["Resources"]["WebAclAssociation"];
    for resource in [acl, association] {
        assert_eq!(resource["Condition"].as_str(), Some("HasWaf"));
    }
    let rule = &acl["Properties"]["Rules"][0];
    assert_eq!(
        rule["Statement"]["RateBasedStatement"]["AggregateKeyType"].as_str(),
        Some("IP")
    );
    let block = &rule["Action"]["Block"]["CustomResponse"];
    assert_eq!(block["ResponseCode"].as_u64(), Some(429));
    let key = block["CustomResponseBodyKey"].as_str().unwrap();
    let body = acl["Properties"]["CustomResponseBodies"][key]["Content"]
        .as_str()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(body["detail"].is_string());
}

#[test]
fn the_stack_exports_what_another_stack_needs_and_lets_its_apis_call_the_authorizer() {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    for output in ["AuthorizerFunctionArn", "Issuer", "Audience", "JwksUrl"] {
        assert!(
            matches!(
                template["Outputs"][output]["Export"]["Name"],
                Value::Tagged(_) | Value::String(_)
            ),
            "{output} is exported"
        );
    }
    let permission = &template["Resources"]["AuthorizerInvokePermission"]["Properties"];
    assert_eq!(
        permission["Principal"].as_str(),
        Some("apigateway.amazonaws.com")
    );
    assert_eq!(permission["Action"].as_str(), Some("lambda:InvokeFunction"));
    let Value::Tagged(source) = &permission["SourceArn"] else {
        panic!("SourceArn is a !Sub")
    };
    let source = source.value.as_str().unwrap();
    assert!(
        source.contains("${AWS::AccountId}:${AuthorizerCallerApis}/authorizers/*"),
        "scoped to this account and the parameter: {source}"
    );
}

/// A template value in a short form that shows its intrinsic functions: `Ref X`,
/// `If[C, Ref A, Ref B]`, `GetAtt X.Y`, or the literal itself.
fn shown(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            match &tagged.value {
                Value::Sequence(items) => format!(
                    "{tag}[{}]",
                    items.iter().map(shown).collect::<Vec<_>>().join(", ")
                ),
                other => format!("{tag} {}", shown(other)),
            }
        }
        Value::String(s) => s.clone(),
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(shown).collect::<Vec<_>>().join(", ")
        ),
        other => yaml_serde::to_string(other).unwrap().trim().to_owned(),
    }
}

/// Every function's Secrets Manager statements, as `(function, resource)`.
fn secret_grants() -> Vec<(String, String)> {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let mut grants = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        for statement in statements(id) {
            if actions(&statement)
                .iter()
                .any(|a| a.starts_with("secretsmanager:"))
            {
                grants.push((id.to_owned(), shown(&statement["Resource"])));
            }
        }
    }
    grants.sort();
    grants
}

#[test]
fn only_the_signing_functions_and_rotation_read_the_signing_secret_and_verifiers_read_public_keys()
{
    assert_eq!(
        secret_grants(),
        [
            (
                "AuthorizerFunction",
                "If[SymmetricKeys, Ref SigningKeySecret, Ref PublicKeysSecret]"
            ),
            ("DiscoveryFunction", "Ref PublicKeysSecret"),
            ("LoginFunction", "Ref SigningKeySecret"),
            ("OAuthFunction", "Ref SigningKeySecret"),
            ("RefreshFunction", "Ref SigningKeySecret"),
            ("RotateKeyFunction", "Ref PublicKeysSecret"),
            ("RotateKeyFunction", "Ref SigningKeySecret"),
        ]
        .map(|(f, r)| (f.to_owned(), r.to_owned()))
    );
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    assert_eq!(
        shown(&template["Conditions"]["SymmetricKeys"]),
        "Equals[Ref SigningAlgorithm, HS256]",
        "the signing secret reaches the authorizer only for HS256"
    );
    let env = |function: &str, name: &str| {
        shown(&template["Resources"][function]["Properties"]["Environment"]["Variables"][name])
    };
    assert_eq!(
        env("AuthorizerFunction", "PUBLIC_KEYS_SECRET_ID"),
        "If[SymmetricKeys, Ref AWS::NoValue, Ref PublicKeysSecret]"
    );
    assert_eq!(
        env("AuthorizerFunction", "SIGNING_KEY_SECRET_ID"),
        "If[SymmetricKeys, Ref SigningKeySecret, Ref AWS::NoValue]"
    );
    assert_eq!(
        env("DiscoveryFunction", "PUBLIC_KEYS_SECRET_ID"),
        "Ref PublicKeysSecret"
    );
    assert_eq!(
        env("RotateKeyFunction", "PUBLIC_KEYS_SECRET_ID"),
        "Ref PublicKeysSecret"
    );
    for function in [
        "DiscoveryFunction",
        "MeFunction",
        "UsersFunction",
        "LogoutFunction",
    ] {
        assert!(
            template["Resources"][function]["Properties"]["Environment"]["Variables"]
                .get("SIGNING_KEY_SECRET_ID")
                .is_none(),
            "{function}"
        );
    }
}

#[test]
fn the_first_rs256_key_is_made_by_the_rotation_function_before_rotation_starts() {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let resources = &template["Resources"];
    let generated = &resources["SigningKeySecret"]["Properties"]["GenerateSecretString"];
    assert_eq!(
        generated["PasswordLength"].as_u64(),
        Some(rotate_key::RS256_PLACEHOLDER_LEN as u64),
        "the placeholder the setup recognises"
    );
    let setup = &resources["SigningKeySetup"];
    assert_eq!(
        setup["Type"].as_str(),
        Some(rotate_key::SETUP_RESOURCE_TYPE)
    );
    assert_eq!(
        shown(&setup["Properties"]["ServiceToken"]),
        "GetAtt RotateKeyFunction.Arn"
    );
    assert_eq!(
        shown(&setup["Properties"]["SigningKeySecretId"]),
        "Ref SigningKeySecret"
    );
    let depends = shown(&resources["SigningKeyRotation"]["DependsOn"]);
    assert!(depends.contains("SigningKeySetup"), "{depends}");
    let allowed = shown(&template["Parameters"]["SigningAlgorithm"]["AllowedValues"]);
    assert!(allowed.contains("RS256"), "{allowed}");
}

/// A DynamoDB action and the partition-key prefixes it may touch.
type Scoped = (&'static str, &'static [&'static str]);

/// The item kinds (partition-key prefixes) each function writes, by DynamoDB action, as traced
/// through the store calls of its handlers; every other function writes nothing.
const WRITES: &[(&str, &[Scoped])] = &[
    (
        "RegisterFunction",
        &[
            ("dynamodb:PutItem", &["user#*", "email#*"]),
            ("dynamodb:UpdateItem", &["throttle#*"]),
        ],
    ),
    (
        "LoginFunction",
        &[
            (
                "dynamodb:PutItem",
                &["throttle#*", "session#*", "refresh#*"],
            ),
            ("dynamodb:UpdateItem", &["throttle#*"]),
            ("dynamodb:ConditionCheckItem", &["user#*"]),
            ("dynamodb:DeleteItem", &["throttle#*"]),
        ],
    ),
    (
        "RefreshFunction",
        &[
            ("dynamodb:PutItem", &["refresh#*"]),
            ("dynamodb:UpdateItem", &["refresh#*", "session#*"]),
            ("dynamodb:ConditionCheckItem", &["user#*"]),
        ],
    ),
    (
        "LogoutFunction",
        &[("dynamodb:UpdateItem", &["session#*", "user#*"])],
    ),
    (
        "ClientsFunction",
        &[
            ("dynamodb:PutItem", &["client#*"]),
            ("dynamodb:DeleteItem", &["client#*"]),
        ],
    ),
    (
        "OAuthFunction",
        &[
            (
                "dynamodb:PutItem",
                &["throttle#*", "session#*", "refresh#*", "revoked#*"],
            ),
            (
                "dynamodb:UpdateItem",
                &["throttle#*", "refresh#*", "session#*"],
            ),
            ("dynamodb:ConditionCheckItem", &["user#*"]),
            ("dynamodb:DeleteItem", &["throttle#*"]),
        ],
    ),
    (
        "MeFunction",
        &[
            (
                "dynamodb:PutItem",
                &[
                    "throttle#*",
                    "email#*",
                    "action#*",
                    "session#*",
                    "refresh#*",
                    "apikey#*",
                ],
            ),
            (
                "dynamodb:UpdateItem",
                &["user#*", "throttle#*", "apikeys#*"],
            ),
            ("dynamodb:ConditionCheckItem", &["user#*"]),
            (
                "dynamodb:DeleteItem",
                &["email#*", "throttle#*", "apikey#*"],
            ),
        ],
    ),
    (
        "UsersFunction",
        &[
            ("dynamodb:PutItem", &["email#*", "action#*"]),
            (
                "dynamodb:UpdateItem",
                &["user#*", "throttle#*", "apikeys#*"],
            ),
            ("dynamodb:DeleteItem", &["user#*", "email#*", "apikey#*"]),
        ],
    ),
    (
        "RecoveryFunction",
        &[
            ("dynamodb:PutItem", &["action#*"]),
            ("dynamodb:UpdateItem", &["user#*", "throttle#*"]),
            ("dynamodb:DeleteItem", &["action#*"]),
        ],
    ),
];

#[test]
fn each_function_writes_only_the_item_kinds_it_owns() {
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let functions: Vec<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect();
    let writes = [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
    ];
    for function in &functions {
        let expected = WRITES
            .iter()
            .find(|(name, _)| name == function)
            .map_or(&[][..], |(_, actions)| *actions);
        for action in writes {
            let granting: Vec<Value> = statements(function)
                .into_iter()
                .filter(|s| actions(s).iter().any(|a| a == action))
                .collect();
            let want = expected.iter().find(|(a, _)| *a == action);
            match want {
                None => assert!(granting.is_empty(), "{function} may not {action}"),
                Some((_, prefixes)) => {
                    assert_eq!(
                        granting.len(),
                        1,
                        "{function}: one statement grants {action}"
                    );
                    let statement = &granting[0];
                    assert_eq!(
                        actions(statement),
                        [action],
                        "{function}: the scoped statement grants only {action}"
                    );
                    let keys: Vec<&str> =
                        statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                            .as_sequence()
                            .unwrap_or_else(|| panic!("{function}: {action} without LeadingKeys"))
                            .iter()
                            .map(|k| k.as_str().unwrap())
                            .collect();
                    assert_eq!(&keys, prefixes, "{function} {action}");
                }
            }
        }
    }
    assert!(functions.len() >= 10, "{functions:?}");
}
