//! The service layer: the only code in hsc that holds SQL. Each call opens its own transaction
//! through the database door and, from the console issues on, writes its audit row in it.

pub mod passwords;
pub mod seed;
