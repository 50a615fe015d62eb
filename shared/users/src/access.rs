//! Whether a user, or a session of theirs, may act now: the one decision login, refresh, the
//! authorizer and every protected function call, whatever the store.
//!
//! Stores report facts (does the user exist, are they disabled, what the session says, the
//! logout-all cut-off); this module alone turns them into an answer.

use crate::sessions::{Session, SessionState};
use crate::store::User;

/// Why a user or session may not act. Every denial is the same to a client (401): the reason is
/// for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no such user")]
    UnknownUser,
    #[error("the user is disabled")]
    DisabledUser,
    #[error("no such session")]
    UnknownSession,
    #[error("the session was logged out")]
    LoggedOut,
    #[error("the session was ended by logout-all")]
    LoggedOutEverywhere,
    #[error("the session has reached its absolute lifetime")]
    SessionExpired,
    #[error("the access token was revoked")]
    TokenRevoked,
    #[error("no such client")]
    UnknownClient,
    #[error("the client is disabled")]
    DisabledClient,
    #[error("no such API key")]
    UnknownApiKey,
    #[error("the API key has expired")]
    ApiKeyExpired,
}

/// The user rule on a stored flag: `None` when there is no such user.
fn user_rule(disabled: Option<bool>) -> Result<(), Denied> {
    match disabled {
        None => Err(Denied::UnknownUser),
        Some(true) => Err(Denied::DisabledUser),
        Some(false) => Ok(()),
    }
}

/// The user, if they exist and may act.
pub fn user_may_act(user: Option<User>) -> Result<User, Denied> {
    user_rule(user.as_ref().map(|u| u.disabled))?;
    user.ok_or(Denied::UnknownUser)
}

impl SessionState {
    /// The session, if it and its user may act at `now_ms`.
    pub fn may_act(&self, now_ms: i64) -> Result<&Session, Denied> {
        user_rule(self.user_disabled)?;
        let session = self.session.as_ref().ok_or(Denied::UnknownSession)?;
        if session.revoked {
            return Err(Denied::LoggedOut);
        }
        if session.created_at_ms <= self.sessions_valid_after_ms {
            return Err(Denied::LoggedOutEverywhere);
        }
        if session.expires_at_ms <= now_ms {
            return Err(Denied::SessionExpired);
        }
        if self.token_revoked {
            return Err(Denied::TokenRevoked);
        }
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn state() -> (Session, SessionState) {
        let session = Session {
            id: uuid::Uuid::new_v4(),
            user_id: uuid::Uuid::new_v4(),
            created_at_ms: 1000,
            expires_at_ms: 5000,
            revoked: false,
        };
        let state = SessionState {
            session: Some(session.clone()),
            user_disabled: Some(false),
            sessions_valid_after_ms: 0,
            refresh_head: None,
            token_revoked: false,
        };
        (session, state)
    }

    #[test]
    fn a_live_session_of_an_enabled_user_may_act() {
        let (session, state) = state();
        assert_eq!(state.may_act(2000), Ok(&session));
    }

    #[test]
    fn each_ended_session_is_denied_with_its_reason() {
        let (session, state) = state();
        assert_eq!(state.may_act(5000), Err(Denied::SessionExpired));
        let cut_off = SessionState {
            sessions_valid_after_ms: 1000,
            ..state.clone()
        };
        assert_eq!(cut_off.may_act(2000), Err(Denied::LoggedOutEverywhere));
        let disabled = SessionState {
            user_disabled: Some(true),
            ..state.clone()
        };
        assert_eq!(disabled.may_act(2000), Err(Denied::DisabledUser));
        let deleted = SessionState {
            user_disabled: None,
            ..state.clone()
        };
        assert_eq!(deleted.may_act(2000), Err(Denied::UnknownUser));
        let revoked = SessionState {
            session: Some(Session {
                revoked: true,
                ..session
            }),
            ..state
        };
        assert_eq!(revoked.may_act(2000), Err(Denied::LoggedOut));
        let token_revoked = SessionState {
            token_revoked: true,
            ..self::state().1
        };
        assert_eq!(token_revoked.may_act(2000), Err(Denied::TokenRevoked));
        assert_eq!(
            SessionState::default().may_act(2000),
            Err(Denied::UnknownUser)
        );
    }

    #[test]
    fn a_user_may_act_unless_missing_or_disabled() {
        assert_eq!(user_may_act(None), Err(Denied::UnknownUser));
    }
}
