//! `authgate serve`: the API of `template.yaml` on a local API Gateway ([`gateway`]) over HTTP
//! ([`server`]), with the real functions built by their crates' constructors.

pub mod gateway;
pub mod server;
pub mod template;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authgate_http::HttpHandler;
use authgate_runtime::{Env, EventHandler, Resources};

use crate::CommandError;
use crate::backends::BackendArgs;
use crate::settings::SettingsArgs;
use gateway::{AuthorizerFunction, Gateway, HttpFunction};
use template::{ApiSpec, TEMPLATE};

/// Flags of `authgate serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, short, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Authorizer result cache TTL in seconds (default: the template's).
    #[arg(long)]
    pub authorizer_cache_ttl: Option<u64>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
}

/// `handler` as a function the gateway invokes.
/// A function as the runtime serves it in Lambda: each request carrying the leeway.
fn http(handler: impl HttpHandler + 'static, leeway: authgate_http::ClaimsLeeway) -> HttpFunction {
    let handler = Arc::new(handler);
    Arc::new(move |mut request: lambda_http::Request| {
        let handler = Arc::clone(&handler);
        request.extensions_mut().insert(leeway);
        Box::pin(async move { handler.handle(request).await })
    })
}

/// Builds the gateway with the real functions, each through its crate's one constructor, on
/// `resources`, configured by `env` as the Lambdas are by theirs.
pub async fn build_gateway(
    resources: &Resources,
    env: &Env,
    cache_ttl: Option<Duration>,
) -> Result<Gateway, CommandError> {
    let spec = ApiSpec::parse(TEMPLATE)?;
    let leeway = authgate_runtime::claims_leeway(env);
    let functions: HashMap<String, HttpFunction> = HashMap::from([
        (
            "RegisterFunction".into(),
            http(register::build(env, resources).await?, leeway),
        ),
        (
            "LoginFunction".into(),
            http(login::build(env, resources).await?, leeway),
        ),
        (
            "RefreshFunction".into(),
            http(refresh::build(env, resources).await?, leeway),
        ),
        (
            "LogoutFunction".into(),
            http(logout::build(env, resources).await?, leeway),
        ),
        (
            "DiscoveryFunction".into(),
            http(discovery::build(env, resources).await?, leeway),
        ),
        (
            "MeFunction".into(),
            http(me::build(env, resources).await?, leeway),
        ),
        (
            "UsersFunction".into(),
            http(users::build(env, resources).await?, leeway),
        ),
        (
            "RecoveryFunction".into(),
            http(recovery::build(env, resources).await?, leeway),
        ),
        (
            "OAuthFunction".into(),
            http(oauth::build(env, resources).await?, leeway),
        ),
        (
            "ClientsFunction".into(),
            http(clients::build(env, resources).await?, leeway),
        ),
    ]);
    // The authorizer's own variables in the template (its route rules) apply locally too.
    let mut authorizer_env = env.clone();
    for (name, value) in spec
        .own_environment
        .get("AuthorizerFunction")
        .into_iter()
        .flatten()
    {
        if env.optional(name).is_none() {
            authorizer_env = authorizer_env.with(name, value.clone());
        }
    }
    let authorizer = Arc::new(authorizer::build(&authorizer_env, resources).await?);
    // The authorizer runs as in Lambda: the JSON event API Gateway sends, read by the Lambda's own
    // event reader and decided by its one entry point.
    let authorizer: AuthorizerFunction = Arc::new(move |event| {
        let authorizer = Arc::clone(&authorizer);
        Box::pin(async move {
            let wire = serde_json::to_vec(&event).map_err(|_| authorizer::Unauthorized)?;
            let event: authorizer::Event =
                serde_json::from_slice(&wire).map_err(|_| authorizer::Unauthorized)?;
            match EventHandler::<authorizer::Event>::handle(authorizer.as_ref(), event).await? {
                authorizer::Answer::Policy(policy) => Ok(policy),
                authorizer::Answer::Simple { .. } => Err(authorizer::Unauthorized),
            }
        })
    });
    Ok(Gateway::new(
        spec,
        functions,
        Some(("AuthorizerFunction".into(), authorizer)),
        cache_ttl,
    )?)
}

/// What `serve` prints before listening on `host`: a warning unless `host` is loopback, since
/// the local gateway speaks plain HTTP (tokens and passwords in the clear) and is for development.
pub fn host_warning(host: std::net::IpAddr) -> Option<String> {
    (!host.is_loopback()).then(|| {
        format!(
            "warning: serving on {host}, beyond this machine, over plain HTTP: passwords and tokens \
             cross the network unencrypted. authgate serve is for development; deploy with sam \
             deploy (or put TLS in front) for anything else."
        )
    })
}

/// `authgate serve`.
pub async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    if let Some(warning) = host_warning(args.host) {
        eprintln!("{warning}");
    }
    let env = args.settings.env();
    let store = args.backend.store().await?;
    let keys = args.backend.keys().await?;
    // Account mail never leaves the machine: each message is a file under <data dir>/mail.
    let mail_dir = args.backend.data_dir.join("mail");
    let from = env
        .setting(&authgate_config::MAIL_FROM)?
        .unwrap_or_else(|| "authgate@localhost".to_owned());
    let resources = Resources::new(store.store, keys.ring)
        .with_mailer(Arc::new(authgate_mail::FileMailer::new(&mail_dir, from)));
    let gateway = build_gateway(
        &resources,
        &env,
        args.authorizer_cache_ttl.map(Duration::from_secs),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let mut banner = format!("authgate is serving the API of template.yaml on {url}\n");
    for route in gateway.routes() {
        let guard = if route.protected {
            "authorizer"
        } else {
            "public"
        };
        banner.push_str(&format!(
            "  {:<6} {url}{:<20} -> {} ({guard})\n",
            route.method, route.path, route.function
        ));
    }
    banner.push_str(&format!(
        "users: {}\nsigning key: {}\nmail: written to {}\n",
        store.description,
        keys.description,
        mail_dir.display()
    ));
    if let Some(ttl) = gateway.authorizer_cache_ttl() {
        banner.push_str(&format!("authorizer cache TTL: {}s\n", ttl.as_secs()));
    }
    banner.push_str("Press Ctrl-C to stop.\n");
    let mut out = std::io::stdout();
    out.write_all(banner.as_bytes())?;
    out.flush()?;
    server::run(Arc::new(gateway), listener, server::shutdown_signal()).await?;
    eprintln!("authgate stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_beyond_loopback_warns_that_it_is_plain_http() {
        for quiet in ["127.0.0.1", "::1", "127.0.0.2"] {
            assert_eq!(
                host_warning(
                    quiet
                        .parse()
                        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
                ),
                None,
                "{quiet}"
            );
        }
        for loud in ["0.0.0.0", "192.168.1.10", "::"] {
            let warning = host_warning(
                loud.parse()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            );
            assert!(warning.is_some_and(|w| w.contains("plain HTTP")), "{loud}");
        }
    }
}
