//! hsc, the Healthy Stellar Console: a terminal console for a clinic's PostgreSQL database.
//!
//! Layers, from the edge inwards: `cli`/`commands` (one sentence per error), `services` (the only SQL),
//! `db` (the one door to PostgreSQL, migrations, the private cluster), `crypto` (the keyring) and
//! `config`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod db;
pub mod fault;
pub mod logging;
pub mod serve;
pub mod services;
pub mod tui;
