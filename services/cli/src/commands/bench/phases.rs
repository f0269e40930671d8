//! The phases: each drives calls in a closed loop at `--concurrency` (or an open loop at
//! `--rate`), bounded by `--count` and `--max-seconds`, and reports what it measured.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use latch_proto::flow::v1 as flow;
use latch_proto::request::v1 as pb;
use tokio::sync::Mutex;

use super::BenchArgs;
use super::report::{PhaseReport, Tally};
use super::world::World;
use crate::client::RequestClient;

/// Requests the phases made, for the phases after them.
#[derive(Debug, Default)]
pub struct State {
    /// Active requests: (id, requester index).
    pub active: Vec<(String, usize)>,
    /// Every request made, for reads.
    pub known: Vec<(String, usize)>,
}

/// Runs `call(n)` for n in 0..count, closed loop at `concurrency` or open loop at `rate`/s,
/// until `limit`; returns what succeeded (with n) and the tally.
async fn drive<T, F, Fut>(args: &BenchArgs, count: u32, limit: Duration, call: F) -> (Vec<(u32, T)>, Tally, Duration)
where
    T: Send + 'static,
    F: Fn(u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + limit;
    let done = Arc::new(Mutex::new((Vec::new(), Tally::default())));
    if args.rate == 0 {
        let next = Arc::new(AtomicU32::new(0));
        let mut workers = Vec::new();
        for _ in 0..args.concurrency.min(count) {
            let (call, next, done) = (call.clone(), next.clone(), done.clone());
            workers.push(tokio::spawn(async move {
                let mut mine = (Vec::new(), Tally::default());
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        break;
                    }
                    if Instant::now() >= deadline {
                        mine.1.error("not run: --max-seconds reached".into());
                        continue;
                    }
                    let sent = Instant::now();
                    match tokio::time::timeout_at(deadline.into(), call(n)).await {
                        Ok(Ok(value)) => {
                            mine.1.latencies.push(sent.elapsed());
                            mine.0.push((n, value));
                        }
                        Ok(Err(error)) => mine.1.error(error),
                        Err(_) => mine.1.error("unanswered at --max-seconds".into()),
                    }
                }
                let mut all = done.lock().await;
                all.0.extend(mine.0);
                all.1.merge(mine.1);
            }));
        }
        for worker in workers {
            let _ = worker.await;
        }
    } else {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut calls = Vec::new();
        for n in 0..count {
            ticks.tick().await;
            if Instant::now() >= deadline {
                done.lock().await.1.error("not offered: --max-seconds reached".into());
                continue;
            }
            let (call, done) = (call.clone(), done.clone());
            calls.push(tokio::spawn(async move {
                let sent = Instant::now();
                let outcome = tokio::time::timeout_at(deadline.into(), call(n)).await;
                let mut all = done.lock().await;
                match outcome {
                    Ok(Ok(value)) => {
                        all.1.latencies.push(sent.elapsed());
                        all.0.push((n, value));
                    }
                    Ok(Err(error)) => all.1.error(error),
                    Err(_) => all.1.error("unanswered at --max-seconds".into()),
                }
            }));
        }
        for call in calls {
            let _ = call.await;
        }
    }
    let elapsed = started.elapsed();
    let (values, tally) = std::mem::take(&mut *done.lock().await);
    (values, tally, elapsed)
}

fn status(error: tonic::Status) -> String {
    format!("{:?}: {}", error.code(), error.message())
}

/// Follows one request with `WatchRequest` until it is `wanted`; returns the time from `since`.
async fn watch_until(
    mut client: RequestClient,
    id: String,
    wanted: &'static str,
    since: Instant,
) -> Result<Duration, String> {
    use futures::StreamExt;
    let mut updates = client
        .watch_request(pb::WatchRequestRequest { id: id.clone() })
        .await
        .map_err(status)?
        .into_inner();
    while let Some(update) = updates.next().await {
        let request = update.map_err(status)?;
        if request.state == wanted {
            return Ok(since.elapsed());
        }
        if matches!(
            request.state.as_str(),
            "failed" | "rejected" | "cancelled" | "revoked" | "expired"
        ) {
            return Err(format!("request {id} ended {}", request.state));
        }
    }
    Err(format!("request {id}: the watch ended before {wanted}"))
}

/// Requests followed to a state: (id, requester, the watch).
type Watched = Vec<(String, usize, tokio::task::JoinHandle<Result<Duration, String>>)>;

