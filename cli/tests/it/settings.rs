//! One source of defaults: the functions' settings with nothing set are the settings the template's
//! parameter defaults give them, and `authgate serve` with no flags builds the functions from the
//! same settings, validated by the same code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate::serve::ServeArgs;
use authgate::serve::template::{ApiSpec, TEMPLATE};
use authgate::settings::SettingsArgs;
use authgate_config::{
    AuthzSettings, PasswordSettings, SessionSettings, ThrottleSettings, TokenSettings,
};
use authgate_runtime::Env;
use clap::{CommandFactory, Parser};

#[derive(Parser)]
struct Serve {
    #[command(flatten)]
    args: ServeArgs,
}

/// What a deployed function's environment holds with every parameter at its default, except the
/// issuer, which the template derives from the stack name.
fn deployed_env() -> Env {
    let spec = ApiSpec::parse(TEMPLATE).unwrap();
    Env::from_pairs(spec.function_environment).with("TOKEN_ISSUER", "urn:authgate:local")
}

#[test]
fn the_functions_defaults_are_the_templates_parameter_defaults() {
    let deployed = deployed_env();
    let unset = Env::default().with("TOKEN_ISSUER", "urn:authgate:local");
    assert_eq!(
        TokenSettings::from_env(&deployed).unwrap(),
        TokenSettings::from_env(&unset).unwrap()
    );
    assert_eq!(
        SessionSettings::from_env(&deployed).unwrap(),
        SessionSettings::from_env(&unset).unwrap()
    );
    assert_eq!(
        AuthzSettings::from_env(&deployed).unwrap(),
        AuthzSettings::from_env(&unset).unwrap()
    );
    assert_eq!(
        PasswordSettings::from_env(&deployed).unwrap(),
        PasswordSettings::from_env(&unset).unwrap()
    );
    assert_eq!(
        ThrottleSettings::from_env(&deployed).unwrap(),
        ThrottleSettings::from_env(&unset).unwrap()
    );
    let spec = ApiSpec::parse(TEMPLATE).unwrap();
    assert_eq!(
        spec.parameter_defaults["SigningAlgorithm"],
        authgate_config::DEFAULT_SIGNING_ALGORITHM
    );
    assert_eq!(spec.parameter_defaults["TrustedIssuers"], "");
}

#[test]
fn serve_without_flags_builds_the_functions_from_the_deployed_defaults() {
    let serve = Serve::try_parse_from(["serve"]).unwrap();
    let env = serve.args.settings.env();
    assert_eq!(
        TokenSettings::from_env(&env).unwrap(),
        TokenSettings::from_env(&deployed_env()).unwrap()
    );
    assert_eq!(
        SessionSettings::from_env(&env).unwrap(),
        SessionSettings::from_env(&deployed_env()).unwrap()
    );
}

#[test]
fn serve_takes_every_variable_the_template_gives_the_functions() {
    let command = Serve::command();
    let flags: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| Some(arg.get_env()?.to_string_lossy().into_owned()))
        .collect();
    let spec = ApiSpec::parse(TEMPLATE).unwrap();
    let mut needed: Vec<&str> = spec
        .function_environment
        .keys()
        .map(String::as_str)
        .collect();
    needed.extend([
        "TOKEN_ISSUER",
        "TRUSTED_ISSUERS",
        "USERS_TABLE",
        "SIGNING_KEY_SECRET_ID",
    ]);
    for name in needed {
        assert!(
            flags.iter().any(|f| f == name),
            "serve has no flag for {name}"
        );
    }
}

#[test]
fn serve_validates_its_settings_as_the_functions_do() {
    let serve = Serve::try_parse_from(["serve", "--leeway", "3600"]).unwrap();
    let err = TokenSettings::from_env(&serve.args.settings.env()).unwrap_err();
    assert!(err.to_string().contains("TOKEN_LEEWAY_SECONDS"), "{err}");
    let serve = Serve::try_parse_from(["serve", "--refresh-reuse-grace", "61"]).unwrap();
    assert!(SessionSettings::from_env(&serve.args.settings.env()).is_err());
    assert_eq!(
        SettingsArgs::default()
            .env()
            .optional("TOKEN_ISSUER")
            .as_deref(),
        Some("urn:authgate:local")
    );
}

/// The authorizer's route rules as the template sets them.
fn route_rules(spec: &ApiSpec) -> authorizer::RouteRules {
    let json = &spec.own_environment["AuthorizerFunction"][authorizer::ROUTE_PERMISSIONS.name];
    authorizer::RouteRules::parse(json).unwrap()
}

