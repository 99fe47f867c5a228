//! The leadership key's I/O: reads, compare-and-set writes and the watch
//! of one key, run beside the relay's task and reported back as
//! [`Leadership`](crate::Leadership) inputs. It decides nothing.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};

use crate::config::expiring_bucket;
use crate::{KeyView, LeaderTiming, LeadershipAction, RelayError, WriteResult};

/// The longest a release waits for the server when the relay stops.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the leadership key's I/O has to tell the relay's task.
#[derive(Debug)]
pub(crate) enum LeaderNews {
    /// A read's answer (`None`: it failed).
    Read(Option<KeyView>),
    /// A write's result.
    Written(WriteResult),
    /// The watch saw a change.
    Watched(KeyView),
}

/// Where a leadership key lives: its bucket, the TTL the bucket gets if
/// this relay creates it, and the key (a feed's name, or
/// `trade_updates.<account>`).
#[derive(Debug, Clone)]
pub(crate) struct LeaderPlace<'a> {
    pub(crate) bucket: &'a str,
    pub(crate) ttl: Duration,
    pub(crate) key: String,
}

/// The leadership bucket's key of one feed (or account), its requests in
/// flight and its watch.
pub(crate) struct LeaderKv {
    store: kv::Store,
    key: String,
    id: Bytes,
    in_flight: FuturesUnordered<BoxFuture<'static, LeaderNews>>,
    /// The key's watch while it works; reads cover for it after it failed.
    watch: Option<kv::Watch>,
}

impl std::fmt::Debug for LeaderKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderKv")
            .field("key", &self.key)
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl LeaderKv {
    /// Opens the leadership bucket (creating it with a `max_age` of
    /// `place.ttl` if absent; an existing bucket keeps its
    /// own, which every relay then uses) and watches the feed's key.
    /// Returns the timing of the bucket's TTL.
    ///
    /// # Errors
    /// [`RelayError::Bucket`] when the bucket can be neither opened nor
    /// created, or the key not watched.
    pub(crate) async fn open(
        jetstream: &jetstream::Context,
        place: &LeaderPlace<'_>,
        id: &str,
    ) -> Result<(Self, LeaderTiming), RelayError> {
        let bucket_error = |e: &dyn std::fmt::Display| RelayError::Bucket {
            bucket: place.bucket.to_owned(),
            message: e.to_string(),
        };
        let store = match jetstream.get_key_value(place.bucket).await {
            Ok(store) => store,
            Err(_) => {
                let created = jetstream
                    .create_key_value(expiring_bucket(place.bucket, place.ttl))
                    .await;
                match created {
                    Ok(store) => store,
                    // Another relay created it meanwhile.
                    Err(_) => jetstream
                        .get_key_value(place.bucket)
                        .await
                        .map_err(|e| bucket_error(&e))?,
                }
            }
        };
        let status = store.status().await.map_err(|e| bucket_error(&e))?;
        let ttl = status.info.config.max_age;
        if ttl.is_zero() {
            return Err(bucket_error(
                &"the leadership bucket has no max_age: a dead leader's key would never expire",
            ));
        }
        if ttl != place.ttl {
            tracing::info!(
                bucket = %place.bucket,
                ttl_ms = ttl.as_millis() as u64,
                "the leadership bucket exists with another TTL: using it"
            );
        }
        let key = place.key.clone();
        let watch = store.watch(&key).await.map_err(|e| bucket_error(&e))?;
        let kv = Self {
            store,
            key,
            id: Bytes::copy_from_slice(id.as_bytes()),
            in_flight: FuturesUnordered::new(),
            watch: Some(watch),
        };
        Ok((kv, LeaderTiming::new(ttl)))
    }

    /// Sends a read or a write of `action`; other actions are not I/O of
    /// the key and are ignored.
    pub(crate) fn perform(&mut self, action: &LeadershipAction) {
        let (store, key, id) = (self.store.clone(), self.key.clone(), self.id.clone());
        let request: BoxFuture<'static, LeaderNews> = match *action {
            LeadershipAction::Read => async move {
                LeaderNews::Read(match store.entry(key).await {
                    Ok(entry) => Some(view(entry)),
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the leadership key");
                        None
                    }
                })
            }
            .boxed(),
            LeadershipAction::Create => async move {
                LeaderNews::Written(match store.create(key, id).await {
                    Ok(revision) => WriteResult::Written { revision },
                    Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                        WriteResult::Conflict
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot create the leadership key");
                        WriteResult::Failed
                    }
                })
            }
            .boxed(),
            LeadershipAction::Update { revision } => async move {
                LeaderNews::Written(match store.update(key, id, revision).await {
                    Ok(revision) => WriteResult::Written { revision },
                    Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        WriteResult::Conflict
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot renew the leadership key");
                        WriteResult::Failed
                    }
                })
            }
            .boxed(),
            _ => return,
        };
        self.in_flight.push(request);
    }

    /// Deletes the key if still at `revision`, waiting at most 2 s: a
    /// standby then takes over at once instead of after the TTL.
    pub(crate) async fn release(&mut self, revision: u64) {
        let deleted = tokio::time::timeout(
            RELEASE_TIMEOUT,
            self.store.delete_expect_revision(&self.key, Some(revision)),
        )
        .await;
        match deleted {
            Ok(Ok(())) => tracing::info!("leadership released"),
            Ok(Err(error)) => tracing::warn!(%error, "cannot release the leadership key"),
            Err(_) => tracing::warn!("releasing the leadership key timed out"),
        }
    }

    /// The next answer or watched change; pending for ever while there is
    /// none to come. Cancel-safe.
    pub(crate) async fn next(&mut self) -> LeaderNews {
        loop {
            tokio::select! {
                Some(news) = self.in_flight.next() => return news,
                entry = next_watched(&mut self.watch) => match entry {
                    Some(Ok(entry)) => return LeaderNews::Watched(view(Some(entry))),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "leadership watch error");
                    }
                    None => {
                        tracing::warn!("the leadership watch ended; reading the key instead");
                        self.watch = None;
                    }
                },
            }
        }
    }
}

/// The key as an entry shows it.
fn view(entry: Option<kv::Entry>) -> KeyView {
    match entry {
        None => KeyView::Absent,
        Some(entry) => match entry.operation {
            kv::Operation::Put => KeyView::Held {
                revision: entry.revision,
                holder: String::from_utf8_lossy(&entry.value).into_owned(),
            },
            kv::Operation::Delete | kv::Operation::Purge => KeyView::Gone {
                revision: entry.revision,
            },
        },
    }
}

/// The watch's next entry, or pending for ever without a watch.
async fn next_watched(
    watch: &mut Option<kv::Watch>,
) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match watch {
        Some(watch) => watch.next().await,
        None => std::future::pending().await,
    }
}