/// Waits for every watch (until `started + limit`) and reports the time from each request's
/// call to its state; returns the requests that reached it.
async fn reached(
    phase: &str,
    watched: Watched,
    started: Instant,
    limit: Duration,
) -> (PhaseReport, Vec<(String, usize)>) {
    let deadline = started + limit;
    let mut tally = Tally::default();
    let mut reached = Vec::new();
    let mut last_seen = started;
    for (id, requester, watch) in watched {
        match tokio::time::timeout_at(deadline.into(), watch).await {
            Ok(Ok(Ok(latency))) => {
                last_seen = last_seen.max(Instant::now());
                tally.latencies.push(latency);
                reached.push((id, requester));
            }
            Ok(Ok(Err(error))) => tally.error(error),
            Ok(Err(join)) => tally.error(format!("request {id}: {join}")),
            Err(_) => tally.error(format!("request {id} not there within --max-seconds")),
        }
    }
    (tally.report(phase, last_seen - started), reached)
}

fn submission(
    world: &World,
    args: &BenchArgs,
    n: u32,
    permission: &str,
    tag: &str,
) -> (usize, pb::SubmitRequestRequest) {
    let requester = (n % args.requesters) as usize;
    let request = pb::SubmitRequestRequest {
        request_id: format!("bench-{}-{tag}-{n}", world.run),
        items: vec![pb::RequestedItem {
            integration: world.integration.clone(),
            resource_id: world.table(n / args.requesters),
            permission: permission.into(),
        }],
        duration: "30m".into(),
        ..Default::default()
    };
    (requester, request)
}

/// Submits `--count` requests of `permission`; returns (id, requester, state answered) and,
/// with `watch_for`, a watch opened on each request as soon as it is submitted.
async fn submit_all(
    world: &World,
    args: &BenchArgs,
    limit: Duration,
    permission: &'static str,
    tag: &'static str,
    watch_for: Option<&'static str>,
) -> (PhaseReport, Vec<(String, usize, String)>, Watched, Instant) {
    let started = Instant::now();
    let calls: Vec<_> = (0..args.count)
        .map(|n| {
            let (requester, request) = submission(world, args, n, permission, tag);
            (world.requesters[requester].requests.clone(), requester, request)
        })
        .collect();
    let calls = Arc::new(calls);
    let watched = Arc::new(std::sync::Mutex::new(Watched::new()));
    let watches = watched.clone();
    let (values, tally, elapsed) = drive(args, args.count, limit, move |n| {
        let (calls, watches) = (calls.clone(), watches.clone());
        async move {
            let (client, requester, request) = &calls[n as usize];
            let sent = Instant::now();
            let answer = client
                .clone()
                .submit_request(request.clone())
                .await
                .map_err(status)?
                .into_inner();
            if let Some(wanted) = watch_for {
                let watch = tokio::spawn(watch_until(client.clone(), answer.id.clone(), wanted, sent));
                watches
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((answer.id.clone(), *requester, watch));
            }
            Ok((answer.id, *requester, answer.state))
        }
    })
    .await;
    let submitted = values.into_iter().map(|(_, v)| v).collect();
    let watched = std::mem::take(&mut *watched.lock().unwrap_or_else(|p| p.into_inner()));
    (
        tally.report(&format!("submit {tag}"), elapsed),
        submitted,
        watched,
        started,
    )
}

/// Submit with automatic approval, then every request to ACTIVE.
pub async fn submit(world: &World, args: &BenchArgs, limit: Duration, state: &mut State) -> Vec<PhaseReport> {
    let (submitted_report, submitted, watched, started) =
        submit_all(world, args, limit, "read", "automatic", Some("active")).await;
    let (active_report, active) = reached("automatic → ACTIVE", watched, started, limit).await;
    state.known.extend(submitted.iter().map(|(id, r, _)| (id.clone(), *r)));
    state.active.extend(active);
    vec![submitted_report, active_report]
}

/// Submit for the manager's approval, the managers approve, every request to ACTIVE.
pub async fn approve(world: &World, args: &BenchArgs, limit: Duration, state: &mut State) -> Vec<PhaseReport> {
    let (submitted_report, submitted, _, _) = submit_all(world, args, limit, "write", "pending", None).await;
    let pending: Vec<(String, usize)> = submitted
        .iter()
        .filter(|(_, _, state)| state == "pending_approval")
        .map(|(id, requester, _)| (id.clone(), *requester))
        .collect();
    // What an approver meets while the requests wait.
    let listing = list_approvals(world, args, limit, &format!("ListApprovals, {} pending", pending.len())).await;
    let decisions: Arc<Vec<_>> = Arc::new(
        pending
            .iter()
            .map(|(id, requester)| {
                let manager = world.managers[world.requesters[*requester].manager].clone();
                (manager, id.clone(), *requester)
            })
            .collect(),
    );
    let started = Instant::now();
    let count = decisions.len() as u32;
    let calls = decisions.clone();
    let requesters: Arc<Vec<RequestClient>> = Arc::new(world.requesters.iter().map(|r| r.requests.clone()).collect());
    let (values, tally, elapsed) = drive(args, count, limit, move |n| {
        let (calls, world_requesters) = (calls.clone(), requesters.clone());
        async move {
            let (manager, id, requester) = &calls[n as usize];
            let sent = Instant::now();
            manager
                .clone()
                .approve_request(pb::DecideRequest {
                    id: id.clone(),
                    reason: String::new(),
                })
                .await
                .map_err(status)?;
            let grantee = world_requesters[*requester].clone();
            let watch = tokio::spawn(watch_until(grantee, id.clone(), "active", sent));
            Ok((id.clone(), *requester, watch))
        }
    })
    .await;
    let watched: Watched = values.into_iter().map(|(_, v)| v).collect();
    let approve_report = tally.report("approve", elapsed);
    let (active_report, active) = reached("approved → ACTIVE", watched, started, limit).await;
    state.known.extend(submitted.iter().map(|(id, r, _)| (id.clone(), *r)));
    state.active.extend(active);
    vec![submitted_report, listing, approve_report, active_report]
}

