//! `hsc config show`: every variable's effective value, secrets masked.

use super::{AppEnv, Config, DatabaseTarget, Sources, VARIABLES, describe_server};

/// Variables whose values are never printed.
const SECRETS: &[&str] = &[
    "DB_PASSWORD",
    "ENCRYPTION_KEY",
    "ENCRYPTION_OLD_KEYS",
    "AUDIT_HMAC_KEY",
];

/// Lines for `hsc config show`: every variable's effective value (secrets masked) and its origin.
pub fn show(s: &Sources, config: &Config) -> Vec<(String, String, String)> {
    let mut rows = Vec::new();
    for &var in VARIABLES {
        let (value, origin) = match s.get(var) {
            Some((v, origin)) => (mask(var, &v), origin.to_string()),
            None => (default_for(var, config), "default".to_string()),
        };
        rows.push((var.to_string(), value, origin));
    }
    rows.push((
        "config file".into(),
        s.config_file.display().to_string(),
        if s.config_file.exists() {
            "found"
        } else {
            "not present"
        }
        .into(),
    ));
    rows.push((
        "database".into(),
        match &config.database {
            DatabaseTarget::Server(o) => describe_server(o),
            DatabaseTarget::Local => "hsc's private PostgreSQL cluster".into(),
        },
        String::new(),
    ));
    rows
}

fn default_for(var: &str, config: &Config) -> String {
    match var {
        "APP_ENV" => config.app_env.as_str().into(),
        "DB_POOL_MIN" => "2".into(),
        "DB_POOL_MAX" => "20".into(),
        "DB_PORT" => "5432".into(),
        "HSC_IDLE_LOCK_MINUTES" => "15".into(),
        "HSC_SESSION_HOURS" => "12".into(),
        "HSC_LOCKOUT_ATTEMPTS" => "5".into(),
        "HSC_LOCKOUT_MINUTES" => "30".into(),
        "HSC_GRANT_MAX_DAYS" => config.grant_max_days.to_string(),
        "HSC_MFA_ROLES" => config
            .mfa_roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        "HSC_DATA_DIR" => config.data_dir.display().to_string(),
        "HSC_LOG" => config.log_filter.clone(),
        "ENCRYPTION_KEY" | "AUDIT_HMAC_KEY" if config.app_env != AppEnv::Production => {
            format!("(not set: generated into {})", config.keys_dir().display())
        }
        _ => "(not set)".into(),
    }
}

fn mask(var: &str, value: &str) -> String {
    if SECRETS.contains(&var) {
        return "****".into();
    }
    if var == "DATABASE_URL" {
        return mask_url_password(value);
    }
    value.to_string()
}

/// Replaces the password in `scheme://user:password@host/...` with `****`.
fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return "****".into();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        // No userinfo, but a `password=` query parameter may still be there.
        return mask_query_password(url);
    };
    let userinfo = &rest[..at];
    let masked = match userinfo.find(':') {
        Some(colon) => format!("{}:****", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    mask_query_password(&format!(
        "{}{}{}",
        &url[..scheme_end + 3],
        masked,
        &rest[at..]
    ))
}

fn mask_query_password(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let params: Vec<String> = url[q + 1..]
        .split('&')
        .map(|p| {
            if p.to_ascii_lowercase().starts_with("password=") {
                "password=****".to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    format!("{}?{}", &url[..q], params.join("&"))
}
