use chrono::{TimeDelta, TimeZone, Utc};
use latch_identity::grpc::timestamp;
use latch_proto::identity::v1 as pb;
use tonic::Code;

use crate::harness::{TestServer, create_user, violated_fields};

#[tokio::test]
async fn weekly_rotation_overrides_and_on_call_in_subjects() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let ada = create_user(&mut admin, "ada", &[], "").await;
    let bob = create_user(&mut admin, "bob", &[], "").await;
    let schedule = admin
        .create_schedule(pb::CreateScheduleRequest {
            schedule: Some(pb::Schedule {
                display_name: "payments-primary".into(),
                time_zone: "Europe/Berlin".into(),
                rotation: Some(pb::Rotation {
                    members: vec!["ada".into(), "bob".into()],
                    shift_hours: 168,
                    handoff_time: "09:00".into(),
                    start_date: "2026-11-02".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        schedule.rotation.as_ref().unwrap().members,
        [ada.id.clone(), bob.id.clone()]
    );

    let on_call = |at: chrono::DateTime<Utc>| pb::GetOnCallRequest {
        schedule_id: "payments-primary".into(),
        at: Some(timestamp(at)),
    };
    // 2026-11-02 09:00 Berlin is 08:00 UTC. Week 1: ada; week 2: bob.
    let first_week = Utc.with_ymd_and_hms(2026, 11, 3, 12, 0, 0).unwrap();
    let answer = admin.get_on_call(on_call(first_week)).await.unwrap().into_inner();
    assert_eq!(answer.user.unwrap().id, ada.id);
    assert_eq!(
        answer.shift_end.unwrap().seconds,
        Utc.with_ymd_and_hms(2026, 11, 9, 8, 0, 0).unwrap().timestamp()
    );
    let second_week = Utc.with_ymd_and_hms(2026, 11, 9, 8, 0, 0).unwrap();
    assert_eq!(
        admin
            .get_on_call(on_call(second_week))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
            .id,
        bob.id
    );
    let before_start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    assert!(
        admin
            .get_on_call(on_call(before_start))
            .await
            .unwrap()
            .into_inner()
            .user
            .is_none()
    );

    // Bob covers two hours of Ada's week.
    admin
        .add_schedule_override(pb::AddScheduleOverrideRequest {
            schedule_id: schedule.id.clone(),
            r#override: Some(pb::ScheduleOverride {
                user_id: "bob".into(),
                start_time: Some(timestamp(first_week)),
                end_time: Some(timestamp(first_week + TimeDelta::hours(2))),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let covered = admin
        .get_on_call(on_call(first_week + TimeDelta::minutes(30)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(covered.user.unwrap().id, bob.id);
    assert!(covered.from_override);
    let after = admin
        .get_on_call(on_call(first_week + TimeDelta::hours(2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.user.unwrap().id, ada.id, "the override's end is exclusive");

    let subject = admin
        .resolve_subject(pb::ResolveSubjectRequest {
            user_id: "bob".into(),
            at: Some(timestamp(second_week)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        subject
            .on_call
            .iter()
            .map(|s| s.display_name.as_str())
            .collect::<Vec<_>>(),
        ["payments-primary"]
    );
    let for_ada = admin
        .list_on_call_schedules(pb::ListOnCallSchedulesRequest {
            user_id: "ada".into(),
            at: Some(timestamp(second_week)),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(for_ada.schedules.is_empty());

    // Overrides can be removed, and the rotation replaced (with optimistic concurrency).
    let with_override = admin
        .get_schedule(pb::GetScheduleRequest {
            id: schedule.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let override_id = with_override.overrides[0].id.clone();
    let without = admin
        .remove_schedule_override(pb::RemoveScheduleOverrideRequest {
            schedule_id: schedule.id.clone(),
            override_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(without.overrides.is_empty());
    assert_eq!(
        admin
            .get_on_call(on_call(first_week + TimeDelta::minutes(30)))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
            .id,
        ada.id
    );
    let mut changed = without.clone();
    changed.rotation.as_mut().unwrap().members = vec!["bob".into(), "ada".into()];
    let updated = admin
        .update_schedule(pb::UpdateScheduleRequest {
            schedule: Some(changed.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        admin
            .get_on_call(on_call(first_week))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
            .id,
        bob.id
    );
    let stale = admin
        .update_schedule(pb::UpdateScheduleRequest {
            schedule: Some(changed),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "the etag of the first read is stale now");
    assert_ne!(updated.etag, without.etag);

    // A deleted user leaves the rotation: nobody on call for their shifts.
    admin
        .delete_user(pb::DeleteUserRequest {
            id: bob.id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let schedule = admin
        .get_schedule(pb::GetScheduleRequest {
            id: schedule.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.rotation.unwrap().members, vec![ada.id.clone()]);
}

#[tokio::test]
async fn invalid_schedules_name_each_bad_field() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let status = admin
        .create_schedule(pb::CreateScheduleRequest {
            schedule: Some(pb::Schedule {
                display_name: "broken".into(),
                time_zone: "Mars/Olympus".into(),
                rotation: Some(pb::Rotation {
                    members: vec!["nobody".into()],
                    shift_hours: 24,
                    handoff_time: "25:00".into(),
                    start_date: "2026-11-02".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    assert!(fields.contains(&"schedule.time_zone".to_string()), "{fields:?}");
    assert!(
        fields.contains(&"schedule.rotation.handoff_time".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"schedule.rotation.members[0]".to_string()),
        "{fields:?}"
    );
    let list = admin
        .list_schedules(pb::ListSchedulesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.schedules.is_empty());
}

/// A shift that starts near the end of what a protobuf Timestamp may hold ends beyond it; the
/// answer must still be a Timestamp every client can decode (seconds ≤ 9999-12-31T23:59:59Z,
/// nanos < 10^9), and an `at` outside that range is refused with the field named.
#[tokio::test]
async fn on_call_at_the_end_of_time_answers_decodable_timestamps() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let ada = create_user(&mut admin, "ada", &[], "").await;
    admin
        .create_schedule(pb::CreateScheduleRequest {
            schedule: Some(pb::Schedule {
                display_name: "far-future".into(),
                time_zone: "Pacific/Kiritimati".into(),
                rotation: Some(pb::Rotation {
                    members: vec!["ada".into()],
                    shift_hours: 168,
                    handoff_time: "09:00".into(),
                    start_date: "2026-11-02".into(),
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let end_of_time = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    let answer = admin
        .get_on_call(pb::GetOnCallRequest {
            schedule_id: "far-future".into(),
            at: Some(timestamp(end_of_time)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.user.unwrap().id, ada.id);
    let shift_end = answer.shift_end.expect("shift_end is set");
    assert!(
        latch_proto::time::to_datetime(&shift_end).is_some(),
        "shift_end {shift_end:?} is outside the range a protobuf Timestamp may hold"
    );
    assert_eq!(
        (shift_end.seconds, shift_end.nanos),
        (latch_proto::time::MAX_SECONDS, latch_proto::time::MAX_NANOS),
        "a shift that ends after the end of time ends at its last instant"
    );

    for (seconds, nanos) in [(latch_proto::time::MAX_SECONDS + 1, 0), (i64::MAX, 0), (0, -1)] {
        let status = admin
            .get_on_call(pb::GetOnCallRequest {
                schedule_id: "far-future".into(),
                at: Some(prost_types::Timestamp { seconds, nanos }),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{seconds}s {nanos}ns");
        assert_eq!(violated_fields(&status), ["at"], "{seconds}s {nanos}ns");
    }
}
