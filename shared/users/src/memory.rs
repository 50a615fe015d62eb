//! An in-process store: for handler tests and as the reference the other stores are held to.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::email::Email;
use crate::store::{NewUser, StoreError, User, UserId, UserStore};

#[derive(Default)]
struct Inner {
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
}

/// Users in memory, lost when the process ends.
#[derive(Default)]
pub struct InMemoryUserStore {
    inner: Mutex<Inner>,
}

impl InMemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("in-memory store lock poisoned".into()))
    }
}

#[async_trait::async_trait]
impl UserStore for InMemoryUserStore {
    async fn create(&self, new_user: NewUser) -> Result<User, StoreError> {
        let mut inner = self.lock()?;
        let key = new_user.email.normalized();
        if inner.by_email.contains_key(&key) {
            return Err(StoreError::DuplicateEmail);
        }
        let user = new_user.into_user();
        inner.by_email.insert(key, user.id);
        inner.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn get_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn get_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .by_email
            .get(&email.normalized())
            .and_then(|id| inner.users.get(id))
            .cloned())
    }

    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let user = inner.users.get_mut(&id).ok_or(StoreError::NotFound)?;
        user.disabled = disabled;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = self.lock()?.users.values().cloned().collect();
        users.sort_by_key(|u| u.email.normalized());
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    crate::user_store_contract_tests!(async { crate::InMemoryUserStore::new() });
}
