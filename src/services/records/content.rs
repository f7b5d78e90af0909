//! A record's content — title, description and metadata — and how it is sealed and opened. The
//! associated data binds each value to its table, column, record and version, so a value copied to
//! another row or version does not open.

use serde_json::{Map, Number, Value};
use uuid::Uuid;

use crate::crypto::{Aad, CryptoError, Keyring};
use crate::services::ServiceError;

/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// The longest description, in bytes (a long discharge summary fits; a file does not).
pub const MAX_DESCRIPTION: usize = 1024 * 1024;
/// Metadata is a short key/value table, not a document.
pub const MAX_METADATA_ENTRIES: usize = 100;
const MAX_METADATA_KEY: usize = 64;
const MAX_METADATA_VALUE: usize = 2000;

/// The clinical content of one version of a record. Its `Debug` shows sizes only, never the text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Content {
    pub title: String,
    pub description: String,
    /// Key/value pairs in their stored order (values as text; numbers stay numbers when saved).
    pub metadata: Vec<(String, String)>,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("title_chars", &self.title.chars().count())
            .field("description_bytes", &self.description.len())
            .field("metadata_entries", &self.metadata.len())
            .finish()
    }
}

/// The three sealed columns of a row.
pub(crate) struct Sealed {
    pub title: Vec<u8>,
    pub description: Vec<u8>,
    pub metadata: Vec<u8>,
}

fn aad(table: &'static str, column: &'static str, record: Uuid, version: i32) -> Aad<'static> {
    Aad {
        table,
        column,
        row_id: record,
        version,
    }
}

