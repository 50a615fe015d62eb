//! The functions' log subscriber, as Lambda's advanced logging controls configure it.
//!
//! `AWS_LAMBDA_LOG_FORMAT=JSON` gives one JSON object per line, anything else plain text; the
//! level is `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (`info` or per-target lists such as
//! `info,aws_smithy_runtime=warn`), else `INFO`. This is what `lambda_runtime`'s default
//! subscriber does, read with a target filter instead of an `EnvFilter`: per-span and per-field
//! filters are not needed here, and leaving them out keeps a regex engine out of every function.
//!
//! Lambda stamps every line it receives, so lines carry no time of their own. Built with the
//! `log-uptime` feature (as `COLDSTART_LOG_DIR=DIR scripts/coldstart` builds the functions), a
//! function run with `AUTHGATE_LOG_UPTIME=true` starts its plain-text lines with the time since
//! logging began, to show where a cold start's milliseconds go; without the feature that second
//! formatter (about 28 KB) is not in the binary.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for Lambda's `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` values: the first one set wins,
/// Lambda's `FATAL` is `ERROR`, a list's targets not named are at `INFO`, and a value that does not
/// read (a misspelt level) is `INFO` rather than a filter that hides everything.
fn log_filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let spec = lambda_level.or(rust_log).unwrap_or("info").trim();
    let spec = if spec.eq_ignore_ascii_case("fatal") {
        "error"
    } else {
        spec
    };
    if let Ok(level) = spec.parse::<LevelFilter>() {
        return Targets::new().with_default(level);
    }
    let info = || Targets::new().with_default(LevelFilter::INFO);
    if !spec.contains(['=', ',']) {
        return info();
    }
    match spec.parse::<Targets>() {
        Ok(targets) if targets.default_level().is_none() => targets.with_default(LevelFilter::INFO),
        Ok(targets) => targets,
        Err(_) => info(),
    }
}

/// Name of the variable that, set to `true` in a build with the `log-uptime` feature, starts
/// plain-text log lines with the time since logging began and the event's target (for timing a
/// cold start, not for Lambda's logs).
pub const LOG_UPTIME: &str = "AUTHGATE_LOG_UPTIME";

/// Installs the subscriber for this process's environment (once; later calls do nothing).
pub fn init_logging() {
    let var = |name| std::env::var(name).ok();
    let filter = log_filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    #[cfg(feature = "log-uptime")]
    let uptime = var(LOG_UPTIME).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    #[cfg(feature = "log-uptime")]
    let timed = (!json && uptime).then(|| {
        tracing_subscriber::fmt::layer()
            .with_timer(tracing_subscriber::fmt::time::Uptime::default())
            .with_ansi(false)
    });
    #[cfg(not(feature = "log-uptime"))]
    let timed: Option<tracing_subscriber::layer::Identity> = None;
    let text = (!json && timed.is_none()).then(|| {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .without_time()
    });
    let json = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_target(false)
            .without_time()
    });
    let _already_set = tracing_subscriber::registry()
        .with(text)
        .with(timed)
        .with(json)
        .with(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn allows(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn lambda_log_level_wins_over_rust_log() {
        let filter = log_filter(Some("WARN"), Some("debug"));
        assert!(allows(&filter, "authorizer", Level::WARN));
        assert!(!allows(&filter, "authorizer", Level::INFO));
    }

    #[test]
    fn rust_log_takes_per_target_levels() {
        let filter = log_filter(None, Some("debug,aws_smithy_runtime=warn"));
        assert!(allows(&filter, "authorizer", Level::DEBUG));
        assert!(!allows(&filter, "aws_smithy_runtime::client", Level::INFO));
        assert!(allows(&filter, "aws_smithy_runtime::client", Level::WARN));
        let unnamed = log_filter(None, Some("hyper=debug"));
        assert!(allows(&unnamed, "hyper::proto", Level::DEBUG));
        assert!(allows(&unnamed, "authorizer", Level::INFO));
        assert!(!allows(&unnamed, "authorizer", Level::DEBUG));
    }

    #[test]
    fn unset_or_unreadable_levels_are_info_and_fatal_is_error() {
        for filter in [log_filter(None, None), log_filter(Some("loud"), None)] {
            assert!(allows(&filter, "login", Level::INFO));
            assert!(!allows(&filter, "login", Level::DEBUG));
        }
        let fatal = log_filter(Some("FATAL"), None);
        assert!(allows(&fatal, "login", Level::ERROR));
        assert!(!allows(&fatal, "login", Level::WARN));
    }
}
