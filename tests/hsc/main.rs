//! hsc's integration tests: real PostgreSQL, the real binary. One test binary, so one throwaway
//! cluster serves the whole run (see `harness`).

mod harness;

mod accounts;
mod admin;
mod audit;
mod audit_console;
mod audit_export;
mod audit_viewer;
mod auth;
mod cli;
mod cluster;
mod confinement;
mod console;
mod door;
mod forced_command;
mod grants;
mod grants_console;
mod keys;
mod keys_interrupted;
mod logging;
mod migrations;
mod policies;
mod pty;
mod record_changes;
mod record_edges;
mod records;
mod records_console;
mod seed;
mod ssh;
mod tls;
