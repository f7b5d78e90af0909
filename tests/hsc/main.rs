//! hsc's integration tests: real PostgreSQL, the real binary. One test binary, so one throwaway
//! cluster serves the whole run (see `harness`).

mod harness;

mod accounts;
mod auth;
mod cli;
mod cluster;
mod console;
mod door;
mod logging;
mod migrations;
mod seed;
mod tls;
