//! Fetch slots: at most `capacity` key fetches in flight; callers over that wait in a queue
//! served by recent demand for their id (most requested first, then first come), so a stranger's
//! ids, each asked for once, cannot keep out an id that genuine webhooks keep asking for.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::lock;

/// Requests older than this no longer count as demand: it spans Passage's retries (5 s) with
/// room, and a steady stream of genuine webhooks keeps its key's count fresh.
const DEMAND_WINDOW: Duration = Duration::from_secs(60);
/// Most ids whose demand is remembered (entries are dropped once an id is settled).
const DEMAND_CAPACITY: usize = 1024;
/// Most callers waiting for a slot; beyond it the one with the least demand is refused.
const MAX_WAITING: usize = 1024;

#[derive(Debug)]
pub(super) struct FetchSlots {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    capacity: usize,
    busy: usize,
    /// Invariant: non-empty only while `busy == capacity` (a freed slot goes straight to
    /// a waiter).
    waiting: Vec<Waiter>,
    next_seq: u64,
    demand: HashMap<String, Demand>,
}

#[derive(Debug, Clone, Copy)]
struct Demand {
    count: u32,
    last: Instant,
}

#[derive(Debug)]
struct Waiter {
    kid: String,
    seq: u64,
    /// The demand when it queued: a floor, should the id's entry be evicted meanwhile.
    floor: u32,
    grant: oneshot::Sender<()>,
}

/// A fetch slot; freeing it hands it to the waiter with the most demand.
#[derive(Debug)]
pub(super) struct Slot<'a> {
    slots: &'a FetchSlots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        lock(&self.slots.state).hand_on();
    }
}

/// A place in the queue. Dropped without being turned into a [`Slot`] (timeout, or the
/// caller's future dropped), it leaves the queue, or hands on a slot granted meanwhile.
struct Ticket<'a> {
    slots: &'a FetchSlots,
    seq: u64,
    grant: oneshot::Receiver<()>,
    taken: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        let mut state = lock(&self.slots.state);
        if let Some(i) = state.waiting.iter().position(|w| w.seq == self.seq) {
            state.waiting.swap_remove(i);
        } else if self.grant.try_recv().is_ok() {
            state.hand_on();
        }
    }
}

impl FetchSlots {
    pub(super) fn new(capacity: u32) -> Self {
        Self {
            state: Mutex::new(State {
                capacity: usize::try_from(capacity.max(1)).unwrap_or(usize::MAX),
                busy: 0,
                waiting: Vec::new(),
                next_seq: 0,
                demand: HashMap::new(),
            }),
        }
    }

    pub(super) fn capacity(&self) -> u32 {
        u32::try_from(lock(&self.state).capacity).unwrap_or(u32::MAX)
    }

    /// Counts one request for `kid` (not cached, not known unknown); returns its demand.
    pub(super) fn note_demand(&self, kid: &str) -> u32 {
        lock(&self.state).note(kid, Instant::now())
    }

    /// Forgets the demand of an id that is cached or known unknown now.
    pub(super) fn settle(&self, kid: &str) {
        lock(&self.state).demand.remove(kid);
    }

    /// A slot for fetching `kid`, waiting until `deadline` at most; `None` if none came.
    pub(super) async fn acquire(
        &self,
        kid: &str,
        demand: u32,
        deadline: Instant,
    ) -> Option<Slot<'_>> {
        let grant = {
            let mut state = lock(&self.state);
            if state.busy < state.capacity {
                state.busy += 1;
                return Some(Slot { slots: self });
            }
            let (grant, receiver) = oneshot::channel();
            let seq = state.next_seq;
            state.next_seq += 1;
            let waiter = Waiter {
                kid: kid.to_owned(),
                seq,
                floor: demand,
                grant,
            };
            if !state.enqueue(waiter, Instant::now()) {
                return None;
            }
            Ticket {
                slots: self,
                seq,
                grant: receiver,
                taken: false,
            }
        };
        let mut ticket = grant;
        match tokio::time::timeout_at(deadline, &mut ticket.grant).await {
            Ok(Ok(())) => {
                ticket.taken = true;
                Some(Slot { slots: self })
            }
            // Timed out, or pushed out of a full queue (its sender dropped).
            _ => None,
        }
    }
}

impl State {
    fn note(&mut self, kid: &str, now: Instant) -> u32 {
        if !self.demand.contains_key(kid) && self.demand.len() >= DEMAND_CAPACITY {
            self.demand
                .retain(|_, d| now.duration_since(d.last) < DEMAND_WINDOW);
            if self.demand.len() >= DEMAND_CAPACITY {
                // Still full of live ids: forget the least requested, oldest first.
                if let Some(victim) = self
                    .demand
                    .iter()
                    .min_by_key(|(_, d)| (d.count, d.last))
                    .map(|(k, _)| k.clone())
                {
                    self.demand.remove(&victim);
                }
            }
        }
        let entry = self.demand.entry(kid.to_owned()).or_insert(Demand {
            count: 0,
            last: now,
        });
        if now.duration_since(entry.last) >= DEMAND_WINDOW {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.count
    }

    /// How much `waiter` is wanted now: requests for its id in the window, at least what it
    /// had when it queued.
    fn priority(&self, waiter: &Waiter, now: Instant) -> u32 {
        let recent = self
            .demand
            .get(&waiter.kid)
            .filter(|d| now.duration_since(d.last) < DEMAND_WINDOW)
            .map_or(0, |d| d.count);
        recent.max(waiter.floor)
    }

    /// Queues `waiter`, pushing out the least wanted one if the queue is full and it is
    /// wanted less than the newcomer; `false` if the newcomer is the one refused.
    fn enqueue(&mut self, waiter: Waiter, now: Instant) -> bool {
        if self.waiting.len() >= MAX_WAITING {
            let newcomer = self.priority(&waiter, now);
            let least = self
                .waiting
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| (self.priority(w, now), Reverse(w.seq)))
                .map(|(i, w)| (i, self.priority(w, now)));
            match least {
                // Dropping its sender wakes it with an error: it gives up at once.
                Some((i, p)) if p < newcomer => drop(self.waiting.swap_remove(i)),
                _ => return false,
            }
        }
        self.waiting.push(waiter);
        true
    }