/// Rules naming no protected route of the template, and protected routes with no rule.
fn mismatches(spec: &ApiSpec) -> (Vec<String>, Vec<String>) {
    use std::collections::BTreeSet;
    let protected: BTreeSet<String> = spec
        .routes
        .iter()
        .filter(|r| r.protected)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let ruled: BTreeSet<String> = route_rules(spec)
        .rules()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    (
        ruled.difference(&protected).cloned().collect(),
        protected.difference(&ruled).cloned().collect(),
    )
}

#[test]
fn route_rules_name_exactly_the_protected_routes_the_template_declares() {
    let (undeclared, unruled) = mismatches(&ApiSpec::parse(TEMPLATE).unwrap());
    assert_eq!(
        undeclared,
        Vec::<String>::new(),
        "rules for routes the template does not protect"
    );
    assert_eq!(
        unruled,
        Vec::<String>::new(),
        "protected routes every token would be refused"
    );
}

#[test]
fn a_rule_for_an_undeclared_route_and_a_route_without_a_rule_are_both_caught() {
    let edited = TEMPLATE.replace(
        r#""GET /users/me": [], "#,
        r#""GET /admin/reports": ["reports:read"], "#,
    );
    assert_ne!(edited, TEMPLATE, "the template lists GET /users/me");
    let (undeclared, unruled) = mismatches(&ApiSpec::parse(&edited).unwrap());
    assert_eq!(undeclared, ["GET /admin/reports"]);
    assert_eq!(unruled, ["GET /users/me"]);
}

#[derive(Parser)]
struct Settings {
    #[command(flatten)]
    args: SettingsArgs,
}

#[test]
fn every_setting_flag_reaches_the_functions_under_its_variable() {
    let command = Settings::command();
    let flags: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            Some((arg.get_long()?.to_owned(), env))
        })
        .collect();
    assert!(flags.len() > 20, "{flags:?}");
    for (flag, variable) in flags {
        let value = "7";
        let settings = Settings::try_parse_from(["serve", &format!("--{flag}"), value]).unwrap();
        let env = settings.args.env();
        assert_eq!(
            env.optional(&variable).as_deref(),
            Some(value),
            "--{flag} must set {variable}"
        );
    }
}

/// A template value as the configuration reference writes it: in backticks, `|` escaped.
fn code(value: &yaml_serde::Value) -> String {
    let text = match value {
        yaml_serde::Value::String(s) => s.clone(),
        yaml_serde::Value::Number(n) => n.to_string(),
        yaml_serde::Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    };
    format!("`{}`", text.replace('|', "\\|"))
}

/// Whether `value` (a `!Ref`, a `!Sub` or any nesting of them) reads the parameter `name`.
fn reads_parameter(value: &yaml_serde::Value, name: &str) -> bool {
    use yaml_serde::Value;
    match value {
        Value::String(s) => s == name || s.contains(&format!("${{{name}}}")),
        Value::Tagged(tagged) => reads_parameter(&tagged.value, name),
        Value::Sequence(items) => items.iter().any(|v| reads_parameter(v, name)),
        Value::Mapping(map) => map.values().any(|v| reads_parameter(v, name)),
        _ => false,
    }
}

/// The cells of a Markdown table row, split on `|` that is not escaped.
fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = row.trim().trim_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push_str("\\|");
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

#[test]
fn the_configuration_reference_matches_the_template_and_serve() {
    use std::collections::{BTreeMap, BTreeSet};
    use yaml_serde::Value;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let docs = std::fs::read_to_string(docs).unwrap();
    let table = docs
        .split("<!-- parameters:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- parameters:end -->").next())
        .expect("docs/configuration.md has the parameters markers");
    let rows: BTreeMap<String, Vec<String>> = table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells = cells(line);
            (cells[0].trim_matches('`').to_owned(), cells)
        })
        .collect();

    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let parameters = template["Parameters"].as_mapping().unwrap();
    let mut environments = vec![&template["Globals"]["Function"]["Environment"]["Variables"]];
    for resource in template["Resources"].as_mapping().unwrap().values() {
        environments.push(&resource["Properties"]["Environment"]["Variables"]);
    }
    let serve = Serve::command();
    let flags: BTreeMap<String, Option<String>> = serve
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            Some((format!("`--{}`", arg.get_long()?), env))
        })
        .collect();

    let names: BTreeSet<String> = parameters
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rows.keys().cloned().collect::<BTreeSet<_>>(),
        names,
        "one row per template parameter"
    );
    for (name, parameter) in parameters {
        let name = name.as_str().unwrap();
        let row = &rows[name];
        let default = match &parameter["Default"] {
            Value::String(s) if s.is_empty() => "empty".to_owned(),
            value => code(value),
        };
        assert_eq!(row[3], default, "default of {name}");
        let bounds = if let Some(values) = parameter["AllowedValues"].as_sequence() {
            values.iter().map(code).collect::<Vec<_>>().join(", ")
        } else if !parameter["AllowedPattern"].is_null() {
            code(&parameter["AllowedPattern"])
        } else {
            match (
                parameter["MinValue"].as_i64(),
                parameter["MaxValue"].as_i64(),
            ) {
                (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => String::new(),
            }
        };
        assert_eq!(row[4], bounds, "bounds of {name}");
        let variables: BTreeSet<String> = environments
            .iter()
            .filter_map(|vars| vars.as_mapping())
            .flat_map(|vars| vars.iter())
            .filter(|(_, value)| reads_parameter(value, name))
            .map(|(var, _)| format!("`{}`", var.as_str().unwrap()))
            .collect();
        let listed: BTreeSet<String> = row[1]
            .split(", ")
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(listed, variables, "variables set from {name}");
        for flag in row[2].split(", ").filter(|f| !f.is_empty()) {
            let env = flags
                .get(flag)
                .unwrap_or_else(|| panic!("serve has no {flag} (for {name})"));
            if let Some(env) = env {
                assert!(
                    variables.contains(&format!("`{env}`")) || variables.is_empty(),
                    "{flag} reads {env}, not what {name} sets"
                );
            }
        }
    }
}

