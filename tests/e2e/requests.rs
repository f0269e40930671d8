//! Access requests over gRPC: MFA, approval by the manager with a reason, grant through the
//! connector, credentials for the grantee only, extension within limits, expiry that revokes,
//! shared grants that outlive one holder, refusals, rejection, cancellation and timeouts.

use chrono::TimeDelta;
use latch_identity::domain::totp::{TotpSecret, code_at_step, time_step};
use latch_proto::identity::v1 as identity;
use latch_proto::request::v1 as pb;
use latch_runtime::Clock;
use tonic::Code;

use crate::harness::{TestServer, violated_fields};
use crate::request_support::{
    Scripted, approvable, ask, automatic_flow, create_flow, drive, get, integration, item, person, wait_states,
};

const WITH_APPROVAL: &str = r#"
name: orders with approval
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 2h }
approval:
  approval_of:
    groups:
      - rows: [ manager ]
settings:
  require_mfa: true
  require_approver_reason: true
  no_self_approval: true
  require_duration: true
  extensions: { max_count: 1, extend_by: 30m }
"#;

fn kinds(request: &pb::AccessRequest) -> Vec<&str> {
    request.history.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn manager_approval_with_mfa_credentials_extension_and_expiry() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    let (_dave, dave_token) = person(&server, "dave", "Engineering", "").await;
    create_flow(&server, WITH_APPROVAL).await;

    let enrolled = server
        .client_with(Some(&ada_token))
        .await
        .enroll_mfa(identity::EnrollMfaRequest::default())
        .await
        .unwrap()
        .into_inner();
    let secret = TotpSecret::from_base32(&enrolled.secret).unwrap();

    let mut as_ada = server.requests_with(Some(&ada_token)).await;
    let mut as_boss = server.requests_with(Some(&boss_token)).await;
    let mut as_dave = server.requests_with(Some(&dave_token)).await;
    let submitted = as_ada
        .submit_request(ask(vec![item("shop", "table:orders-prod/orders", "read")], "30m"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.state, "awaiting_mfa");
    assert_eq!(submitted.grantee_id, ada.id);
    let id = submitted.id.clone();
    let waiting = get(&mut as_ada, &id).await.waiting;
    assert!(waiting[0].contains("waiting for ada to verify MFA"), "{waiting:?}");

    // Only the grantee verifies, with a right code.
    server.clock.advance(TimeDelta::seconds(30));
    let code = code_at_step(&secret, time_step(server.clock.now())).unwrap();
    let verify = |code: &str| pb::VerifyMfaRequest {
        id: id.clone(),
        code: code.into(),
    };
    let status = as_boss.verify_mfa(verify(&code)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        as_ada.verify_mfa(verify(wrong)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let verified = as_ada.verify_mfa(verify(&code)).await.unwrap().into_inner();
    assert_eq!(verified.state, "pending_approval");
    assert!(verified.approval_deadline.is_some());

    // The requester sees on whom it waits; the manager sees what they decide on.
    let shown = get(&mut as_ada, &id).await;
    assert!(
        shown.waiting.iter().any(|w| w.contains("1 more approval(s) from boss")),
        "{:?}",
        shown.waiting
    );
    assert!(
        as_ada
            .list_approvals(pb::ListApprovalsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .requests
            .is_empty()
    );
    let mine = as_boss
        .list_approvals(pb::ListApprovalsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (
            mine[0].duration.as_str(),
            mine[0].justification.as_str(),
            mine[0].grantee_id.as_str(),
            mine[0].flow_name.as_str()
        ),
        ("30m", "ticket OPS-1", ada.id.as_str(), "orders with approval")
    );
    assert_eq!(mine[0].items[0].resource_name, "orders");
    assert_eq!(
        (mine[0].grantee_name.as_str(), mine[0].requester_name.as_str()),
        ("ada", "ada")
    );
    assert!(mine[0].can_approve && mine[0].require_approver_reason);

    // Not the manager, not the requester herself; the manager needs a reason of ≤ 124 chars.
    let decide = |reason: &str| pb::DecideRequest {
        id: id.clone(),
        reason: reason.into(),
    };
    assert_eq!(
        as_dave.approve_request(decide("sure")).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        as_dave
            .get_request(pb::GetRequestRequest { id: id.clone() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let stranger_cancel = pb::EndRequest {
        id: id.clone(),
        reason: String::new(),
    };
    assert_eq!(
        as_dave.cancel_request(stranger_cancel).await.unwrap_err().code(),
        Code::NotFound,
        "a stranger cannot learn that the request exists"
    );
    assert_eq!(
        as_ada.approve_request(decide("me")).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let status = as_boss.approve_request(decide("")).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let status = as_boss.approve_request(decide(&"x".repeat(125))).await.unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    assert!(scripted.grant_calls().is_empty(), "nothing granted before approval");

    server.clock.advance(TimeDelta::minutes(5));
    let approved = as_boss
        .approve_request(decide("incident INC-42"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(approved.state.as_str(), "granting" | "active"),
        "{}",
        approved.state
    );
    let active = wait_states(&server, &mut as_ada, std::slice::from_ref(&id), &["active"])
        .await
        .remove(0);
    let granted_at = server.clock.now();
    assert_eq!(
        active.grant_time.as_ref().unwrap().seconds,
        granted_at.timestamp(),
        "the clock starts at grant"
    );
    assert_eq!(
        active.end_time.as_ref().unwrap().seconds,
        (granted_at + TimeDelta::minutes(30)).timestamp()
    );
    assert_eq!(active.decisions[0].reason, "incident INC-42");

    // Credentials: the grantee only.
    let credentials = as_ada
        .get_credentials(pb::GetCredentialsRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert_eq!(credentials.len(), 1);
    assert!(!credentials[0].account.is_empty());
    assert!(credentials[0].credentials.values().all(|v| !v.is_empty()) && !credentials[0].credentials.is_empty());
    let status = as_boss
        .get_credentials(pb::GetCredentialsRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(scripted.live().await.len(), 1);

    // One extension of 30 minutes, then refused with the reason.
    let extended = as_ada
        .extend_request(pb::ExtendRequestRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        extended.end_time.as_ref().unwrap().seconds,
        (granted_at + TimeDelta::minutes(60)).timestamp()
    );
    let status = as_ada
        .extend_request(pb::ExtendRequestRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("already extended 1 of 1"),
        "{}",
        status.message()
    );
    let again = as_ada
        .get_credentials(pb::GetCredentialsRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .credentials;
    assert_eq!(again[0].account, credentials[0].account, "same account after extension");

    // Still active just before the extended end; expired and revoked after it.
    server.clock.advance(TimeDelta::minutes(59));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(get(&mut as_ada, &id).await.state, "active");
    let ended = drive(
        &server,
        &mut as_ada,
        std::slice::from_ref(&id),
        TimeDelta::seconds(30),
        100,
        |r| r[0].state == "expired",
    )
    .await
    .remove(0);
    assert!(scripted.live().await.is_empty(), "the connector grant is gone");
    assert_eq!(
        kinds(&ended),
        [
            "submitted",
            "mfa_required",
            "mfa_verified",
            "approval_required",
            "approved",
            "grant_started",
            "granted",
            "extended",
            "expiring",
            "ended"
        ]
    );
    let status = as_ada
        .get_credentials(pb::GetCredentialsRequest { id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "credentials end with the access"
    );
    // History stays after expiry.
    let listed = as_ada
        .list_requests(pb::ListRequestsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, "expired");
}

#[tokio::test]
async fn overlapping_requests_share_one_grant_revoked_when_the_last_ends() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let mut client = server.requests_with(Some(&token)).await;
    let orders = || vec![item("shop", "table:orders-prod/orders", "read")];
    let short = client
        .submit_request(ask(orders(), "30m"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let ids = [short.clone()];
    wait_states(&server, &mut client, &ids, &["active"]).await;
    server.clock.advance(TimeDelta::minutes(10));
    let long = client
        .submit_request(ask(orders(), "1h"))
        .await
        .unwrap()
        .into_inner()
        .id;
    wait_states(&server, &mut client, &[short.clone(), long.clone()], &["active"]).await;
    assert_eq!(scripted.grant_calls().len(), 1, "one connector grant for both requests");

    // The first ends; the grant stays for the second.
    server.clock.advance(TimeDelta::minutes(21));
    wait_states(&server, &mut client, std::slice::from_ref(&short), &["expired"]).await;
    assert_eq!(get(&mut client, &long).await.state, "active");
    assert_eq!(
        scripted.live().await.len(),
        1,
        "not revoked while another request holds it"
    );
    let creds = client
        .get_credentials(pb::GetCredentialsRequest { id: long.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(creds.credentials.len(), 1);

    // Revoked early by the grantee: now the grant goes.
    let revoked = client
        .revoke_request(pb::EndRequest {
            id: long.clone(),
            reason: "done".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(revoked.state.as_str(), "revoking" | "revoked"));
    wait_states(&server, &mut client, std::slice::from_ref(&long), &["revoked"]).await;
    assert!(scripted.live().await.is_empty());
}

const TWO_PERSON: &str = r#"
name: two person
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [write], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 1h }
approval:
  approval_of:
    across: all_of
    groups:
      - rows: [ { condition: { attribute: department, operator: is, values: [Security] } } ]
        min_approvers: 2
      - rows: [ manager ]
"#;

#[tokio::test]
async fn approval_rules_refusals_idempotency_rejection_cancel_and_timeout() {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    let (boss, boss_token) = person(&server, "boss", "Engineering", "").await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", &boss.id).await;
    let (_sec1, sec1_token) = person(&server, "sec1", "Security", "").await;
    let (_sec2, sec2_token) = person(&server, "sec2", "Security", "").await;
    let (_fin, fin_token) = person(&server, "fin", "Finance", "").await;
    create_flow(&server, TWO_PERSON).await;
    let mut ada = server.requests_with(Some(&ada_token)).await;
    let write = || vec![item("shop", "table:orders-prod/orders", "write")];

    // Nobody's flow: refused with the reasons; nothing written.
    let status = server
        .requests_with(Some(&fin_token))
        .await
        .submit_request(ask(write(), ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("requestor"), "{}", status.message());
    // Justification is required by default for self-serve flows.
    let mut bare = ask(write(), "");
    bare.justification.clear();
    assert_eq!(
        violated_fields(&ada.submit_request(bare).await.unwrap_err()),
        ["justification"]
    );
    let mut bad = ask(write(), "");
    bad.duration = "soon".into();
    assert_eq!(
        violated_fields(&ada.submit_request(bad).await.unwrap_err()),
        ["duration"]
    );
    assert!(
        ada.list_requests(pb::ListRequestsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .requests
            .is_empty()
    );

    // The same client request id is the same request.
    let mut once = ask(write(), "");
    once.request_id = "ada-req-1".into();
    let first = ada.submit_request(once.clone()).await.unwrap().into_inner();
    let second = ada.submit_request(once).await.unwrap().into_inner();
    assert_eq!(first.id, second.id);
    assert_eq!(first.state, "pending_approval");

    // ALL OF: two distinct security approvers and the manager.
    let decide = |reason: &str| pb::DecideRequest {
        id: first.id.clone(),
        reason: reason.into(),
    };
    let mut sec1 = server.requests_with(Some(&sec1_token)).await;
    sec1.approve_request(decide("ok")).await.unwrap();
    assert_eq!(
        sec1.approve_request(decide("again")).await.unwrap_err().code(),
        Code::AlreadyExists
    );
    let waiting = get(&mut ada, &first.id).await.waiting;
    assert!(
        waiting
            .iter()
            .any(|w| w.contains("group 1: 1 more approval(s) from sec2")),
        "{waiting:?}"
    );
    assert!(
        waiting
            .iter()
            .any(|w| w.contains("group 2: 1 more approval(s) from boss")),
        "{waiting:?}"
    );
    let state = server
        .requests_with(Some(&sec2_token))
        .await
        .approve_request(decide(""))
        .await
        .unwrap()
        .into_inner()
        .state;
    assert_eq!(state, "pending_approval", "the manager group is still missing");
    let mut as_boss = server.requests_with(Some(&boss_token)).await;
    assert_eq!(
        as_boss.approve_request(decide("")).await.unwrap().into_inner().state,
        "granting",
        "approved and granting at once"
    );
    wait_states(&server, &mut ada, std::slice::from_ref(&first.id), &["active"]).await;

    // Rejection ends a request; cancel withdraws one; a cancelled request cannot be cancelled.
    let rejected = ada.submit_request(ask(write(), "")).await.unwrap().into_inner().id;
    let out = as_boss
        .reject_request(pb::DecideRequest {
            id: rejected.clone(),
            reason: "not during the freeze".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.state, "rejected");
    assert!(out.outcome.contains("not during the freeze"));
    let cancelled = ada.submit_request(ask(write(), "")).await.unwrap().into_inner().id;
    let end = pb::EndRequest {
        id: cancelled.clone(),
        reason: String::new(),
    };
    assert_eq!(
        as_boss.cancel_request(end.clone()).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        ada.cancel_request(end.clone()).await.unwrap().into_inner().state,
        "cancelled"
    );
    assert_eq!(
        ada.cancel_request(end).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // A pending request times out after 24 hours (controlled clock).
    let stale = ada.submit_request(ask(write(), "")).await.unwrap().into_inner().id;
    server.clock.advance(TimeDelta::hours(23));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(get(&mut ada, &stale).await.state, "pending_approval");
    server.clock.advance(TimeDelta::hours(1));
    wait_states(&server, &mut ada, std::slice::from_ref(&stale), &["approval_timed_out"]).await;
    // The first request's hour ran out meanwhile.
    wait_states(&server, &mut ada, std::slice::from_ref(&first.id), &["expired"]).await;
}

const ON_CALL_OR_OWNER: &str = r#"
name: on call or owner
kind: self_serve
requestors: { rows: [ { attribute: department, operator: is, values: [Engineering] } ] }
targets:
  - integration: { integration: shop, resource_type: table, permissions: [read], mode: include, tags: [{ key: env, values: [prod] }] }
grant_for: { custom: 1h }
approval:
  approval_of:
    groups:
      - rows: [ { on_call: { schedules: [payments-primary] } } ]
      - rows: [ resource_owner ]
settings: { require_justification: false }
"#;

#[tokio::test]
async fn whoever_is_on_call_when_acting_or_an_owner_group_member_may_approve() {
    let server = TestServer::start().await;
    integration(&server, "shop", "demo", &[]).await;
    let (_ada, ada_token) = person(&server, "ada", "Engineering", "").await;
    let (_pat, pat_token) = person(&server, "pat", "Engineering", "").await;
    let (_quinn, quinn_token) = person(&server, "quinn", "Engineering", "").await;
    let (owner, owner_token) = person(&server, "olga", "Data", "").await;
    let mut admin = server.admin().await;
    // Daily shifts handed over at 09:00 UTC: pat on 29 November, quinn on the 30th (the test
    // clock starts 30 November 10:00 UTC), pat again on 1 December.
    admin
        .create_schedule(identity::CreateScheduleRequest {
            schedule: Some(identity::Schedule {
                display_name: "payments-primary".into(),
                time_zone: "UTC".into(),
                rotation: Some(identity::Rotation {
                    members: vec!["pat".into(), "quinn".into()],
                    shift_hours: 24,
                    handoff_time: "09:00".into(),
                    start_date: "2026-11-29".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let owners = crate::harness::create_group(&mut admin, "order-owners", &[&owner.id], &[]).await;
    server
        .catalog_admin()
        .await
        .update_resource(latch_proto::catalog::v1::UpdateResourceRequest {
            integration: "shop".into(),
            id: "table:orders-prod/orders".into(),
            owners: vec![latch_proto::catalog::v1::Principal {
                kind: latch_proto::catalog::v1::principal::Kind::Group as i32,
                id: owners.id.clone(),
            }],
            update_owners: true,
            ..Default::default()
        })
        .await
        .unwrap();
    create_flow(&server, ON_CALL_OR_OWNER).await;
    let mut ada = server.requests_with(Some(&ada_token)).await;
    let read_item = |table: &str| vec![item("shop", table, "read")];
    let first = ada
        .submit_request(ask(read_item("table:orders-prod/customers"), ""))
        .await
        .unwrap()
        .into_inner()
        .id;
    let waiting = get(&mut ada, &first).await.waiting;
    assert!(
        waiting
            .iter()
            .any(|w| w.contains("group 1: 1 more approval(s) from quinn")),
        "{waiting:?}"
    );
    let decide = |id: &str| pb::DecideRequest {
        id: id.into(),
        reason: String::new(),
    };
    // pat is not on call now; quinn is. An owner of another table is no owner here.
    let mut pat = server.requests_with(Some(&pat_token)).await;
    assert!(approvable(&mut pat, 50).await.is_empty(), "pat is off call");
    assert_eq!(
        approvable(&mut server.requests_with(Some(&quinn_token)).await, 50).await,
        std::slice::from_ref(&first),
        "whoever is on call sees it"
    );
    assert_eq!(
        pat.approve_request(decide(&first)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let mut olga = server.requests_with(Some(&owner_token)).await;
    assert_eq!(
        olga.approve_request(decide(&first)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // Checked again when acting: after the hand-off (09:00 the next day, an hour before the
    // approval deadline) pat may approve and quinn may not.
    server.clock.advance(TimeDelta::hours(23));
    let mut quinn = server.requests_with(Some(&quinn_token)).await;
    assert!(approvable(&mut quinn, 50).await.is_empty(), "quinn handed off");
    assert_eq!(
        approvable(&mut pat, 50).await,
        std::slice::from_ref(&first),
        "pat took over"
    );
    assert_eq!(
        quinn.approve_request(decide(&first)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        pat.approve_request(decide(&first)).await.unwrap().into_inner().state,
        "granting"
    );

    // A member of the owner group approves a request for the table the group owns.
    let owned = ada
        .submit_request(ask(read_item("table:orders-prod/orders"), ""))
        .await
        .unwrap()
        .into_inner()
        .id;
    let listed = olga
        .list_approvals(pb::ListApprovalsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [owned.as_str()]
    );
    assert_eq!(
        olga.approve_request(decide(&owned)).await.unwrap().into_inner().state,
        "granting"
    );
    wait_states(&server, &mut ada, &[first, owned], &["active"]).await;
}

#[tokio::test]
async fn access_for_a_first_day_is_approved_ahead_and_granted_at_the_start() {
    let scripted = Scripted::new();
    let server = TestServer::start_with_connectors(vec![scripted.clone()]).await;
    integration(&server, "shop", "scripted", &[]).await;
    let (_ada, token) = person(&server, "ada", "Engineering", "").await;
    create_flow(&server, &automatic_flow("prod tables", "shop")).await;
    let mut client = server.requests_with(Some(&token)).await;
    let start = server.clock.now() + TimeDelta::days(3);
    let mut asked = ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h");
    asked.start_time = Some(latch_runtime::wire::timestamp(start));
    let id = client.submit_request(asked).await.unwrap().into_inner().id;
    let shown = get(&mut client, &id).await;
    assert_eq!(shown.state, "approved");
    assert!(shown.waiting[0].contains("access starts at"), "{:?}", shown.waiting);
    server.clock.advance(TimeDelta::days(3) - TimeDelta::minutes(1));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(get(&mut client, &id).await.state, "approved");
    assert!(scripted.grant_calls().is_empty(), "nothing granted before the start");
    server.clock.advance(TimeDelta::minutes(1));
    let active = wait_states(&server, &mut client, std::slice::from_ref(&id), &["active"])
        .await
        .remove(0);
    assert_eq!(active.grant_time.unwrap().seconds, start.timestamp());
    assert_eq!(
        active.end_time.unwrap().seconds,
        (start + TimeDelta::hours(1)).timestamp()
    );

    // A start in the past is refused.
    let mut late = ask(vec![item("shop", "table:orders-prod/orders", "read")], "1h");
    late.start_time = Some(latch_runtime::wire::timestamp(server.clock.now() - TimeDelta::hours(1)));
    assert_eq!(
        violated_fields(&client.submit_request(late).await.unwrap_err()),
        ["start_time"]
    );
}
