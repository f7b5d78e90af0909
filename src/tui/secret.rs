//! A password or code on its way from a field to a service: wiped when dropped, and never shown by
//! `Debug` (`Zeroizing<String>` prints its content), so a logged or panicking effect cannot leak it.

use std::fmt;
use std::ops::Deref;

use zeroize::Zeroizing;

#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(text: Zeroizing<String>) -> Secret {
        Secret(text)
    }
}

impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_text() {
        let s = Secret::new("Test123!@#".into());
        assert_eq!(format!("{s:?}"), "Secret(hidden)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(hidden))");
        assert_eq!(&*s, "Test123!@#");
    }
}
