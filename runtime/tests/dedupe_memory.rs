//! Behaviour of `MemoryDedupeStore` under the processing/done rule: a claim is held for the
//! lease, a completed key is a duplicate for the TTL, a released or expired claim is processed
//! again, the size bound, and exactly one winner among concurrent deliveries.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use passage_connect::dedupe::{Claim, DedupeKey, DedupeStore, MemoryDedupeStore};
use passage_connect::webhook::ManualClock;

fn key(n: u64) -> DedupeKey {
    DedupeKey::new("link_abc123", "link.complete", 1_704_067_200_000 + n)
}

fn store_with_clock(ttl: Duration, capacity: usize) -> (MemoryDedupeStore, ManualClock) {
    let clock = ManualClock::at_unix_secs(1_704_067_200);
    let store = MemoryDedupeStore::new()
        .with_ttl(ttl)
        .with_lease(Duration::from_secs(10))
        .with_capacity(NonZeroUsize::new(capacity).expect("test capacity > 0"))
        .with_clock(Arc::new(clock.clone()));
    (store, clock)
}

/// Claims `key` and completes it at once.
async fn process(store: &MemoryDedupeStore, key: &DedupeKey) -> bool {
    let acquired = store.claim(key).await.unwrap().is_acquired();
    if acquired {
        store.complete(key).await.unwrap();
    }
    acquired
}

#[tokio::test]
async fn done_within_ttl_is_a_duplicate() {
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    assert!(process(&store, &key(0)).await);
    assert_eq!(store.claim(&key(0)).await.unwrap(), Claim::Done);
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        store.claim(&key(0)).await.unwrap(),
        Claim::Done,
        "still within the TTL"
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn done_key_is_new_again_after_ttl() {
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    assert!(process(&store, &key(0)).await);
    clock.advance(Duration::from_secs(60));
    assert!(process(&store, &key(0)).await, "expired key counts as new");
    assert_eq!(store.claim(&key(0)).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn a_claim_is_in_progress_within_the_lease_and_free_after_it() {
    // A holder that crashed (or whose answer was lost) never completes nor releases.
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    assert!(store.claim(&key(0)).await.unwrap().is_acquired());
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        store.claim(&key(0)).await.unwrap(),
        Claim::InProgress {
            retry_after: Duration::from_secs(6)
        }
    );
    clock.advance(Duration::from_secs(6));
    assert!(
        store.claim(&key(0)).await.unwrap().is_acquired(),
        "the retry after the lease is processed"
    );
}

#[tokio::test]
async fn release_frees_only_the_holders_claim() {
    let (store, clock) = store_with_clock(Duration::from_secs(60), 100);
    let Claim::Acquired(first) = store.claim(&key(0)).await.unwrap() else {
        panic!("acquired");
    };
    clock.advance(Duration::from_secs(10));
    // The first holder outran its lease; a second delivery took over.
    let Claim::Acquired(second) = store.claim(&key(0)).await.unwrap() else {
        panic!("acquired after the lease");
    };
    store.release(&key(0), &first).await.unwrap();
    assert!(
        matches!(
            store.claim(&key(0)).await.unwrap(),
            Claim::InProgress { .. }
        ),
        "a stale holder cannot drop the current claim"
    );
    store.release(&key(0), &second).await.unwrap();
    assert!(store.claim(&key(0)).await.unwrap().is_acquired());
    store.complete(&key(0)).await.unwrap();
    store.release(&key(0), &second).await.unwrap();
    assert_eq!(store.claim(&key(0)).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn expired_keys_are_dropped() {
    let (store, clock) = store_with_clock(Duration::from_secs(10), 100);
    for n in 0..5 {
        assert!(process(&store, &key(n)).await);
    }
    clock.advance(Duration::from_secs(11));
    assert!(process(&store, &key(100)).await);
    assert_eq!(store.len(), 1, "the five expired keys were evicted");
}

#[tokio::test]
async fn events_of_one_link_are_distinct() {
    let store = MemoryDedupeStore::new();
    let failed = DedupeKey::new("link_1", "link.failed", 10);
    let complete = DedupeKey::new("link_1", "link.complete", 20);
    let other_link = DedupeKey::new("link_2", "link.complete", 20);
    assert!(process(&store, &failed).await);
    assert!(process(&store, &complete).await);
    assert!(process(&store, &other_link).await);
    assert_eq!(store.claim(&complete).await.unwrap(), Claim::Done);
}

#[tokio::test]
async fn capacity_bound_evicts_oldest() {
    let (store, _clock) = store_with_clock(Duration::from_secs(3600), 3);
    for n in 0..3 {
        assert!(process(&store, &key(n)).await);
    }
    assert_eq!(store.len(), 3);
    assert!(process(&store, &key(3)).await);
    assert_eq!(store.len(), 3, "bound respected");
    // key(0) was the oldest and went; key(1..=3) are still held.
    for n in [3, 2, 1] {
        assert_eq!(store.claim(&key(n)).await.unwrap(), Claim::Done, "key {n}");
    }
    assert!(process(&store, &key(0)).await, "oldest was evicted");
    assert_eq!(store.len(), 3);
}

#[tokio::test]
async fn bound_holds_under_many_keys_and_forgets() {
    let (store, _clock) = store_with_clock(Duration::from_secs(3600), 50);
    for n in 0..10_000 {
        assert!(process(&store, &key(n)).await);
        if n % 3 == 0 {
            store.forget(&key(n)).await.unwrap();
        }
        assert!(store.len() <= 50);
    }
    assert_eq!(store.claim(&key(9_998)).await.unwrap(), Claim::Done);
    assert!(
        store.claim(&key(9_999)).await.unwrap().is_acquired(),
        "9999 was forgotten"
    );
}

#[tokio::test]
async fn clones_share_records() {
    let store = MemoryDedupeStore::new();
    let clone = store.clone();
    assert!(process(&store, &key(0)).await);
    assert_eq!(clone.claim(&key(0)).await.unwrap(), Claim::Done);
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
                store.claim(&key(round)).await.unwrap().is_acquired()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
