//! Revocation that never misses: a connector that fails a third of its calls and answers
//! slowly, a permanent failure that rolls back, a server killed mid-grant and with revokes due,
//! and two servers working one PostgreSQL queue.

use chrono::TimeDelta;
use latch_proto::request::v1 as pb;
use sea_orm::ConnectionTrait;

use crate::harness::TestServer;
use crate::request_support::{
    Scripted, ask, automatic_flow, create_flow, drive, get, integration, item, person, until_nothing_live, wait_states,
};

const TABLES: [&str; 3] = [
    "table:orders-prod/orders",
    "table:orders-prod/customers",
    "table:orders-prod/invoices",
];

#[tokio::test]
async fn a_flaky_slow_connector_still_ends_every_request_active_or_failed_and_revokes_everything() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(
        &server,
        "flaky",
        "scripted",
        &[("failure_rate", "0.33"), ("latency_ms", "15")],
    )
    .await;
    create_flow(&server, &automatic_flow("prod tables", "flaky")).await;
    let mut ids = Vec::new();
    let mut clients = Vec::new();
    for n in 0..4 {
        let (_user, token) = person(&server, &format!("eng{n}"), "Engineering", "").await;
        let mut client = server.requests_with(Some(&token)).await;
        for table in TABLES {
            let items = vec![item("flaky", table, "read"), item("flaky", table, "write")];
            ids.push(client.submit_request(ask(items, "1h")).await.unwrap().into_inner().id);
        }
        clients.push(client);
    }
    let mut admin = server.requests_with(Some(crate::harness::ADMIN_TOKEN)).await;
    let settled = drive(&server, &mut admin, &ids, TimeDelta::seconds(3), 400, |all| {
        all.iter().all(|r| matches!(r.state.as_str(), "active" | "failed"))
    })
    .await;
    let active = settled.iter().filter(|r| r.state == "active").count();
    assert!(active > 0, "most grants get through their retries");
    // A failed request keeps nothing (its rollback may still be retrying): in the end exactly
    // the active requests' items are granted.
    drive(&server, &mut admin, &ids, TimeDelta::seconds(3), 200, |_| {
        futures::executor::block_on(scripted.live()).len() == active * 2
    })
    .await;
    // Every grant that was made is revoked at expiry, through the failures.
    server.clock.advance(TimeDelta::hours(1));
    drive(&server, &mut admin, &ids, TimeDelta::seconds(5), 600, |all| {
        all.iter().all(|r| matches!(r.state.as_str(), "expired" | "failed"))
    })
    .await;
    until_nothing_live(&server, &mut admin, &ids, TimeDelta::seconds(5), &scripted).await;
    let jobs = admin
        .list_pending_jobs(pb::ListPendingJobsRequest {})
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert!(jobs.iter().all(|j| j.kind != "revoke"), "no revoke left: {jobs:?}");
}

