//! The bounded span queue between OTLP requests and the database.
//!
//! A request that decoded `n` spans takes `n` permits from a semaphore sized
//! `telemetry.queue_spans` — or, when they are not there, is answered 503 with
//! `Retry-After` at once (exporters retry): memory stays bounded however fast
//! clients send. A single writer task drains the queue: it takes every job waiting
//! (up to `telemetry.batch_spans` spans), writes them in one transaction, and only
//! then answers each request, so a 200 means the spans are committed.

use std::sync::{Arc, Mutex};

use charter_store::Store;
use charter_store::telemetry::{ResourceRecord, SpanRecord};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

/// The outcome a request waits for: spans newly stored, or why none were.
pub type Outcome = Result<u64, String>;

struct Job {
    resources: Vec<ResourceRecord>,
    spans: Vec<SpanRecord>,
    done: oneshot::Sender<Outcome>,
    /// Released when the job is written (or dropped).
    _permits: OwnedSemaphorePermit,
}

/// The queue (cheap to share: it lives in the app state).
pub struct SpanQueue {
    sender: mpsc::Sender<Job>,
    receiver: Mutex<Option<mpsc::Receiver<Job>>>,
    permits: Arc<Semaphore>,
    capacity: usize,
    batch: usize,
}

/// The queue had no room.
#[derive(Debug)]
pub struct QueueFull {
    pub queued: usize,
}

impl SpanQueue {
    pub fn new(capacity: usize, batch: usize) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            batch,
        }
    }

    /// Spans accepted and not yet written.
    pub fn queued(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Take room for `n` spans without queueing anything, as a backlog would; the
    /// room returns when the permit drops (tests fill the queue with this).
    pub fn reserve(&self, n: u32) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_many_owned(n).ok()
    }

    /// Queue spans for writing; the receiver answers once they are committed. A
    /// request larger than the whole queue waits for the queue to be empty.
    pub fn submit(
        &self,
        store: &Store,
        resources: Vec<ResourceRecord>,
        spans: Vec<SpanRecord>,
    ) -> Result<oneshot::Receiver<Outcome>, QueueFull> {
        self.start(store);
        let n = u32::try_from(spans.len().clamp(1, self.capacity)).unwrap_or(u32::MAX);
        let permits = self
            .permits
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| QueueFull { queued: self.queued() })?;
        let (done, rx) = oneshot::channel();
        let job = Job {
            resources,
            spans,
            done,
            _permits: permits,
        };
        // The channel holds at least as many jobs as there are permits, so a job
        // holding permits always fits.
        self.sender
            .try_send(job)
            .map_err(|_| QueueFull { queued: self.queued() })?;
        Ok(rx)
    }

    /// Start the writer on first use (it needs a running Tokio runtime).
    fn start(&self, store: &Store) {
        let mut receiver = self.receiver.lock().expect("span queue lock");
        if let Some(rx) = receiver.take() {
            tokio::spawn(write_loop(store.clone(), rx, self.batch));
        }
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Job>, batch: usize) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut spans = jobs[0].spans.len();
        while spans < batch {
            match rx.try_recv() {
                Ok(job) => {
                    spans += job.spans.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut resources: Vec<ResourceRecord> = Vec::new();
        let mut records = Vec::with_capacity(spans);
        let mut waiting = Vec::with_capacity(jobs.len());
        for job in jobs {
            for r in job.resources {
                if !resources.iter().any(|x| x.hash == r.hash) {
                    resources.push(r);
                }
            }
            records.extend(job.spans);
            waiting.push((job.done, job._permits));
        }
        let outcome = store.insert_spans(resources, records).await;
        if let Err(e) = &outcome {
            tracing::error!(error = %e, spans, "could not store spans; the exporters are told to retry");
        }
        let n_jobs = waiting.len();
        for (done, permits) in waiting {
            let answer = match &outcome {
                // Each request learns only that its spans are in; how many were new
                // is not split per request.
                Ok(n) => Ok(*n),
                Err(e) => Err(e.to_string()),
            };
            let _ = done.send(answer);
            drop(permits);
        }
        tracing::debug!(spans, requests = n_jobs, "wrote a batch of spans");
    }
}
