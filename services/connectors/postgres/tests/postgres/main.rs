//! The PostgreSQL connector against a real server: a scratch cluster the tests start (see
//! [`scratch_cluster`]), which checks passwords, so a test that logs in with the credentials a
//! grant returned proves them. Every test makes its own database in it and limits the
//! connector to it (`databases`), so tests run in parallel without seeing each other.

mod concurrency;
mod credentials;
mod grants;
mod scratch_cluster;
mod support;
mod tls;