#[tokio::test]
async fn a_permanent_failure_fails_the_request_and_rolls_back_what_was_granted() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    scripted.refuse("table:orders-prod/invoices");
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let mut client = server.requests_with(Some(&token)).await;
    let items = vec![
        item("shop", "table:orders-prod/orders", "read"),
        item("shop", "table:orders-prod/invoices", "read"),
    ];
    let id = client.submit_request(ask(items, "1h")).await.unwrap().into_inner().id;
    let failed = wait_states(&server, &mut client, std::slice::from_ref(&id), &["failed"])
        .await
        .remove(0);
    assert!(failed.outcome.contains("read-only today"), "{}", failed.outcome);
    until_nothing_live(
        &server,
        &mut client,
        std::slice::from_ref(&id),
        TimeDelta::seconds(1),
        &scripted,
    )
    .await;
    // The connector's revoke returns before the item is written released: wait for both.
    drive(
        &server,
        &mut client,
        std::slice::from_ref(&id),
        TimeDelta::zero(),
        250,
        |all| {
            all[0]
                .items
                .iter()
                .all(|i| matches!(i.state.as_str(), "released" | "skipped"))
        },
    )
    .await;
    // A connector that grants and then reports a permanent error: the half-made grant is
    // revoked all the same.
    scripted.fail_after_grant("table:orders-prod/customers");
    let half = client
        .submit_request(ask(vec![item("shop", "table:orders-prod/customers", "read")], "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let failed = wait_states(&server, &mut client, std::slice::from_ref(&half), &["failed"])
        .await
        .remove(0);
    assert!(failed.outcome.contains("half granted"), "{}", failed.outcome);
    until_nothing_live(
        &server,
        &mut client,
        std::slice::from_ref(&half),
        TimeDelta::seconds(1),
        &scripted,
    )
    .await;
}

#[tokio::test]
async fn revoked_while_granting_then_asked_again_the_first_request_still_ends() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let mut client = server.requests_with(Some(&token)).await;
    let orders = || vec![item("shop", "table:orders-prod/orders", "read")];
    scripted.hang_after_grant("table:orders-prod/orders", true);
    let first = client
        .submit_request(ask(orders(), "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    for _ in 0..200 {
        if !scripted.grant_calls().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(get(&mut client, &first).await.state, "granting");
    // Revoked while its grant is being made: it waits for the revoke of that grant…
    let end = pb::EndRequest {
        id: first.clone(),
        reason: String::new(),
    };
    assert_eq!(client.revoke_request(end).await.unwrap().into_inner().state, "revoking");
    // …until the same access is asked for again: the grant now stays for the new request,
    // and the first one ends at once instead of waiting for the second to end.
    let second = client
        .submit_request(ask(orders(), "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    wait_states(&server, &mut client, std::slice::from_ref(&first), &["revoked"]).await;
    scripted.hang_after_grant("table:orders-prod/orders", false);
    scripted.release_hung();
    wait_states(&server, &mut client, std::slice::from_ref(&second), &["active"]).await;
    assert_eq!(scripted.grant_calls().len(), 1);
    assert_eq!(scripted.live().await.len(), 1);
}

#[tokio::test]
async fn killed_mid_grant_after_approval_and_with_revokes_due_everything_converges() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let mut client = server.requests_with(Some(&token)).await;

    // An active grant whose revoke falls due while the server is down.
    let due = client
        .submit_request(ask(vec![item("shop", "table:orders-prod/customers", "read")], "30m"))
        .await
        .unwrap()
        .into_inner()
        .id;
    wait_states(&server, &mut client, std::slice::from_ref(&due), &["active"]).await;
    // A grant the connector makes but whose worker dies before recording it.
    scripted.hang_after_grant("table:orders-prod/orders", true);
    let mid = client
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    for _ in 0..200 {
        if !scripted.grant_calls().is_empty() && scripted.grant_calls().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        scripted.grant_calls().len(),
        2,
        "the connector granted; the worker hangs"
    );
    assert_eq!(get(&mut client, &mid).await.state, "granting");
    let (dir, url, clock) = server.kill().await;
    scripted.hang_after_grant("table:orders-prod/orders", false);

    // Down for 40 minutes: the first request's end passes.
    clock.advance(TimeDelta::minutes(40));
    let server = TestServer::start_with(dir, url, clock, vec![scripted.clone()]).await;
    let mut client = server.requests_with(Some(&token)).await;
    wait_states(&server, &mut client, std::slice::from_ref(&due), &["expired"]).await;
    // The dead worker's job comes back (at once on SQLite, where the restarted process takes
    // its own leases back; when the lease runs out on PostgreSQL) and is retried with the same
    // grant id.
    let ids = [mid.clone()];
    drive(&server, &mut client, &ids, TimeDelta::seconds(20), 50, |r| {
        r[0].state == "active"
    })
    .await;
    let live = scripted.live().await;
    assert_eq!(live.len(), 1, "granted once at the system: {live:?}");
    assert_eq!(
        scripted.grant_calls().len(),
        2,
        "no second grant id for the same access"
    );

    // Approved, then killed before the grant job ran: granted after the restart.
    let again = client
        .submit_request(ask(vec![item("shop", "table:orders-prod/invoices", "read")], "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let (dir, url, clock) = server.kill().await;
    let server = TestServer::start_with(dir, url, clock, vec![scripted.clone()]).await;
    let mut client = server.requests_with(Some(&token)).await;
    drive(
        &server,
        &mut client,
        std::slice::from_ref(&again),
        TimeDelta::seconds(20),
        50,
        |r| r[0].state == "active",
    )
    .await;

    // Everything ends; nothing stays granted.
    server.clock.advance(TimeDelta::hours(2));
    drive(&server, &mut client, &[mid, again], TimeDelta::seconds(5), 100, |r| {
        r.iter().all(|r| r.state == "expired")
    })
    .await;
    assert!(scripted.live().await.is_empty());
}

#[tokio::test]
async fn two_servers_on_one_postgres_work_one_queue_without_double_grants() {
    let scripted = Scripted::new();
    let first = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    if first.database_url.is_empty() {
        // One SQLite file belongs to one process; replicas need PostgreSQL.
        return;
    }
    integration(&first, "shop", "scripted", &[]).await;
    create_flow(&first, &automatic_flow("prod tables", "shop")).await;
    let second = TestServer::start_with(
        first.data_dir.clone(),
        first.database_url.clone(),
        first.clock.clone(),
        vec![scripted.clone()],
    )
    .await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..6 {
        tokens.push(person(&first, &format!("eng{n}"), "Engineering", "").await.1);
    }
    // Wait until the second server's directory knows the new users.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    for (n, token) in tokens.iter().enumerate() {
        for (k, table) in TABLES.iter().enumerate() {
            let server = if (n + k) % 2 == 0 { &first } else { &second };
            let mut client = server.requests_with(Some(token)).await;
            // Overlapping requests for the same access from both servers at once.
            for duration in ["30m", "1h"] {
                let items = vec![item("shop", table, "read")];
                ids.push(
                    client
                        .submit_request(ask(items, duration))
                        .await
                        .unwrap()
                        .into_inner()
                        .id,
                );
            }
        }
    }
    let mut admin = first.requests_with(Some(crate::harness::ADMIN_TOKEN)).await;
    wait_states(&first, &mut admin, &ids, &["active"]).await;
    let calls = scripted.grant_calls();
    assert_eq!(calls.len(), 6 * 3, "one shared grant per user and table");
    assert!(calls.values().all(|n| *n == 1), "no grant made twice: {calls:?}");
    first.clock.advance(TimeDelta::hours(1));
    drive(&first, &mut admin, &ids, TimeDelta::seconds(5), 200, |all| {
        all.iter().all(|r| r.state == "expired")
    })
    .await;
    assert!(scripted.live().await.is_empty());
    second.stop().await;
}

#[tokio::test]
async fn a_grant_whose_job_another_worker_took_is_not_written_while_the_grants_finishing_with_it_are() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    let mut client = server.requests_with(Some(&token)).await;
    // Three grants that the connector makes, then holds back until they answer together (on
    // SQLite they are then written in one transaction).
    for table in TABLES {
        scripted.hang_after_grant(table, true);
    }
    let id = client
        .submit_request(ask(
            TABLES.iter().map(|table| item("shop", table, "read")).collect(),
            "1h",
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    for _ in 0..250 {
        if scripted.grant_calls().len() == TABLES.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(scripted.grant_calls().len(), TABLES.len(), "three grant calls hang");

    // Meanwhile another worker takes the first grant's job over: this worker's answer for it
    // must not be written (the job is the other worker's now), the other two must.
    let db = server.request_database().await;
    let set_lease = |until: &str| {
        format!(
            "UPDATE jobs SET lease_owner = 'another-worker', lease_until = '{until}' \
             WHERE kind = 'grant' AND subject IN (SELECT id FROM holds WHERE resource_id = '{}')",
            TABLES[0]
        )
    };
    let taken = db
        .execute_unprepared(&set_lease("2999-01-01T00:00:00.000000Z"))
        .await
        .unwrap();
    assert_eq!(taken.rows_affected(), 1, "the first grant's job");
    for table in TABLES {
        scripted.hang_after_grant(table, false);
    }
    scripted.release_hung();
    let ids = [id.clone()];
    let items = |request: &pb::AccessRequest| -> std::collections::BTreeMap<String, String> {
        request
            .items
            .iter()
            .map(|item| (item.resource_id.clone(), item.state.clone()))
            .collect()
    };
    let written = drive(&server, &mut client, &ids, TimeDelta::zero(), 250, |all| {
        all[0].items.iter().filter(|item| item.state == "granted").count() == 2
    })
    .await;
    assert_eq!(
        items(&written[0]),
        [
            (TABLES[0].to_string(), "granting".to_string()),
            (TABLES[1].to_string(), "granted".to_string()),
            (TABLES[2].to_string(), "granted".to_string()),
        ]
        .into()
    );
    assert_eq!(written[0].state, "granting");

    // The other worker dies: its lease runs out, the job is claimed again and the grant made
    // again under the same grant id, once at the system.
    db.execute_unprepared(&set_lease("2000-01-01T00:00:00.000000Z"))
        .await
        .unwrap();
    wait_states(&server, &mut client, &ids, &["active"]).await;
    let calls = scripted.grant_calls();
    assert_eq!(calls.len(), TABLES.len(), "one grant id per access: {calls:?}");
    assert_eq!(
        calls.values().sum::<u32>(),
        4,
        "the taken-over grant was asked twice: {calls:?}"
    );
    assert_eq!(scripted.live().await.len(), TABLES.len());
}
