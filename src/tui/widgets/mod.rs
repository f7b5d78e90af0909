//! Small drawing pieces shared by the screens.

pub mod field;
pub mod qr;
