//! What the template's IAM policies allow each function, read from `template.yaml` itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate::template::TEMPLATE;
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
    assert_eq!(allowed, authgate_dynamo::SESSION_CHECK_ATTRIBUTES);
    assert_eq!(
        read["Condition"]["StringEqualsIfExists"]["dynamodb:Select"].as_str(),
        Some("SPECIFIC_ATTRIBUTES")
    );
    for private in [
        "password_hash",
        "email",
        "email_normalized",
        "roles",
        "claims",
    ] {
        assert!(!allowed.contains(&private), "{private}");
    }
}
