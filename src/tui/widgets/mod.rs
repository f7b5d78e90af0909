//! Small drawing pieces shared by the screens.

pub mod document;
pub mod field;
pub mod modal;
pub mod qr;
pub mod text;
pub mod textarea;