#[test]
fn every_variable_of_the_template_is_declared_once_with_its_parameters_default_and_bounds() {
    use authgate_config::{Bounds, SETTINGS, Scope};
    use std::collections::BTreeSet;
    use yaml_serde::Value;
    let template: Value = yaml_serde::from_str(TEMPLATE).unwrap();
    let globals = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap();
    let own: Vec<(String, &yaml_serde::Mapping)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(id, resource)| {
            let vars = resource["Properties"]["Environment"]["Variables"].as_mapping()?;
            Some((id.as_str().unwrap().to_owned(), vars))
        })
        .collect();
    let set: BTreeSet<&str> = globals
        .keys()
        .chain(own.iter().flat_map(|(_, vars)| vars.keys()))
        .map(|k| k.as_str().unwrap())
        .collect();
    let declared: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(
        set.difference(&declared).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "variables the template sets that no setting declares"
    );

    for setting in SETTINGS {
        let name = setting.name;
        let in_globals = globals.get(name);
        let setters: BTreeSet<&str> = own
            .iter()
            .filter(|(_, vars)| vars.contains_key(name))
            .map(|(id, _)| id.as_str())
            .collect();
        match setting.scope {
            Scope::Every => {
                assert!(in_globals.is_some(), "{name} is not in Globals");
                assert!(setters.is_empty(), "{name} is also set by {setters:?}");
            }
            Scope::Only(readers) => {
                assert!(
                    in_globals.is_none(),
                    "{name} is in Globals, not only {readers:?}"
                );
                assert_eq!(
                    setters,
                    readers.iter().copied().collect(),
                    "the functions {name} reaches"
                );
            }
            Scope::Local => {
                assert!(in_globals.is_none() && setters.is_empty(), "{name} is set");
            }
        }
        let value = in_globals.or_else(|| own.iter().find_map(|(_, vars)| vars.get(name)));
        let Some(parameter) = setting.parameter else {
            if let Some(value) = value {
                let parameters = template["Parameters"].as_mapping().unwrap();
                for p in parameters.keys() {
                    assert!(
                        !reads_parameter(value, p.as_str().unwrap()),
                        "{name} reads a parameter it does not declare"
                    );
                }
            }
            continue;
        };
        let value = value.unwrap_or_else(|| panic!("{name} comes from {parameter} but is not set"));
        assert!(
            reads_parameter(value, parameter),
            "{name} reads {parameter}"
        );
        let declared = &template["Parameters"][parameter];
        let default = match &declared["Default"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("default of {parameter}: {other:?}"),
        };
        assert_eq!(
            setting.default, default,
            "default of {name} and {parameter}"
        );
        let allowed: Option<Vec<String>> = declared["AllowedValues"].as_sequence().map(|values| {
            values
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        });
        let (min, max) = (declared["MinValue"].as_i64(), declared["MaxValue"].as_i64());
        let pattern = declared["AllowedPattern"].as_str();
        match setting.bounds {
            Bounds::Int { min: lo, max: hi } => {
                assert_eq!(
                    (min, max),
                    (Some(lo), hi),
                    "bounds of {name} and {parameter}"
                );
            }
            Bounds::Bool => assert_eq!(
                allowed,
                Some(vec!["true".to_owned(), "false".to_owned()]),
                "{parameter} allows true and false"
            ),
            Bounds::Contains(part) => assert_eq!(
                pattern,
                Some(format!(".*{}.*", regex::escape(part)).as_str()),
                "{parameter} must contain {part}"
            ),
            Bounds::Text | Bounds::Json => assert_eq!(
                (min, max, pattern, allowed.is_some()),
                (None, None, None, false),
                "{parameter} has bounds that {name} does not"
            ),
        }
    }
}
