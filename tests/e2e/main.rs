//! One end-to-end test binary: every test starts its own Latch with its own database.

mod harness;

mod audit;
mod audit_checkpoints;
mod auth;
mod automatic;
mod catalog;
mod catalog_contract;
mod catalog_hardening;
mod cli;
mod cli_new_user;
mod crash;
mod extend_calls;
mod feed;
mod flow_contract;
mod flows;
mod groups;
mod hardening;
mod import;
mod insights;
mod lost_grants;
mod mfa;
mod notifications;
mod postgres_catalog;
mod replicas;
mod request_postgres;
mod request_reliability;
mod request_support;
mod requests;
mod restart;
mod reviews;
mod schedules;
mod scim;
mod tokens;
mod users;
