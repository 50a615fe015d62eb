//! Account mail, decided once for every function that sends it: the recovery routes, and a
//! change of address by the user or an administrator.
//!
//! A request for mail (forgot password, send me a verification) answers the same whatever the
//! address, and after the same time: the work is the same lookup and counter update for known and
//! unknown addresses, only an account that may receive the mail gets one (a token written and a
//! call to SES, which take time), and every request is answered [`MAIL_REQUEST_DURATION`] after
//! it began, so the time does not say which addresses have accounts. Each address gets at most
//! `MAILS_PER_ADDRESS` mails of a kind per window, so nobody can flood an inbox through authgate.
//! A mail that cannot be sent is logged and changes nothing the client sees.

use std::sync::Arc;

use authgate_config::MailSettings;
use authgate_users::{
    ActionRecord, ActionToken, Email, InvalidActionToken, StoreError, ThrottleKey, TokenPurpose,
    User, WindowCap, binding, now_ms, redeemable, sha256_hex,
};

use authgate_runtime::{AccountStore, Backend, Env, InitError, Mail, Mailer};

/// How long after it began a request for mail is answered, whatever it found: longer than the
/// lookup, the token's write and the call to SES take, so that known and unknown addresses are
/// answered after the same time. A request whose work took longer is answered when done, and
/// logged.
pub const MAIL_REQUEST_DURATION: std::time::Duration = std::time::Duration::from_millis(500);

/// Why a presented token did not work.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error(transparent)]
    Invalid(#[from] InvalidActionToken),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends account mail and redeems its tokens.
pub struct AccountMail {
    store: Arc<dyn AccountStore>,
    mailer: Arc<dyn Mailer>,
    settings: MailSettings,
}

/// `<`, `>`, `&` and quotes escaped, for a value inside HTML.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl AccountMail {
    /// From `backend`'s store and mailer and `env`'s mail settings.
    pub fn build(env: &Env, backend: &dyn Backend) -> Result<Self, InitError> {
        Ok(Self {
            store: backend.store(env)?,
            mailer: backend.mailer(env)?,
            settings: MailSettings::from_env(env)?,
        })
    }

    /// Whether the address's window still allows a mail of `purpose`; counts this one.
    async fn address_allows(&self, purpose: TokenPurpose, email: &str) -> Result<bool, StoreError> {
        let cap = WindowCap {
            limit: self.settings.per_address,
            window_ms: i64::try_from(self.settings.address_window.as_millis()).unwrap_or(i64::MAX),
        };
        let address = sha256_hex(email.as_bytes());
        let counted = cap
            .count(
                self.store.as_ref(),
                |start| ThrottleKey::mail_address(purpose.as_str(), &address, start),
                now_ms(),
            )
            .await?;
        Ok(counted.within)
    }

    /// A mail of `purpose` for the account `email` names, when it has one that may receive it:
    /// a reset for any active account, a verification for an active unverified one. Known and
    /// unknown addresses cost the same lookup and counter update; the caller answers 202 either way.
    pub async fn request(&self, purpose: TokenPurpose, email: &str) -> Result<(), StoreError> {
        let answer_at = tokio::time::Instant::now() + MAIL_REQUEST_DURATION;
        let outcome = self.request_now(purpose, email).await;
        if tokio::time::Instant::now() > answer_at {
            tracing::warn!(
                purpose = purpose.as_str(),
                "a mail request took longer than its fixed answer time; its timing may tell whether the address has an account"
            );
        }
        tokio::time::sleep_until(answer_at).await;
        outcome
    }

    async fn request_now(&self, purpose: TokenPurpose, email: &str) -> Result<(), StoreError> {
        let email = match Email::parse(email) {
            Ok(email) => email,
            Err(_) => return Ok(()),
        };
        let user = self.store.get_by_email(&email).await?;
        let receives = user
            .filter(|u| !u.disabled && (purpose != TokenPurpose::VerifyEmail || !u.email_verified));
        match receives {
            Some(user) => self.send(purpose, &user).await,
            None => self
                .address_allows(purpose, &email.normalized())
                .await
                .map(|_| ()),
        }
    }

    /// Issues a token of `purpose` for `user` and mails its link to the user's address, within
    /// the address's cap, which every mail counts toward, whichever route sends it. Only a store
    /// failure is an error; a mail over the cap or that cannot be sent is logged.
    pub async fn send(&self, purpose: TokenPurpose, user: &User) -> Result<(), StoreError> {
        if !self
            .address_allows(purpose, &user.email.normalized())
            .await?
        {
            tracing::warn!(user_id = %user.id, purpose = purpose.as_str(), "mail limit for the address reached; no mail sent");
            return Ok(());
        }
        let token = ActionToken::generate();
        let (ttl, url) = match purpose {
            TokenPurpose::ResetPassword => (self.settings.reset_ttl, &self.settings.reset_url),
            TokenPurpose::VerifyEmail => (self.settings.verify_ttl, &self.settings.verify_url),
        };
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.store
            .put_action(
                &token.hash(),
                &ActionRecord {
                    purpose,
                    user_id: user.id,
                    binding: binding(purpose, user),
                    expires_at_ms: now_ms().saturating_add(ttl_ms),
                },
            )
            .await?;
        let link = url.replace(authgate_config::TOKEN_PLACEHOLDER, token.as_str());
        let mail = compose(purpose, user.email.as_str(), &link, ttl.as_secs());
        match self.mailer.send(&mail).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, purpose = purpose.as_str(), "account mail sent")
            }
            Err(e) => tracing::error!(
                user_id = %user.id,
                purpose = purpose.as_str(),
                error = %authgate_http::error_chain(&e),
                "account mail could not be sent"
            ),
        }
        Ok(())
    }

    /// The user a presented token of `purpose` is for, the token used up: the one way a token
    /// is redeemed. Unknown, used, expired and malformed tokens, and tokens whose account changed
    /// since, are all [`InvalidActionToken`]. The record comes back too, for [`Self::restore`].
    pub async fn redeem(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<(User, ActionRecord), RedeemError> {
        let token = ActionToken::parse(token)?;
        let record = self
            .store
            .take_action(&token.hash())
            .await?
            .ok_or(InvalidActionToken)?;
        let user = self.store.get_by_id(record.user_id).await?;
        redeemable(&record, purpose, user.as_ref(), now_ms())?;
        let user = user.ok_or(InvalidActionToken)?;
        Ok((user, record))
    }

    /// Puts a redeemed token back as it was, when what it was redeemed for was refused (a new
    /// password that fails the policy): the user may try again with the same link.
    pub async fn restore(&self, token: &str, record: &ActionRecord) -> Result<(), StoreError> {
        match ActionToken::parse(token) {
            Ok(token) => self.store.put_action(&token.hash(), record).await,
            Err(_) => Ok(()),
        }
    }
}

