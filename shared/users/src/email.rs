//! Validated email addresses, in one canonical form.
//!
//! Two strings that a person reads as the same address must not become two accounts. So an
//! address is normalised before anything else sees it: Unicode NFC, the local part lowercased,
//! the domain in its IDNA ASCII form (`bücher.de` becomes `xn--bcher-kva.de`); and refused when it
//! holds what a reader cannot see or tell apart: control, invisible and bidirectional formatting
//! characters (`alice\u{200b}@example.com`) and compatibility forms such as fullwidth letters
//! (`ａｌｉｃｅ@example.com`). The checks run on the normalised form, and an address whose
//! normalised form would normalise to something else is refused, so normalising is idempotent:
//! what is stored parses back to itself.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why an email address was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("email must not be empty")]
    Empty,
    #[error("email must be at most 254 bytes, its local part at most 64")]
    TooLong,
    #[error("email must have the form local@domain")]
    Invalid,
    #[error("email contains invisible, control or look-alike (compatibility) characters")]
    Ambiguous,
}

/// RFC 5321 §4.5.3.1: 64 octets of local part, 254 of address (a 256-octet path less `<>`).
const MAX_LOCAL_BYTES: usize = 64;
const MAX_EMAIL_BYTES: usize = 254;
/// Input longer than this is refused before any Unicode processing.
const MAX_INPUT_BYTES: usize = 1024;

/// An email address in canonical form (see the module docs); equality is equality of addresses.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses, normalises and validates an address.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let canonical = normalize(input)?;
        if normalize(&canonical)? != canonical {
            return Err(EmailError::Ambiguous);
        }
        Ok(Self(canonical))
    }

    /// The canonical address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form that uniqueness and lookups use: the canonical address itself.
    pub fn normalized(&self) -> String {
        self.0.clone()
    }
}

/// Characters no address may hold: controls, format characters (zero-width and bidirectional
/// controls, soft hyphen), separators other than the plain space (refused as malformed), private-use, unassigned and surrogate code points, and
/// the default-ignorable code points that are not format characters (variation selectors,
/// the combining grapheme joiner, Hangul fillers).
fn invisible(c: char) -> bool {
    use GeneralCategory::*;
    c != ' '
        && matches!(
            c.general_category(),
            Control
                | Format
                | SpaceSeparator
                | LineSeparator
                | ParagraphSeparator
                | PrivateUse
                | Surrogate
                | Unassigned
        )
        || matches!(
            c,
            '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// One normalisation pass: the canonical form of `input`, or why it is refused.
fn normalize(input: &str) -> Result<String, EmailError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(EmailError::Empty);
    }
    if trimmed.len() > MAX_INPUT_BYTES {
        return Err(EmailError::TooLong);
    }
    let nfc: String = trimmed.nfc().collect();
    if nfc.chars().any(invisible) {
        return Err(EmailError::Ambiguous);
    }
    if nfc.nfkc().ne(nfc.chars()) {
        return Err(EmailError::Ambiguous);
    }
    let (local, domain) = nfc.rsplit_once('@').ok_or(EmailError::Invalid)?;
    let local: String = local.to_lowercase().nfc().collect();
    if !valid_local(&local) {
        return Err(EmailError::Invalid);
    }
    if local.len() > MAX_LOCAL_BYTES {
        return Err(EmailError::TooLong);
    }
    let domain = ascii_domain(domain)?;
    let email = format!("{local}@{domain}");
    if email.len() > MAX_EMAIL_BYTES {
        return Err(EmailError::TooLong);
    }
    Ok(email)
}

fn valid_local(local: &str) -> bool {
    const FORBIDDEN: &[char] = &['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\'];
    !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(&c))
}

