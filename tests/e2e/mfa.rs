use chrono::TimeDelta;
use latch_identity::domain::totp::{TotpSecret, code_at_step, time_step};
use latch_proto::identity::v1 as pb;
use latch_runtime::Clock;
use tonic::Code;

use crate::harness::TestServer;

fn wrong_code(secret: &TotpSecret, step: i64) -> String {
    (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| (step - 1..=step + 1).all(|s| code_at_step(secret, s).as_ref() != Some(c)))
        .expect("some code is wrong")
}

#[tokio::test]
async fn totp_enrolment_verification_replay_and_lockout() {
    let server = TestServer::start().await;
    let (bob, mut client) = server.user_with_token("bob").await;
    let status = client
        .verify_mfa(pb::VerifyMfaRequest { code: "123456".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "not enrolled yet");

    let enrolled = client
        .enroll_mfa(pb::EnrollMfaRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        enrolled.otpauth_uri.starts_with("otpauth://totp/Latch:bob?secret="),
        "{}",
        enrolled.otpauth_uri
    );
    let secret = TotpSecret::from_base32(&enrolled.secret).expect("base32 secret");

    let step = time_step(server.clock.now());
    let code = code_at_step(&secret, step).unwrap();
    let verify = |code: String| pb::VerifyMfaRequest { code };
    assert!(
        client
            .verify_mfa(verify(code.clone()))
            .await
            .unwrap()
            .into_inner()
            .verified
    );
    assert!(
        !client.verify_mfa(verify(code)).await.unwrap().into_inner().verified,
        "a code is never accepted twice"
    );

    // The previous step's code is still inside the ±1 window but older than the one used.
    let older = code_at_step(&secret, step - 1).unwrap();
    assert!(!client.verify_mfa(verify(older)).await.unwrap().into_inner().verified);

    // Three more failures make five in a row: locked for 15 minutes, even for a right code.
    for _ in 0..3 {
        assert!(
            !client
                .verify_mfa(verify(wrong_code(&secret, step)))
                .await
                .unwrap()
                .into_inner()
                .verified
        );
    }
    server.clock.advance(TimeDelta::seconds(30));
    let next = code_at_step(&secret, time_step(server.clock.now())).unwrap();
    let status = client.verify_mfa(verify(next)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "locked out: {status:?}");

    server.clock.advance(TimeDelta::minutes(15));
    let fresh = code_at_step(&secret, time_step(server.clock.now())).unwrap();
    assert!(client.verify_mfa(verify(fresh)).await.unwrap().into_inner().verified);

    // A stolen API token alone cannot replace a confirmed device: a current code is needed.
    let status = client.enroll_mfa(pb::EnrollMfaRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    server.clock.advance(TimeDelta::seconds(30));
    let current = code_at_step(&secret, time_step(server.clock.now())).unwrap();
    let replaced = client
        .enroll_mfa(pb::EnrollMfaRequest { code: current })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(replaced.secret, enrolled.secret);

    // An admin resets a lost device.
    let mut admin = server.admin().await;
    let reset = admin
        .reset_mfa(pb::ResetMfaRequest { user_id: "bob".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(reset.reset);
    let status = client
        .verify_mfa(verify(code_at_step(&secret, time_step(server.clock.now())).unwrap()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "no enrolment after a reset");
    let status = client
        .reset_mfa(pb::ResetMfaRequest { user_id: "bob".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let enrolled = client
        .enroll_mfa(pb::EnrollMfaRequest::default())
        .await
        .unwrap()
        .into_inner();

    // The secret is sealed at rest: the stored row does not contain it.
    let stored = server_mfa_row(&server, &bob.id).await;
    assert!(!stored.contains(&enrolled.secret));
}

async fn server_mfa_row(server: &TestServer, user_id: &str) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let (url, backend) = if server.database_url.is_empty() {
        (
            format!("sqlite://{}/identity.db", server.data_dir.path().display()),
            sea_orm::DbBackend::Sqlite,
        )
    } else {
        (server.database_url.clone(), sea_orm::DbBackend::Postgres)
    };
    let mut options = sea_orm::ConnectOptions::new(url);
    options.set_schema_search_path("identity".to_string());
    let db = sea_orm::Database::connect(options).await.unwrap();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "SELECT secret_sealed FROM mfa_enrollments WHERE user_id = $1",
        _ => "SELECT secret_sealed FROM mfa_enrollments WHERE user_id = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [user_id.into()]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "secret_sealed").unwrap()
}
