//! The Runtime API address, for functions that use a Runtime API proxy
//! extension (the `lambdaship-runtime-proxy` layer).
//!
//! On managed runtimes the layer's wrapper script (`AWS_LAMBDA_EXEC_WRAPPER`)
//! points the runtime at the proxy. Lambda does not run wrapper scripts for
//! OS-only runtimes (`provided.al2023`, where these functions run), so the
//! stack sets `LAMBDASHIP_RUNTIME_API_PROXY` (`127.0.0.1:<port>`) instead, and
//! the function points its own runtime client there before it starts.

use crate::config::Lookup;

/// The variable that names the proxy's address.
pub const PROXY_VAR: &str = "LAMBDASHIP_RUNTIME_API_PROXY";

/// The address to use instead of `AWS_LAMBDA_RUNTIME_API`, when the function has a proxy.
pub fn proxied(env: &impl Lookup) -> Option<String> {
    env.get(PROXY_VAR)
}

/// Sets `AWS_LAMBDA_RUNTIME_API` to the proxy's address when there is one.
/// Call it first thing in `main`, before the runtime client reads the
/// variable and before any other thread starts.
pub fn use_proxy() {
    if let Some(addr) = proxied(&crate::config::Env) {
        // SAFETY: called at the start of main on the current-thread runtime,
        // before any other thread exists that could read the environment.
        unsafe { std::env::set_var("AWS_LAMBDA_RUNTIME_API", addr) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_replaces_the_runtime_api_only_when_set() {
        assert_eq!(proxied(&[(PROXY_VAR, "127.0.0.1:9009")]), Some("127.0.0.1:9009".to_string()));
        assert_eq!(proxied(&[(PROXY_VAR, "")]), None);
        assert_eq!(proxied(&[("OTHER", "x")]), None);
    }
}
