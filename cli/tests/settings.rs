//! One source of defaults: the functions' settings with nothing set are the settings the template's
//! parameter defaults give them, and `authgate serve` with no flags builds the functions from the
//! same settings, validated by the same code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authgate::commands::{ServeArgs, SettingsArgs};
use authgate::template::{ApiSpec, TEMPLATE};
use authgate_config::{AuthzSettings, SessionSettings, TokenSettings};
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
