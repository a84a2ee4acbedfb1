//! `Served`: what a finished `serve` stage reports back to the scheduler, whatever ended it.

use std::time::Duration;

use super::serve_error::ServedError;

/// What a finished serve reports back to the scheduler.
#[derive(Debug)]
pub struct Served {
    pub stage: usize,
    /// From start to the end of the shutdown.
    pub duration: Duration,
    pub result: Result<String, ServedError>,
    pub requests: u64,
    pub alerts: usize,
    pub retrains: usize,
}
