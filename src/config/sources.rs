//! The layers a setting can come from: the environment, `./.env`, `config.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    DotEnv(PathBuf),
    ConfigFile(PathBuf),
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Environment => f.write_str("from the environment"),
            Origin::DotEnv(p) => write!(f, "in {}", p.display()),
            Origin::ConfigFile(p) => write!(f, "in {}", p.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The raw name → value layers, before validation. Tests build one by hand.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    env: BTreeMap<String, String>,
    dotenv: Option<(PathBuf, BTreeMap<String, String>)>,
    file: Option<(PathBuf, BTreeMap<String, String>)>,
    /// Where `config.toml` is looked for, whether or not it exists.
    pub config_file: PathBuf,
    /// Default data directory from `directories`.
    pub default_data_dir: PathBuf,
    /// `[keymap]` from `config.toml`: command name → keys.
    pub keymap: BTreeMap<String, String>,
}

impl Sources {
    /// The real layers: this process's environment, `./.env`, and `config.toml` in the config dir.
    pub fn from_process() -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let dirs = directories::ProjectDirs::from("org", "HealthyStellar", "hsc");
        let config_dir = match env.get("HSC_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => dirs
                .as_ref()
                .ok_or(ConfigError::NoHome)?
                .config_dir()
                .to_path_buf(),
        };
        let default_data_dir = match &dirs {
            Some(d) => d.data_dir().to_path_buf(),
            None if env.contains_key("HSC_DATA_DIR") => PathBuf::new(),
            None => return Err(ConfigError::NoHome),
        };
        let mut sources = Sources {
            env,
            config_file: config_dir.join("config.toml"),
            default_data_dir,
            ..Sources::default()
        };
        sources.read_dotenv(Path::new(".env"))?;
        let config_file = sources.config_file.clone();
        sources.read_config_file(&config_file)?;
        Ok(sources)
    }

    /// Layers from explicit maps (tests, and callers that already hold the values).
    pub fn from_maps(env: BTreeMap<String, String>, default_data_dir: PathBuf) -> Self {
        Sources {
            env,
            config_file: PathBuf::from("config.toml"),
            default_data_dir,
            ..Sources::default()
        }
    }

    /// Adds a `.env` file's values as the second layer, when the file exists.
    pub fn read_dotenv(&mut self, path: &Path) -> Result<(), ConfigError> {
        if !path.exists() {
            return Ok(());
        }
        let shown = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let file_error = |reason: String| ConfigError::File {
            path: shown.clone(),
            reason,
        };
        let iter = dotenvy::from_path_iter(path).map_err(|e| file_error(dotenv_reason(&e)))?;
        let mut values = BTreeMap::new();
        for item in iter {
            let (k, v) = item.map_err(|e| file_error(dotenv_reason(&e)))?;
            values.insert(k, v);
        }
        self.dotenv = Some((shown, values));
        Ok(())
    }

    /// Adds `config.toml`'s values as the third layer, when the file exists. Keys are the variable
    /// names (either case); values may be strings, numbers or booleans.
    pub fn read_config_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(ConfigError::File {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                });
            }
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: path.to_path_buf(),
                reason: e.message().to_string(),
            })?;
        let mut values = BTreeMap::new();
        for (key, value) in table {
            let name = key.to_ascii_uppercase();
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Table(entries) if key.eq_ignore_ascii_case("keymap") => {
                    for (command, keys) in entries {
                        let keys = match keys {
                            toml::Value::String(s) => s,
                            toml::Value::Array(list) => list
                                .iter()
                                .map(|k| k.as_str().unwrap_or_default().to_string())
                                .collect::<Vec<_>>()
                                .join(","),
                            other => {
                                return Err(ConfigError::File {
                                    path: path.to_path_buf(),
                                    reason: format!(
                                        "[keymap] {command} must be a key such as \"ctrl-l\", not a {}",
                                        other.type_str()
                                    ),
                                });
                            }
                        };
                        self.keymap.insert(command, keys);
                    }
                    continue;
                }
                other => {
                    return Err(ConfigError::File {
                        path: path.to_path_buf(),
                        reason: format!(
                            "{key} must be a string, a number or true/false, not a {}",
                            other.type_str()
                        ),
                    });
                }
            };
            values.insert(name, text);
        }
        self.file = Some((path.to_path_buf(), values));
        Ok(())
    }

    /// The value of `name` from the first layer that has one, with where it came from.
    /// An empty value counts as unset, as it does in most shells' habits.
    pub fn get(&self, name: &str) -> Option<(String, Origin)> {
        let nonempty = |v: &String| !v.trim().is_empty();
        if let Some(v) = self.env.get(name).filter(|v| nonempty(v)) {
            return Some((v.clone(), Origin::Environment));
        }
        if let Some((path, map)) = &self.dotenv
            && let Some(v) = map.get(name).filter(|v| nonempty(v))
        {
            return Some((v.clone(), Origin::DotEnv(path.clone())));
        }
        if let Some((path, map)) = &self.file
            && let Some(v) = map.get(name).filter(|v| nonempty(v))
        {
            return Some((v.clone(), Origin::ConfigFile(path.clone())));
        }
        None
    }
}

fn dotenv_reason(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => format!("line {} cannot be parsed", index + 1),
        dotenvy::Error::Io(io) => io.to_string(),
        _ => "it is not a valid .env file".to_string(),
    }
}
