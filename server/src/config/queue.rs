//! `[queue]`: delivery to each domain's primary and beyond — the retry
//! schedule (RFC 5321 §4.5.4.1), how long a message is retried, how many
//! deliveries run at once, and the rate a primary back from an outage
//! gets its held backlog at.

use std::time::Duration;

use serde::Deserialize;

use super::values::{parse_duration, positive};
use super::{invalid, ConfigError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    /// Waits between delivery attempts; the last one repeats.
    pub retry_intervals: Option<Vec<String>>,
    /// How long a message is retried before it expires and bounces (RFC 5321
    /// §4.5.4.1 asks for at least 4-5 days).
    pub max_age: Option<String>,
    /// Deliveries in flight at once (all primaries together).
    pub concurrency: Option<usize>,
    /// Deliveries in flight at once to one primary.
    pub per_destination: Option<usize>,
    /// Timeout of one SMTP command during delivery.
    pub timeout: Option<String>,
    /// How often the queue looks for due deliveries when nothing wakes it.
    pub poll_interval: Option<String>,
    /// Messages per second handed to one primary while it recovers from an
    /// outage (the held backlog), so a server just back is not flooded.
    /// 0: no limit.
    pub recovery_rate: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub retry_intervals: Vec<Duration>,
    pub max_age: Duration,
    pub concurrency: usize,
    pub per_destination: usize,
    pub recovery_rate: u32,
    pub timeout: Duration,
    pub poll_interval: Duration,
}

impl RawQueue {
    pub fn validate(self) -> Result<QueueConfig, ConfigError> {
        let q = self;
        let retry_intervals = match q.retry_intervals {
            Some(list) => list
                .iter()
                .map(|s| parse_duration("queue.retry_intervals", s))
                .collect::<Result<Vec<_>, _>>()?,
            None => ["1m", "5m", "15m", "30m", "1h", "2h", "4h"]
                .iter()
                .map(|s| parse_duration("queue.retry_intervals", s))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if retry_intervals.is_empty() || retry_intervals.iter().any(|d| d.is_zero()) {
            return Err(invalid(
                "queue.retry_intervals",
                "needs at least one non-zero interval",
            ));
        }
        Ok(QueueConfig {
            retry_intervals,
            max_age: parse_duration("queue.max_age", q.max_age.as_deref().unwrap_or("5d"))?,
            concurrency: positive("queue.concurrency", q.concurrency.unwrap_or(16))?,
            per_destination: positive("queue.per_destination", q.per_destination.unwrap_or(4))?,
            recovery_rate: q.recovery_rate.unwrap_or(0),
            timeout: parse_duration("queue.timeout", q.timeout.as_deref().unwrap_or("60s"))?,
            poll_interval: parse_duration(
                "queue.poll_interval",
                q.poll_interval.as_deref().unwrap_or("1s"),
            )?,
        })
    }
}
