//! The console: Elm-style. `State` holds everything, `update` changes it and returns effects, the
//! runner does the database work in tasks and answers with messages, `view` draws.

pub mod app;
pub mod effects;
pub mod keymap;
pub mod msg;
pub mod sanitize;
pub mod screens;
pub mod secret;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;
pub mod widgets;

#[cfg(test)]
mod tests;
