//! Behaviour of `MemoryDedupeStore`: duplicates within the TTL, new after it, the size bound, and
//! exactly one winner among concurrent deliveries.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use passage_connect::dedupe::{DedupeKey, DedupeStore, MemoryDedupeStore};
use passage_connect::webhook::ManualClock;

fn key(n: u64) -> DedupeKey {
    DedupeKey::new("link_abc123", "link.complete", 1_704_067_200_000 + n)
}

fn store_with_clock(ttl: Duration, capacity: usize) -> (MemoryDedupeStore, ManualClock) {
    let clock = ManualClock::at_unix_secs(1_704_067_200);
    let store = MemoryDedupeStore::new()
        .with_ttl(ttl)
        .with_capacity(NonZeroUsize::new(capacity).expect("test capacity > 0"))
        .with_clock(Arc::new(clock.clone()));
    (store, clock)
}

#[tokio::test]
async fn duplicate_within_ttl_is_reported_once() {
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    assert!(store.first_seen(&key(0)).await.unwrap());
    assert!(!store.first_seen(&key(0)).await.unwrap());
    clock.advance(Duration::from_secs(59));
    assert!(
        !store.first_seen(&key(0)).await.unwrap(),
        "still within the TTL"
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn key_is_new_again_after_ttl() {
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    assert!(store.first_seen(&key(0)).await.unwrap());
    clock.advance(Duration::from_secs(60));
    assert!(
        store.first_seen(&key(0)).await.unwrap(),
        "expired key counts as new"
    );
    assert!(
        !store.first_seen(&key(0)).await.unwrap(),
        "and is recorded again"
    );
}

#[tokio::test]
async fn expired_keys_are_dropped() {
    let (store, clock) = store_with_clock(Duration::from_secs(10), 100);
    for n in 0..5 {
        assert!(store.first_seen(&key(n)).await.unwrap());
    }
    clock.advance(Duration::from_secs(11));
    assert!(store.first_seen(&key(100)).await.unwrap());
    assert_eq!(store.len(), 1, "the five expired keys were evicted");
}

#[tokio::test]
async fn events_of_one_link_are_distinct() {
    let store = MemoryDedupeStore::new();
    let failed = DedupeKey::new("link_1", "link.failed", 10);
    let complete = DedupeKey::new("link_1", "link.complete", 20);
    let other_link = DedupeKey::new("link_2", "link.complete", 20);
    assert!(store.first_seen(&failed).await.unwrap());
    assert!(store.first_seen(&complete).await.unwrap());
    assert!(store.first_seen(&other_link).await.unwrap());
    assert!(!store.first_seen(&complete).await.unwrap());
}

#[tokio::test]
async fn capacity_bound_evicts_oldest() {
    let (store, _clock) = store_with_clock(Duration::from_secs(3600), 3);
    for n in 0..3 {
        assert!(store.first_seen(&key(n)).await.unwrap());
    }
    assert_eq!(store.len(), 3);
    assert!(store.first_seen(&key(3)).await.unwrap());
    assert_eq!(store.len(), 3, "bound respected");
    // key(0) was the oldest and went; key(1..=3) are still held.
    assert!(!store.first_seen(&key(3)).await.unwrap());
    assert!(!store.first_seen(&key(2)).await.unwrap());
    assert!(!store.first_seen(&key(1)).await.unwrap());
    assert!(
        store.first_seen(&key(0)).await.unwrap(),
        "oldest was evicted"
    );
    assert_eq!(store.len(), 3);
    // Re-inserting key(0) evicted key(1), the oldest remaining.
    assert!(store.first_seen(&key(1)).await.unwrap());
}

#[tokio::test]
async fn bound_holds_under_many_keys_and_forgets() {
    let (store, _clock) = store_with_clock(Duration::from_secs(3600), 50);
    for n in 0..10_000 {
        assert!(store.first_seen(&key(n)).await.unwrap());
        if n % 3 == 0 {
            store.forget(&key(n)).await.unwrap();
        }
        assert!(store.len() <= 50);
    }
    // The last 50 inserted keys that were not forgotten are still duplicates.
    assert!(!store.first_seen(&key(9_998)).await.unwrap());
    assert!(
        store.first_seen(&key(9_999)).await.unwrap(),
        "9999 was forgotten"
    );
}

#[tokio::test]
async fn forget_allows_reprocessing() {
    let store = MemoryDedupeStore::new();
    assert!(store.first_seen(&key(0)).await.unwrap());
    store.forget(&key(0)).await.unwrap();
    assert!(store.is_empty());
    assert!(store.first_seen(&key(0)).await.unwrap());
    assert!(!store.first_seen(&key(0)).await.unwrap());
}

#[tokio::test]
async fn clones_share_records() {
    let store = MemoryDedupeStore::new();
    let clone = store.clone();
    assert!(store.first_seen(&key(0)).await.unwrap());
    assert!(!clone.first_seen(&key(0)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_have_exactly_one_winner() {
    let store: Arc<dyn DedupeStore> = Arc::new(MemoryDedupeStore::new());
    for round in 0..20 {
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.first_seen(&key(round)).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
