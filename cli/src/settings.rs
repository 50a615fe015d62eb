//! The functions' settings as `serve` flags, built from the one declaration of every setting
//! (`authgate_config::SETTINGS`): each setting that has a flag is one, also read from its
//! variable, validated by the same code as in the Lambdas, unset meaning the declared default.

use authgate_config::{Bounds, Env, SETTINGS, TOKEN_ISSUER};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

/// The issuer `serve` uses when none is given, as the template uses `urn:authgate:<stack name>`.
pub const LOCAL_ISSUER: &str = "urn:authgate:local";

/// The settings given to `serve`, by variable name.
#[derive(Debug, Clone, Default)]
pub struct SettingsArgs {
    given: Vec<(&'static str, String)>,
}

impl SettingsArgs {
    /// The environment the functions are built from: every flag given, under its variable name.
    pub fn env(&self) -> Env {
        let env = Env::from_pairs(
            self.given
                .iter()
                .map(|(name, value)| (*name, value.clone())),
        );
        match env.optional(TOKEN_ISSUER.name) {
            Some(_) => env,
            None => env.with(TOKEN_ISSUER.name, LOCAL_ISSUER),
        }
    }
}

impl FromArgMatches for SettingsArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = SETTINGS
            .iter()
            .filter(|setting| setting.flag.is_some())
            .filter_map(|setting| {
                let value = matches.get_one::<String>(setting.name)?;
                Some((setting.name, value.clone()))
            })
            .collect();
        Ok(Self { given })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for SettingsArgs {
    fn augment_args(command: Command) -> Command {
        SETTINGS.iter().fold(command, |command, setting| {
            let Some(flag) = setting.flag else {
                return command;
            };
            let help = if setting.default.is_empty() || setting.help.contains("[default:") {
                setting.help.to_owned()
            } else {
                format!("{} [default: {}]", setting.help, setting.default)
            };
            let value_name = match setting.bounds {
                Bounds::Int { .. } => "N",
                Bounds::Bool => "BOOL",
                Bounds::Json => "JSON",
                Bounds::Text | Bounds::Contains(_) => "TEXT",
            };
            command.arg(
                Arg::new(setting.name)
                    .long(flag)
                    .env(setting.name)
                    .value_name(value_name)
                    .help(help),
            )
        })
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}