/// The mail of `purpose` to `to` with `link`, valid for `ttl_secs`.
fn compose(purpose: TokenPurpose, to: &str, link: &str, ttl_secs: u64) -> Mail {
    let hours = ttl_secs.div_ceil(3600);
    let valid = if hours == 1 {
        "one hour".to_owned()
    } else {
        format!("{hours} hours")
    };
    let (subject, action, ignore) = match purpose {
        TokenPurpose::ResetPassword => (
            "Reset your password",
            "To choose a new password, open this link",
            "If you did not ask to reset your password, ignore this mail: your password stays as it is.",
        ),
        TokenPurpose::VerifyEmail => (
            "Verify your email address",
            "To confirm that this is your address, open this link",
            "If you did not create an account, ignore this mail.",
        ),
    };
    let text = format!("{action}:\n\n{link}\n\nThe link works once, for {valid}.\n\n{ignore}\n");
    let href = html_escape(link);
    let html = format!(
        "<p>{action}:</p>\n<p><a href=\"{href}\">{href}</a></p>\n<p>The link works once, for {valid}.</p>\n<p>{ignore}</p>\n"
    );
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_carries_the_link_in_both_bodies_escaped_in_html() {
        let mail = compose(
            TokenPurpose::ResetPassword,
            "alice@example.com",
            "https://app.example.com/reset?token=abc&x=<y>",
            3600,
        );
        assert_eq!(mail.subject, "Reset your password");
        assert!(
            mail.text
                .contains("https://app.example.com/reset?token=abc&x=<y>")
        );
        assert!(mail.html.contains("token=abc&amp;x=&lt;y&gt;"));
        assert!(mail.text.contains("one hour"));
        let verify = compose(TokenPurpose::VerifyEmail, "a@b.co", "l", 86_400);
        assert!(verify.text.contains("24 hours"));
    }
}
