//! `GET /`: the overview: the queue's counts (those of `mailroom queue stats`), the age of
//! the oldest ready job, the per-minute chart of the last hour and the live workers.
//! `GET /overview/live` is the same part alone, which the page's script fetches every few
//! seconds and swaps in, so the page refreshes without reloading.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use mailroom_queue::QueueStats;

use super::chart::{Chart, HEIGHT, WIDTH};
use super::operator::Operator;
use super::page::{Nav, error_page, render};
use crate::api::ApiState;
use crate::cli::table;

/// Minutes the chart covers.
pub const CHART_MINUTES: usize = 60;

/// One live worker, as shown.
#[derive(Debug, Clone)]
pub struct WorkerRow {
    /// Its consumer name.
    pub name: String,
    /// Its heartbeat's age, e.g. `2s 10ms`, or `-`.
    pub heartbeat_age: String,
    /// Deliveries it holds.
    pub in_flight: u64,
}

/// What the live part shows.
#[derive(Debug, Clone)]
pub struct Live {
    /// The queue's name.
    pub queue: String,
    /// The counts.
    pub stats: QueueStats,
    /// The oldest ready job's age, or `-`.
    pub oldest: String,
    /// The chart.
    pub chart: Chart,
    /// The registered workers.
    pub workers: Vec<WorkerRow>,
    /// When it was read.
    pub at: String,
    /// The chart's view box size.
    pub width: u32,
    /// The chart's view box height.
    pub height: u32,
}

impl Live {
    /// Reads it all from Redis.
    async fn read(state: &ApiState) -> Result<Self, mailroom_queue::QueueError> {
        let stats = state.queue.stats().await?;
        let minutes = state.queue.minutes(CHART_MINUTES).await?;
        let now = Utc::now();
        let workers = state
            .queue
            .workers()
            .await?
            .into_iter()
            .map(|w| WorkerRow {
                heartbeat_age: w.heartbeat_at.map_or_else(
                    || "-".to_owned(),
                    |t| table::duration((now - t).to_std().unwrap_or_default()),
                ),
                name: w.name,
                in_flight: w.in_flight,
            })
            .collect();
        Ok(Self {
            queue: state.config.queue.name.clone(),
            oldest: stats
                .oldest_ready_age
                .map_or_else(|| "-".to_owned(), table::duration),
            stats,
            chart: Chart::of(&minutes),
            workers,
            at: table::time(now),
            width: WIDTH,
            height: HEIGHT,
        })
    }
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct Overview {
    nav: Option<Nav>,
    live: Live,
}

#[derive(Template)]
#[template(path = "console/live.html")]
struct LivePart {
    live: Live,
}

fn unavailable(e: &mailroom_queue::QueueError) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("Redis is unavailable: {e}"),
    )
}

/// `GET /`.
pub async fn page(State(state): State<ApiState>, operator: Operator) -> Response {
    match Live::read(&state).await {
        Ok(live) => render(
            StatusCode::OK,
            &Overview {
                nav: Some(Nav::new(&operator, "overview")),
                live,
            },
        ),
        Err(e) => unavailable(&e),
    }
}

/// `GET /overview/live`: the live part alone.
pub async fn live(State(state): State<ApiState>, _operator: Operator) -> Response {
    match Live::read(&state).await {
        Ok(live) => render(StatusCode::OK, &LivePart { live }),
        Err(e) => unavailable(&e),
    }
}