    /// A slot came free: give it to the most wanted waiter (oldest among equals), or keep
    /// it free.
    fn hand_on(&mut self) {
        let now = Instant::now();
        while let Some(i) = self
            .waiting
            .iter()
            .enumerate()
            .max_by_key(|(_, w)| (self.priority(w, now), Reverse(w.seq)))
            .map(|(i, _)| i)
        {
            let waiter = self.waiting.swap_remove(i);
            if waiter.grant.send(()).is_ok() {
                return;
            }
        }
        self.busy = self.busy.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_most_requested_id_then_first_come() {
        let slots = std::sync::Arc::new(FetchSlots::new(1));
        let held = slots.acquire("held", 1, far()).await.unwrap();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (queued, kid) in ["once_a", "once_b", "wanted"].into_iter().enumerate() {
            slots.note_demand(kid);
            let (task_slots, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = task_slots.acquire(kid, 1, far()).await.unwrap();
                lock(&order).push(kid);
                drop(slot);
            }));
            while lock(&slots.state).waiting.len() <= queued {
                tokio::task::yield_now().await;
            }
        }
        // Passage retries `wanted` twice while all wait.
        slots.note_demand("wanted");
        slots.note_demand("wanted");
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*lock(&order), ["wanted", "once_a", "once_b"]);
        let state = lock(&slots.state);
        assert_eq!((state.busy, state.waiting.len()), (0, 0));
    }

    #[tokio::test]
    async fn a_caller_that_times_out_or_goes_away_leaves_no_trace() {
        let slots = FetchSlots::new(1);
        let held = slots.acquire("held", 1, far()).await.unwrap();
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(slots.acquire("late", 1, soon).await.is_none());
        // A waiter whose future is dropped while queued (its request went away).
        let gone =
            tokio::time::timeout(Duration::from_millis(20), slots.acquire("gone", 1, far())).await;
        assert!(gone.is_err());
        assert_eq!(lock(&slots.state).waiting.len(), 0);
        drop(held);
        assert_eq!(lock(&slots.state).busy, 0);
        assert!(slots.acquire("next", 1, far()).await.is_some());
        assert_eq!(lock(&slots.state).busy, 0);
    }

    #[test]
    fn a_full_queue_refuses_the_least_wanted() {
        let mut state = FetchSlots::new(1).state.into_inner().unwrap();
        let now = Instant::now();
        let mut receivers = Vec::new();
        for seq in 0..MAX_WAITING as u64 {
            let (grant, rx) = oneshot::channel();
            receivers.push(rx);
            let waiter = Waiter {
                kid: format!("rnd_{seq}"),
                seq,
                floor: 1,
                grant,
            };
            assert!(state.enqueue(waiter, now));
        }
        let (grant, _rx) = oneshot::channel();
        let same = Waiter {
            kid: "also_once".into(),
            seq: 5000,
            floor: 1,
            grant,
        };
        assert!(!state.enqueue(same, now), "a tie does not push anyone out");
        let (grant, _rx) = oneshot::channel();
        let wanted = Waiter {
            kid: "wanted".into(),
            seq: 5001,
            floor: 3,
            grant,
        };
        assert!(state.enqueue(wanted, now));
        assert_eq!(state.waiting.len(), MAX_WAITING);
        // The newest of the least wanted was pushed out (its sender dropped).
        assert_eq!(
            receivers.last_mut().unwrap().try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        );
        assert_eq!(
            receivers[0].try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        );
        assert!(!state
            .waiting
            .iter()
            .any(|w| w.seq == MAX_WAITING as u64 - 1));
    }

    #[test]
    fn demand_is_bounded_and_forgets_the_least_requested() {
        let mut state = FetchSlots::new(1).state.into_inner().unwrap();
        let now = Instant::now();
        assert_eq!(state.note("wanted", now), 1);
        assert_eq!(state.note("wanted", now), 2);
        for i in 0..DEMAND_CAPACITY * 2 {
            state.note(&format!("rnd_{i}"), now);
        }
        assert_eq!(state.demand.len(), DEMAND_CAPACITY);
        assert_eq!(state.note("wanted", now), 3);
        // Outside the window the count starts again.
        assert_eq!(state.note("wanted", now + DEMAND_WINDOW), 1);
    }
}