/// The domain in IDNA ASCII form (UTS #46, as browsers and mail systems map it), lowercase, with
/// at least two labels of letters, digits and inner hyphens.
fn ascii_domain(domain: &str) -> Result<String, EmailError> {
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::Invalid)?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let valid = labels.len() >= 2
        && ascii.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(ascii.to_ascii_lowercase())
    } else {
        Err(EmailError::Invalid)
    }
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
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        let email = Email::parse("  Alice@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "alice@example.com");
        assert_eq!(email.normalized(), "alice@example.com");
    }

    #[test]
    fn accepts_common_addresses() {
        for (given, canonical) in [
            ("a@b.co", "a@b.co"),
            (
                "first.last+tag@sub.example.org",
                "first.last+tag@sub.example.org",
            ),
            ("x_y-z@xn--bcher-kva.example", "x_y-z@xn--bcher-kva.example"),
            ("Ü@Bücher.de", "ü@xn--bcher-kva.de"),
            ("u\u{0308}@bu\u{0308}cher.de", "ü@xn--bcher-kva.de"),
        ] {
            assert_eq!(
                Email::parse(given).map(|e| e.as_str().to_owned()),
                Ok(canonical.to_owned()),
                "{given}"
            );
        }
    }

    #[test]
    fn look_alikes_of_an_address_are_refused_not_registered_beside_it() {
        for bad in [
            "alice\u{200b}@example.com",
            "al\u{200d}ice@example.com",
            "\u{202e}alice@example.com",
            "alice\u{2066}@example.com",
            "ali\u{00ad}ce@example.com",
            "alice\u{FE0F}@example.com",
            "alice@exa\u{200b}mple.com",
            "ａｌｉｃｅ@example.com",
            "alice@ｅｘａｍｐｌｅ.com",
            "\u{FB01}le@example.com",
            "alice\u{E000}@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Ambiguous), "{bad:?}");
        }
    }

    #[test]
    fn a_capital_dotted_i_normalises_to_an_address_that_parses_to_itself() {
        for given in ["_@İ.g", "İ@example.com"] {
            let email = Email::parse(given).unwrap();
            let again = Email::parse(&email.normalized()).unwrap();
            assert_eq!(again.normalized(), email.normalized(), "{given}");
        }
    }

    #[test]
    fn the_local_part_is_measured_in_bytes_after_lowercasing() {
        // 'Ⱥ' is 2 bytes, its lowercase 'ⱥ' is 3: 32 of them fit before lowercasing, not after.
        let grows = format!("{}@example.com", "Ⱥ".repeat(32));
        assert_eq!(Email::parse(&grows), Err(EmailError::TooLong));
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(65))),
            Err(EmailError::TooLong)
        );
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
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        assert_eq!(Email::parse("a@b.com\u{0}"), Err(EmailError::Ambiguous));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(
            Email::parse(&format!("{}@{}.com", "a".repeat(60), "b".repeat(200))),
            Err(EmailError::Invalid),
            "a 200-byte label"
        );
        assert_eq!(
            Email::parse(&format!(
                "{}@{}.{}.{}.{}.com",
                "a".repeat(64),
                "b".repeat(50),
                "c".repeat(50),
                "d".repeat(50),
                "e".repeat(50)
            )),
            Err(EmailError::TooLong)
        );
    }

    #[test]
    fn debug_hides_the_local_part() {
        let shown = format!("{:?}", Email::parse("secret.person@example.com").unwrap());
        assert!(!shown.contains("secret.person"));
        assert!(shown.contains("example.com"));
    }

    /// Inputs likely to be accepted, built from characters that case, compose or map in
    /// surprising ways, beside arbitrary strings.
    fn addresses() -> impl Strategy<Value = String> {
        let local = "([a-zA-Z0-9._+-]|[İıßſΣςÅÅéȺ\u{0301}\u{0307}]){1,40}";
        let label = "([a-zA-Z0-9-]|[İßÜüéΣȺ\u{0301}]){1,12}";
        let tld = "[a-zA-Zİ]{1,6}";
        prop_oneof![
            any::<String>(),
            (local, label, tld).prop_map(|(l, d, t)| format!("{l}@{d}.{t}")),
            (local, "[\u{200b}ａ\u{202e}ǅ]", label, tld)
                .prop_map(|(l, odd, d, t)| format!("{l}{odd}@{d}.{t}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn normalising_is_idempotent_for_every_accepted_address(input in addresses()) {
            if let Ok(email) = Email::parse(&input) {
                let odd = ['\u{200b}', 'ａ', '\u{202e}', 'ǅ'];
                prop_assert!(!input.contains(odd), "accepted {:?}", input);
                let again = Email::parse(&email.normalized()).map(|e| e.normalized());
                prop_assert_eq!(again, Ok(email.normalized()), "{:?}", input);
                let canonical = email.as_str();
                let (local, _) = canonical.rsplit_once('@').unwrap_or_default();
                prop_assert!(local.len() <= MAX_LOCAL_BYTES);
                prop_assert!(canonical.len() <= MAX_EMAIL_BYTES);
                prop_assert!(!canonical.chars().any(invisible));
            }
        }
    }
}