impl Content {
    /// Checks the content a user typed; one sentence names the first problem.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let invalid = |s: String| Err(ServiceError::Invalid(s));
        let title = self.title.trim();
        if title.is_empty() {
            return invalid("The title is empty; give the record a title.".into());
        }
        if title.chars().count() > MAX_TITLE {
            return invalid(format!("The title is longer than {MAX_TITLE} characters."));
        }
        if self.description.len() > MAX_DESCRIPTION {
            return invalid("The description is longer than 1 MiB.".into());
        }
        if self.metadata.len() > MAX_METADATA_ENTRIES {
            return invalid(format!(
                "The metadata has more than {MAX_METADATA_ENTRIES} entries."
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (key, value) in &self.metadata {
            let key = key.trim();
            if key.is_empty() {
                return invalid("A metadata entry has no name.".into());
            }
            if key.chars().count() > MAX_METADATA_KEY || value.chars().count() > MAX_METADATA_VALUE
            {
                return invalid(format!("The metadata entry {key:?} is too long."));
            }
            if !seen.insert(key.to_lowercase()) {
                return invalid(format!("The metadata name {key:?} appears twice."));
            }
        }
        Ok(())
    }

    /// The content as it reads back once sealed: the title and metadata trimmed, numbers as stored.
    pub(crate) fn normalized(&self) -> Content {
        Content {
            title: self.title.trim().to_string(),
            description: self.description.clone(),
            metadata: metadata_pairs(&self.metadata_json()),
        }
    }

    /// The metadata as the JSON object that is sealed.
    fn metadata_json(&self) -> String {
        let mut map = Map::new();
        for (key, value) in &self.metadata {
            let value = value.trim();
            // "72" and "98.6" were numbers when they came in; keep them numbers.
            let json = match value.parse::<Number>() {
                Ok(n) if n.to_string() == value => Value::Number(n),
                _ => Value::String(value.to_string()),
            };
            map.insert(key.trim().to_string(), json);
        }
        Value::Object(map).to_string()
    }

    /// Seals the content for `table` (medical_records or record_versions) at `version`.
    pub(crate) fn seal(
        &self,
        keyring: &Keyring,
        table: &'static str,
        record: Uuid,
        version: i32,
    ) -> Result<Sealed, CryptoError> {
        Ok(Sealed {
            title: keyring.seal(
                &aad(table, "title", record, version),
                self.title.trim().as_bytes(),
            )?,
            description: keyring.seal(
                &aad(table, "description", record, version),
                self.description.as_bytes(),
            )?,
            metadata: keyring.seal(
                &aad(table, "metadata", record, version),
                self.metadata_json().as_bytes(),
            )?,
        })
    }

    /// Opens a row's three sealed columns.
    pub(crate) fn open(
        keyring: &Keyring,
        table: &'static str,
        record: Uuid,
        version: i32,
        title: &[u8],
        description: &[u8],
        metadata: &[u8],
    ) -> Result<Content, CryptoError> {
        let title = keyring.open_text(&aad(table, "title", record, version), title)?;
        let description =
            keyring.open_text(&aad(table, "description", record, version), description)?;
        let metadata = keyring.open_text(&aad(table, "metadata", record, version), metadata)?;
        Ok(Content {
            title: title.to_string(),
            description: description.to_string(),
            metadata: metadata_pairs(&metadata),
        })
    }
}

/// Opens only a version's title (the browser's list).
pub(crate) fn open_title(
    keyring: &Keyring,
    record: Uuid,
    version: i32,
    title: &[u8],
) -> Result<String, CryptoError> {
    Ok(keyring
        .open_text(&aad("record_versions", "title", record, version), title)?
        .to_string())
}

/// Seals a reason for change (record_versions.change_reason).
pub(crate) fn seal_reason(
    keyring: &Keyring,
    record: Uuid,
    version: i32,
    reason: &str,
) -> Result<Vec<u8>, CryptoError> {
    keyring.seal(
        &aad("record_versions", "change_reason", record, version),
        reason.as_bytes(),
    )
}

pub(crate) fn open_reason(
    keyring: &Keyring,
    record: Uuid,
    version: i32,
    sealed: &[u8],
) -> Result<String, CryptoError> {
    Ok(keyring
        .open_text(
            &aad("record_versions", "change_reason", record, version),
            sealed,
        )?
        .to_string())
}

/// The stored JSON object as key/value text; anything else is shown whole under one key.
fn metadata_pairs(json: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        Ok(Value::Null) => Vec::new(),
        _ => vec![("value".into(), json.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn content() -> Content {
        Content {
            title: "Annual Physical".into(),
            description: "Routine.".into(),
            metadata: vec![
                ("bloodPressure".into(), "120/80".into()),
                ("heartRate".into(), "72".into()),
                ("temperature".into(), "98.6".into()),
            ],
        }
    }

    #[test]
    fn content_round_trips_and_numbers_stay_numbers() {
        let keyring = Keyring::new(&Zeroizing::new([3u8; 32]), &[]);
        let id = Uuid::new_v4();
        let c = content();
        let sealed = c.seal(&keyring, "record_versions", id, 2).unwrap();
        let opened = Content::open(
            &keyring,
            "record_versions",
            id,
            2,
            &sealed.title,
            &sealed.description,
            &sealed.metadata,
        )
        .unwrap();
        assert_eq!(opened, c);
        assert_eq!(
            c.metadata_json(),
            r#"{"bloodPressure":"120/80","heartRate":72,"temperature":98.6}"#
        );
        // Bound to its version: the same bytes do not open as version 3.
        assert!(
            Content::open(
                &keyring,
                "record_versions",
                id,
                3,
                &sealed.title,
                &sealed.description,
                &sealed.metadata
            )
            .is_err()
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let mut c = content();
        c.title = "  ".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("title is empty")
        );
        let mut c = content();
        c.metadata.push(("HeartRate".into(), "80".into()));
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("appears twice")
        );
        let mut c = content();
        c.description = "x".repeat(MAX_DESCRIPTION + 1);
        assert!(c.validate().unwrap_err().to_string().contains("1 MiB"));
        assert!(content().validate().is_ok());
    }
}
