//! The rules of `ClientStore`.

use std::collections::BTreeSet;

use crate::{Client, ClientSecret, ClientStore, PreviousSecret, StoreError};

pub(crate) fn new_client(name: &str) -> Client {
    Client {
        id: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        scopes: BTreeSet::from(["items:read".to_owned(), "items:write".to_owned()]),
        audience: Some("https://api.example.com".into()),
        access_token_ttl_secs: Some(300),
        created_at_ms: 1_800_000_000_000,
        secret_rotated_at_ms: 1_800_000_000_000,
        disabled: false,
        secret_hash: ClientSecret::generate().hash(),
        previous_secret: None,
        version: 0,
    }
}

pub async fn a_client_is_stored_and_read_back_whole<S: ClientStore>(store: S) {
    let mut client = new_client("partner");
    client.previous_secret = Some(PreviousSecret {
        hash: ClientSecret::generate().hash(),
        valid_until_ms: 1_800_000_600_000,
    });
    store.create_client(&client).await.unwrap();
    assert_eq!(store.client(client.id).await.unwrap(), Some(client.clone()));
    let mut bare = new_client("cron");
    bare.audience = None;
    bare.access_token_ttl_secs = None;
    bare.scopes.clear();
    store.create_client(&bare).await.unwrap();
    assert_eq!(store.client(bare.id).await.unwrap(), Some(bare));
    assert_eq!(store.client(uuid::Uuid::new_v4()).await.unwrap(), None);
    assert!(matches!(
        store.create_client(&client).await,
        Err(StoreError::Changed)
    ));
}

pub async fn a_client_update_applies_only_over_the_version_it_read<S: ClientStore>(store: S) {
    let client = new_client("partner");
    store.create_client(&client).await.unwrap();
    let read = store.client(client.id).await.unwrap().unwrap();
    let disabled = Client {
        disabled: true,
        ..read.clone()
    };
    store.update_client(&disabled).await.unwrap();
    let stored = store.client(client.id).await.unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(stored.version, read.version + 1);
    let renamed = Client {
        name: "stale".into(),
        ..read
    };
    assert!(matches!(
        store.update_client(&renamed).await,
        Err(StoreError::Changed)
    ));
    assert_eq!(
        store.client(client.id).await.unwrap().unwrap().name,
        "partner"
    );
    assert!(matches!(
        store.update_client(&new_client("never stored")).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_deleted_client_is_gone<S: ClientStore>(store: S) {
    let client = new_client("partner");
    store.create_client(&client).await.unwrap();
    store.delete_client(client.id).await.unwrap();
    assert_eq!(store.client(client.id).await.unwrap(), None);
    assert!(matches!(
        store.delete_client(client.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_client(&client).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn client_pages_walk_every_client_once<S: ClientStore>(store: S) {
    let mut created = BTreeSet::new();
    for i in 0..7 {
        let client = new_client(&format!("client {i}"));
        store.create_client(&client).await.unwrap();
        created.insert(client.id);
    }
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = store.clients(3, cursor.as_deref()).await.unwrap();
        assert!(page.clients.len() <= 3);
        seen.extend(page.clients.iter().map(|c| c.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let distinct: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), seen.len(), "no client twice");
    assert!(created.is_subset(&distinct), "every client once");
    assert!(matches!(
        store.clients(3, Some("not a cursor")).await,
        Err(StoreError::BadCursor)
    ));
}

/// Expands to one test per client-store rule.
#[macro_export]
macro_rules! client_store_contract_tests {
    ($make:expr) => {
        mod client_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::user_store_contract_tests!(@each $make;
                a_client_is_stored_and_read_back_whole,
                a_client_update_applies_only_over_the_version_it_read,
                a_deleted_client_is_gone,
                client_pages_walk_every_client_once,
            );
        }
    };
}
