//! Configuration from environment variables, with the lookup injectable so
//! tests never touch the process environment.

/// Looks up a variable; empty values count as unset.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Env;

impl Lookup for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A fixed set of variables (tests).
impl<const N: usize> Lookup for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()).filter(|v| !v.is_empty())
    }
}

/// A required variable was missing or a value was malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A required variable.
pub fn required(env: &impl Lookup, name: &str) -> Result<String, ConfigError> {
    env.get(name).ok_or_else(|| ConfigError(format!("environment variable {name} is not set")))
}

/// A variable with a default.
pub fn or_default(env: &impl Lookup, name: &str, default: &str) -> String {
    env.get(name).unwrap_or_else(|| default.to_string())
}

/// The name of the DynamoDB table (`TABLE_NAME`, required).
pub fn table_name(env: &impl Lookup) -> Result<String, ConfigError> {
    required(env, "TABLE_NAME")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_and_defaults() {
        let env = [("TABLE_NAME", "t"), ("EMPTY", "")];
        assert_eq!(table_name(&env), Ok("t".to_string()));
        assert!(required(&env, "EMPTY").is_err());
        assert_eq!(or_default(&env, "EMPTY", "d"), "d");
        assert_eq!(or_default(&env, "MISSING", "d"), "d");
        let none: [(&str, &str); 0] = [];
        assert_eq!(table_name(&none).unwrap_err().to_string(), "environment variable TABLE_NAME is not set");
    }
}
