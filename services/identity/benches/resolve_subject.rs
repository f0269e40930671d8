//! Subject resolution over a large directory, in-process.
//!
//! 100,000 users, 5,000 groups nested three deep (leaf ⊂ middle ⊂ top), every user in five leaf
//! groups with a manager, 100 on-call schedules. The measured subjects each belong to 50 groups
//! (30 direct leaves, 12 middle and 8 top groups through nesting). Budget: p99 ≤ 100 µs.
//!
//! Run: `cargo bench -p latch-identity --bench resolve_subject`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use latch_identity::domain::directory::Directory;
use latch_identity::domain::group::{Group, MemberKind};
use latch_identity::domain::schedule::ScheduleRecord;
use latch_identity::domain::user::User;

const USERS: usize = 100_000;
const LEAVES: usize = 4_000;
const MIDDLES: usize = 800;
const TOPS: usize = 200;
const SCHEDULES: usize = 100;
const PROBES: usize = 1_000;
const ITERATIONS: usize = 20_000;

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let before = resident_kib();
    let build_started = Instant::now();
    let mut directory = Directory::new("latch-admins", "latch-auditors");
    let group = |id: String| Group {
        display_name: format!("group-{id}"),
        id,
        external_id: None,
        created_at: at,
        updated_at: at,
        version: 1,
    };
    for i in 0..LEAVES {
        directory.upsert_group(group(format!("leaf-{i}")));
    }
    for i in 0..MIDDLES {
        directory.upsert_group(group(format!("mid-{i}")));
    }
    for i in 0..TOPS {
        directory.upsert_group(group(format!("top-{i}")));
    }
    for i in 0..LEAVES {
        directory.add_member(&format!("mid-{}", i % MIDDLES), MemberKind::Group, &format!("leaf-{i}"));
    }
    for i in 0..MIDDLES {
        directory.add_member(&format!("top-{}", i % TOPS), MemberKind::Group, &format!("mid-{i}"));
    }
    for u in 0..USERS {
        let mut attributes = BTreeMap::new();
        attributes.insert("department".to_string(), vec![format!("dept-{}", u % 40)]);
        attributes.insert("title".to_string(), vec![format!("title-{}", u % 300)]);
        directory.upsert_user(User {
            id: format!("user-{u}"),
            user_name: format!("user{u}@example.com"),
            email: format!("user{u}@example.com"),
            display_name: format!("User {u}"),
            active: true,
            attributes,
            manager_id: (u >= 10).then(|| format!("user-{}", u / 10)),
            external_id: None,
            granted_roles: Vec::new(),
            scim_extra: Default::default(),
            created_at: at,
            updated_at: at,
            version: 1,
        });
        if u < PROBES {
            // 12 middles spread over 8 tops; 30 leaves under those middles: 50 groups in all.
            let middles: Vec<usize> = (0..8).chain(200..204).map(|m| (m + u * 13) % MIDDLES).collect();
            let leaves = (0..3)
                .flat_map(|k| middles.iter().map(move |m| m + MIDDLES * k))
                .take(30);
            for leaf in leaves {
                directory.add_member(&format!("leaf-{leaf}"), MemberKind::User, &format!("user-{u}"));
            }
        } else {
            for k in 0..5 {
                directory.add_member(
                    &format!("leaf-{}", (u * 7 + k * 811) % LEAVES),
                    MemberKind::User,
                    &format!("user-{u}"),
                );
            }
        }
    }
    for s in 0..SCHEDULES {
        directory.upsert_schedule(ScheduleRecord {
            id: format!("schedule-{s}"),
            display_name: format!("schedule-{s}"),
            time_zone: "Europe/Berlin".into(),
            members: (0..10).map(|m| format!("user-{}", (s * 10 + m) % PROBES)).collect(),
            shift_hours: 168,
            handoff_time: "09:00".into(),
            start_date: "2026-01-05".into(),
            overrides: Vec::new(),
            created_at: at,
            updated_at: at,
            version: 1,
        });
    }
    let built = build_started.elapsed();
    let after = resident_kib();

    let sample = directory.resolve_subject("user-7", at).expect("probe exists");
    assert_eq!(sample.groups.len(), 50, "the probe subject must have 50 groups");

    // Warm up, then time each call.
    for u in 0..PROBES {
        black_box(directory.resolve_subject(&format!("user-{u}"), at));
    }
    let ids: Vec<String> = (0..PROBES).map(|u| format!("user-{u}")).collect();
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let id = &ids[(i * 7919) % PROBES];
        let started = Instant::now();
        let subject = directory.resolve_subject(id, at);
        samples.push(started.elapsed());
        black_box(subject);
    }
    samples.sort();
    let percentile = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "resolve_subject: {USERS} users, {} groups nested 3 deep, subjects with 50 groups",
        LEAVES + MIDDLES + TOPS
    );
    println!("  directory built in {:.2?}", built);
    println!("  calls: {ITERATIONS}");
    println!("  p50:   {:.2?}", percentile(0.50));
    println!("  p99:   {:.2?}", percentile(0.99));
    println!("  max:   {:.2?}", samples[samples.len() - 1]);
    println!(
        "  resident memory: {} MiB total, {} MiB for the directory",
        after / 1024,
        after.saturating_sub(before) / 1024
    );
    let p99 = percentile(0.99);
    println!(
        "  budget p99 <= 100µs: {}",
        if p99.as_micros() <= 100 { "met" } else { "MISSED" }
    );
}
