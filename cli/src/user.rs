//! `authgate user`: create, list, update, disable and enable users in whichever store `serve`
//! would use.

use std::io::{BufRead, IsTerminal, Write};

use authgate_runtime::Env;
use authgate_users::{
    ADMIN_ROLE, CustomClaims, Email, NewUser, PasswordHasher, RoleMap, UserChanges, UserId,
    UserStore, parse_roles,
};

use crate::CommandError;
use crate::backends::BackendArgs;

/// `authgate user ...`.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from a prompt, or from stdin when it is not a terminal.
    Create {
        #[arg(long)]
        email: String,
        /// Make the user a superuser: give them the `admin` role, which may administer users.
        #[arg(long)]
        superuser: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Change a user's roles or custom claims (by email or id). Roles must be defined (built-in
    /// `admin`, or in `ROLES`, as the template's Roles parameter).
    Update {
        user: String,
        /// Give the user this role (repeatable).
        #[arg(long = "add-role", value_name = "ROLE")]
        add_roles: Vec<String>,
        /// Take this role from the user (repeatable).
        #[arg(long = "remove-role", value_name = "ROLE")]
        remove_roles: Vec<String>,
        /// Replace the user's custom claims with this JSON object; their tokens carry it.
        #[arg(long, value_name = "JSON")]
        claims: Option<String>,
        /// Role definitions, as the template's Roles parameter.
        #[arg(long = "roles", env = "ROLES", value_name = "JSON", default_value = "")]
        role_definitions: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List every user.
    List {
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Disable a user (by email or id): they can no longer log in or call protected routes, and
    /// their sessions end.
    Disable {
        user: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Re-enable a disabled user (by email or id).
    Enable {
        user: String,
        #[command(flatten)]
        backend: BackendArgs,
    },
}

fn read_password() -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            return Err("the passwords do not match".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn find_user(store: &dyn UserStore, user: &str) -> Result<UserId, CommandError> {
    let found = match user.parse::<UserId>() {
        Ok(id) => store.get_by_id(id).await?,
        Err(_) => store.get_by_email(&Email::parse(user)?).await?,
    };
    Ok(found.ok_or_else(|| format!("no user {user}"))?.id)
}

/// Runs a `user` subcommand, writing its report to `out`.
pub async fn user(command: UserCommand, out: &mut impl Write) -> Result<(), CommandError> {
    match command {
        UserCommand::Create {
            email,
            superuser,
            backend,
        } => {
            let email = Email::parse(&email)?;
            // The deployment's rule; PASSWORD_MIN_LENGTH as the functions read it.
            let passwords = authgate_accounts::NewPasswords::build(&Env::process())?;
            let password = passwords.check(read_password()?, &email).await?;
            let store = backend.store().await?;
            let password_hash = PasswordHasher::new().hash(password).await?;
            let user = store
                .store
                .create(NewUser {
                    email,
                    password_hash,
                    roles: if superuser {
                        parse_roles([ADMIN_ROLE])?
                    } else {
                        Default::default()
                    },
                })
                .await?;
            let kind = if superuser { "superuser" } else { "user" };
            writeln!(
                out,
                "created {kind} {} <{}> in {}",
                user.id, user.email, store.description
            )?;
        }
        UserCommand::List { backend } => {
            let store = backend.store().await?;
            let users = store.store.list().await?;
            writeln!(
                out,
                "{:<36}  {:<32}  {:<25}  {:<20}  flags",
                "id", "email", "created_at", "roles"
            )?;
            for user in &users {
                let roles: Vec<&str> = user.roles.iter().map(String::as_str).collect();
                writeln!(
                    out,
                    "{:<36}  {:<32}  {:<25}  {:<20}  {}",
                    user.id,
                    user.email,
                    user.created_at.to_rfc3339(),
                    roles.join(","),
                    if user.disabled { "disabled" } else { "" }
                )?;
            }
            writeln!(out, "{} user(s) in {}", users.len(), store.description)?;
        }
        UserCommand::Update {
            user,
            add_roles,
            remove_roles,
            claims,
            role_definitions,
            backend,
        } => {
            let definitions = RoleMap::parse(&role_definitions)?;
            let add = parse_roles(&add_roles)?;
            definitions.check(&add)?;
            let remove = parse_roles(&remove_roles)?;
            let claims = claims
                .map(|json| -> Result<CustomClaims, CommandError> {
                    let value: serde_json::Value = serde_json::from_str(&json)
                        .map_err(|e| format!("--claims is not JSON: {e}"))?;
                    Ok(CustomClaims::parse(value)?)
                })
                .transpose()?;
            let store = backend.store().await?;
            let found = find_user(store.store.as_ref(), &user).await?;
            let current = store
                .store
                .get_by_id(found)
                .await?
                .ok_or_else(|| format!("no user {user}"))?;
            let roles = (!add.is_empty() || !remove.is_empty()).then(|| {
                current
                    .roles
                    .iter()
                    .chain(&add)
                    .filter(|role| !remove.contains(*role))
                    .cloned()
                    .collect()
            });
            let changes = UserChanges {
                roles,
                claims,
                ..UserChanges::default()
            };
            let updated = authgate_accounts::change_user(store.store.as_ref(), found, changes)
                .await?
                .user;
            let roles: Vec<&str> = updated.roles.iter().map(String::as_str).collect();
            writeln!(
                out,
                "updated {} <{}>: roles [{}], claims {}",
                updated.id,
                updated.email,
                roles.join(", "),
                serde_json::Value::Object(updated.claims.as_map().clone())
            )?;
        }
        UserCommand::Disable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            let disable = UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            };
            authgate_accounts::change_user(store.store.as_ref(), id, disable).await?;
            writeln!(out, "disabled {id}; their sessions are ended")?;
        }
        UserCommand::Enable { user, backend } => {
            let store = backend.store().await?;
            let id = find_user(store.store.as_ref(), &user).await?;
            let enable = UserChanges {
                disabled: Some(false),
                ..UserChanges::default()
            };
            authgate_accounts::change_user(store.store.as_ref(), id, enable).await?;
            writeln!(out, "enabled {id}")?;
        }
    }
    Ok(())
}