/// `ListApprovals` by the managers in turn (the first page, up to 50 requests each).
async fn list_approvals(world: &World, args: &BenchArgs, limit: Duration, phase: &str) -> PhaseReport {
    let managers = Arc::new(world.managers.clone());
    let (_, tally, elapsed) = drive(args, args.count, limit, move |n| {
        let managers = managers.clone();
        async move {
            managers[n as usize % managers.len()]
                .clone()
                .list_approvals(pb::ListApprovalsRequest::default())
                .await
                .map(|_| ())
                .map_err(status)
        }
    })
    .await;
    tally.report(phase, elapsed)
}

/// One call per request in `requests` (cycling through them for `count` calls), made with the
/// client of the request's requester.
async fn on_each<F, Fut>(
    world: &World,
    args: &BenchArgs,
    limit: Duration,
    requests: &[(String, usize)],
    count: u32,
    call: F,
) -> (Tally, Duration)
where
    F: Fn(RequestClient, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let targets: Arc<Vec<_>> = Arc::new(
        requests
            .iter()
            .map(|(id, r)| (world.requesters[*r].requests.clone(), id.clone()))
            .collect(),
    );
    let call = Arc::new(call);
    let (_, tally, elapsed) = drive(args, count, limit, move |n| {
        let (targets, call) = (targets.clone(), call.clone());
        async move {
            let (client, id) = &targets[n as usize % targets.len()];
            call(client.clone(), id.clone()).await.map_err(status)
        }
    })
    .await;
    (tally, elapsed)
}

/// Extends up to `--count` active requests, each by its requester.
pub async fn extend(world: &World, args: &BenchArgs, limit: Duration, state: &State) -> Vec<PhaseReport> {
    let chosen = &state.active[..state.active.len().min(args.count as usize)];
    let (tally, elapsed) = on_each(
        world,
        args,
        limit,
        chosen,
        chosen.len() as u32,
        |mut client, id| async move { client.extend_request(pb::ExtendRequestRequest { id }).await.map(|_| ()) },
    )
    .await;
    vec![tally.report("extend", elapsed)]
}

/// Revokes up to `--count` active requests, each by its requester.
pub async fn revoke(world: &World, args: &BenchArgs, limit: Duration, state: &mut State) -> Vec<PhaseReport> {
    let take = state.active.len().min(args.count as usize);
    let chosen: Vec<_> = state.active.drain(..take).collect();
    let (tally, elapsed) = on_each(
        world,
        args,
        limit,
        &chosen,
        chosen.len() as u32,
        |mut client, id| async move {
            let reason = "latch bench".to_string();
            client.revoke_request(pb::EndRequest { id, reason }).await.map(|_| ())
        },
    )
    .await;
    vec![tally.report("revoke", elapsed)]
}

/// `--count` calls of each read: GetRequest (by the requester), ListApprovals (by a manager),
/// ListRequestable (by a requester).
pub async fn read(world: &World, args: &BenchArgs, limit: Duration, state: &State) -> Vec<PhaseReport> {
    let mut reports = Vec::new();
    if state.known.is_empty() {
        let mut tally = Tally::default();
        tally.error("no request to read: run submit or approve first".into());
        reports.push(tally.report("read GetRequest", Duration::ZERO));
    } else {
        let (tally, elapsed) = on_each(
            world,
            args,
            limit,
            &state.known,
            args.count,
            |mut client, id| async move { client.get_request(pb::GetRequestRequest { id }).await.map(|_| ()) },
        )
        .await;
        reports.push(tally.report("read GetRequest", elapsed));
    }
    reports.push(list_approvals(world, args, limit, "read ListApprovals").await);
    let flows: Arc<Vec<_>> = Arc::new(world.requesters.iter().map(|r| r.flows.clone()).collect());
    let (_, tally, elapsed) = drive(args, args.count, limit, move |n| {
        let flows = flows.clone();
        async move {
            flows[n as usize % flows.len()]
                .clone()
                .list_requestable(flow::ListRequestableRequest::default())
                .await
                .map(|_| ())
                .map_err(status)
        }
    })
    .await;
    reports.push(tally.report("read ListRequestable", elapsed));
    reports
}
