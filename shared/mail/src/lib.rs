//! Account mail (password resets, address verification) behind one narrow trait, [`Mailer`].
//!
//! In AWS the mail goes out through Amazon SES's API v2 ([`SesMailer`]) from the sender identity
//! the deployment names. On a developer's machine `authgate serve` writes each message as an
//! RFC 5322 file instead ([`FileMailer`]), so nothing leaves the machine and the link is one
//! `cat` away; tests read what was sent from a [`RecordingMailer`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One message: plain-text and HTML bodies of the same content.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies carry one-time tokens; logs get the subject only.
        f.debug_struct("Mail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A message could not be sent. Callers log it; the API's answer does not change.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no sender address is configured (MAIL_FROM)")]
    NoSender,
    #[error("sending through SES failed")]
    Ses(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("writing the message file failed")]
    Io(#[from] std::io::Error),
}

/// Sends account mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Amazon SES, API v2 (`SendEmail` with simple content), from `from`.
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: Option<String>,
}

impl SesMailer {
    /// Sends from `from` (a verified SES identity); with none, every send fails with
    /// [`MailError::NoSender`] (and is logged by the caller).
    pub fn new(client: aws_sdk_sesv2::Client, from: Option<String>) -> Self {
        Self {
            client,
            from: from.filter(|f| !f.trim().is_empty()),
        }
    }
}

#[async_trait::async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let from = self.from.as_deref().ok_or(MailError::NoSender)?;
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| MailError::Ses(Box::new(e)))
        };
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(
                Body::builder()
                    .text(content(&mail.text)?)
                    .html(content(&mail.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| MailError::Ses(Box::new(aws_sdk_sesv2::Error::from(e))))?;
        Ok(())
    }
}

/// Writes each message as an RFC 5322 file under a directory and prints one line naming it.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    /// Messages go to `dir` (created when needed), as sent by `from`.
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            from: from.into(),
        }
    }

    /// Where the messages go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A header value on one line: no CR or LF can start a header of its own.
fn header(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// The message as RFC 5322 text: multipart/alternative, plain text first, both 8-bit UTF-8.
pub fn rfc5322(from: &str, mail: &Mail, date: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    let boundary = format!("authgate-{id}");
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@authgate.local>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
         --{boundary}--\r\n",
        from = header(from),
        to = header(&mail.to),
        subject = header(&mail.subject),
        date = date.to_rfc2822(),
        text = mail.text.replace('\n', "\r\n"),
        html = mail.html.replace('\n', "\r\n"),
    )
}

#[async_trait::async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        std::fs::create_dir_all(&self.dir)?;
        let now = chrono::Utc::now();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = self
            .dir
            .join(format!("{}-{id}.eml", now.format("%Y%m%dT%H%M%S%.3fZ")));
        std::fs::write(&path, rfc5322(&self.from, mail, now, &id))?;
        println!(
            "mail: \"{}\" to {} written to {}",
            header(&mail.subject),
            header(&mail.to),
            path.display()
        );
        Ok(())
    }
}

/// Keeps every message it is given: for tests.
#[derive(Debug, Clone, Default)]
pub struct RecordingMailer {
    sent: Arc<Mutex<Vec<Mail>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl RecordingMailer {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far.
    pub fn sent(&self) -> Vec<Mail> {
        match self.sent.lock() {
            Ok(sent) => sent.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// From now on every send fails (`true`) or works (`false`).
    pub fn fail(&self, failing: bool) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(MailError::NoSender);
        }
        match self.sent.lock() {
            Ok(mut sent) => sent.push(mail.clone()),
            Err(poisoned) => poisoned.into_inner().push(mail.clone()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mail() -> Mail {
        Mail {
            to: "alice@example.com".into(),
            subject: "Reset your password".into(),
            text: "Open https://app.example.com/reset?token=abc\nIt works once.".into(),
            html: "<p><a href=\"https://app.example.com/reset?token=abc\">Reset</a></p>".into(),
        }
    }

    #[tokio::test]
    async fn a_file_mailer_writes_one_rfc_5322_message_per_mail() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FileMailer::new(dir.path().join("mail"), "authgate@localhost");
        mailer.send(&mail()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(mailer.dir()).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        for name in [
            "From: authgate@localhost",
            "To: alice@example.com",
            "Subject: Reset your password",
            "Date: ",
            "Message-ID: <",
            "MIME-Version: 1.0",
        ] {
            assert!(head.contains(name), "{name} in {head}");
        }
        assert!(body.contains("https://app.example.com/reset?token=abc\r\nIt works once."));
        assert!(body.contains("text/html"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "CRLF line ends only"
        );
    }

    #[test]
    fn header_values_cannot_smuggle_headers_and_debug_hides_the_bodies() {
        let mut evil = mail();
        evil.subject = "Hi\r\nBcc: everyone@example.com".into();
        let text = rfc5322("a@b.c", &evil, chrono::Utc::now(), "id");
        assert!(!text.contains("\r\nBcc:"));
        assert!(!format!("{:?}", mail()).contains("token=abc"));
    }
}
