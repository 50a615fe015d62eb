//! Validated email addresses.

use std::fmt;

/// Why an email address was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("email must not be empty")]
    Empty,
    #[error("email must be at most 254 characters")]
    TooLong,
    #[error("email must have the form local@domain")]
    Invalid,
}

/// An email address: trimmed, syntactically checked, compared case-insensitively.
///
/// The address is kept as the user typed it (less surrounding whitespace) for display;
/// [`Email::normalized`] is the key that uniqueness is enforced on.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses and validates an address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = email.rsplit_once('@').ok_or(EmailError::Invalid)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(email.to_owned()))
    }

    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and lookups use.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

fn valid_local(local: &str) -> bool {
    const FORBIDDEN: &[char] = &['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\'];
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(&c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: logs get the domain only.
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(***@{domain})")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_case_for_display() {
        let email = Email::parse("  Alice@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "Alice@Example.COM");
        assert_eq!(email.normalized(), "alice@example.com");
    }

    #[test]
    fn accepts_common_addresses() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "x_y-z@xn--bcher-kva.example",
            "ü@bücher.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b .com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@-b.com",
            "a@b-.com",
            "a@b..com",
            "\"a\"@b.com",
            "a@b.com\u{0}",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(250))),
            Err(EmailError::TooLong)
        );
    }

    #[test]
    fn debug_hides_the_local_part() {
        let shown = format!("{:?}", Email::parse("secret.person@example.com").unwrap());
        assert!(!shown.contains("secret.person"));
        assert!(shown.contains("example.com"));
    }
}
