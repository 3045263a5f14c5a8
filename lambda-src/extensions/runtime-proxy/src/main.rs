//! `lambdaship-runtime-proxy`: a Lambda extension that proxies the Runtime API.
//!
//! Lambda starts it from `/opt/extensions/` before the runtime. It listens on
//! `127.0.0.1:$LAMBDASHIP_PROXY_PORT` (9009 by default), registers with the
//! Extensions API, and then serves the function's runtime, which reaches it
//! through one of:
//!
//! * the layer's wrapper script (`AWS_LAMBDA_EXEC_WRAPPER`, managed runtimes),
//!   which sets the runtime's `AWS_LAMBDA_RUNTIME_API` to the proxy;
//! * `LAMBDASHIP_RUNTIME_API_PROXY` (OS-only runtimes, where Lambda does not run
//!   wrapper scripts), read by the function itself (the Rust crate `common`).
//!
//! Every request is forwarded unchanged to the real Runtime API, whose address
//! is in this process's own `AWS_LAMBDA_RUNTIME_API`. The proxy notes when an
//! invocation is handed out (`GET .../invocation/next`) and when its response
//! or error comes back, and writes one JSON line per invocation to stdout,
//! which Lambda sends to the function's log group:
//!
//! ```text
//! {"extension":"lambdaship-runtime-proxy","requestId":"…","outcome":"success","durationMs":3.142,"status":202}
//! ```
//!
//! With `LAMBDASHIP_LIVE_RELAY` set, it is also the live mode's end in the
//! sandbox (see [`live`]): an invocation the runtime asks for is first offered
//! to a developer's `npm run live` session through the relay; when a session
//! answers, the proxy posts that answer to the Runtime API itself and fetches
//! the next invocation, and the runtime never sees it; otherwise the runtime
//! gets it as usual. The log line says which served it (`"served":"live"` or
//! `"served":"deployed"` with why).
//!
//! Standard library only, so it links statically for both architectures.

mod base64;
mod http;
mod json;
mod live;
mod sha256;
mod sigv4;
mod ws;

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{Message, read_body, read_head, read_message, write_message};
use json::string as json_string;
use live::{Invocation, Live, LiveConfig, Outcome};

pub const NAME: &str = "lambdaship-runtime-proxy";
const DEFAULT_PORT: u16 = 9009;

/// Invocations handed to the runtime and not finished, and the last ones finished (logged).
#[derive(Default)]
struct Invocations {
    started: HashMap<String, Instant>,
    finished: VecDeque<String>,
    /// Live mode only: why the deployed code serves an invocation (for its log line).
    deployed_because: HashMap<String, String>,
}

type InFlight = Arc<(Mutex<Invocations>, Condvar)>;

/// Finished request IDs remembered, for INVOKE events that arrive after their invocation ended.
const FINISHED_KEPT: usize = 64;

fn main() {
    let upstream = match std::env::var("AWS_LAMBDA_RUNTIME_API").ok().and_then(|a| a.parse::<SocketAddr>().ok()) {
        Some(a) => a,
        None => {
            eprintln!("{NAME}: AWS_LAMBDA_RUNTIME_API is not an address such as 127.0.0.1:9001; is this running inside Lambda?");
            std::process::exit(1);
        }
    };
    let port = match std::env::var("LAMBDASHIP_PROXY_PORT") {
        Ok(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => fail_init(upstream, None, &format!("LAMBDASHIP_PROXY_PORT={p} is not a port number (1-65535)")),
        },
        Err(_) => DEFAULT_PORT,
    };
    // Listen before registering: Lambda starts the runtime only after every extension registered.
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => fail_init(upstream, None, &format!("cannot listen on 127.0.0.1:{port} ({e}); set LAMBDASHIP_PROXY_PORT to a free port")),
    };
    let id = match register(upstream) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("{NAME}: registration with the Extensions API failed: {e}");
            std::process::exit(1);
        }
    };
    let live = match LiveConfig::from_env() {
        Ok(Some(config)) => {
            println!(
                "{{\"extension\":\"{NAME}\",\"live\":{}}}",
                json_string(&format!("live mode on: invocations go to a live session in room {} of the relay {} when one listens", config.room(), config.relay.authority()))
            );
            Some(Live::start(config))
        }
        Ok(None) => None,
        // Live mode is a convenience: a relay it cannot use never keeps the function from running.
        Err(e) => {
            println!("{{\"extension\":\"{NAME}\",\"live\":{}}}", json_string(&format!("live mode off: {e}")));
            None
        }
    };
    let in_flight: InFlight = Arc::default();
    {
        let in_flight = in_flight.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let in_flight = in_flight.clone();
                let live = live.clone();
                std::thread::spawn(move || serve(conn, upstream, &in_flight, live.as_deref()));
            }
        });
    }
    loop {
        match next_event(upstream, &id) {
            Ok(event) if event.contains("\"SHUTDOWN\"") => {
                for (request_id, started) in in_flight.0.lock().unwrap().started.drain() {
                    log_invocation(&request_id, "unfinished", None, started.elapsed().as_secs_f64() * 1000.0, 0, "");
                }
                std::process::exit(0);
            }
            // The invocation ends for Lambda when every extension asks for the next event: wait until
            // its line is logged (or its deadline passed), so the line belongs to its invocation.
            Ok(event) => wait_until_logged(&in_flight, json_field(&event, "requestId"), json_number(&event, "deadlineMs")),
            Err(e) => {
                eprintln!("{NAME}: Extensions API event/next failed: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn wait_until_logged(in_flight: &InFlight, request_id: Option<String>, deadline_ms: Option<u64>) {
    let Some(id) = request_id else { return };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let limit = Instant::now() + Duration::from_millis(deadline_ms.map_or(900_000, |d| d.saturating_sub(now_ms)).saturating_add(100));
    let (lock, cvar) = &**in_flight;
    let mut inv = lock.lock().unwrap();
    while !inv.finished.contains(&id) {
        let left = limit.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        inv = cvar.wait_timeout(inv, left).unwrap().0;
    }
}

/// A string field of a JSON object (the Extensions API's events, an error body).
fn json_field(text: &str, name: &str) -> Option<String> {
    json::parse(text).ok()?.str(name).map(str::to_string)
}

fn json_number(text: &str, name: &str) -> Option<u64> {
    json::parse(text).ok()?.u64(name)
}

/// Reports an init error to the Extensions API (Lambda then fails the function's init with it) and exits.
fn fail_init(upstream: SocketAddr, id: Option<&str>, message: &str) -> ! {
    eprintln!("{NAME}: {message}");
    let body = format!("{{\"errorMessage\":{},\"errorType\":\"Extension.ConfigError\"}}", json_string(&format!("{NAME}: {message}")));
    let mut headers = vec![("Lambda-Extension-Function-Error-Type".to_string(), "Extension.ConfigError".to_string())];
    if let Some(id) = id {
        headers.push(("Lambda-Extension-Identifier".to_string(), id.to_string()));
    }
    let _ = call(upstream, "POST", "/2020-01-01/extension/init/error", headers, body.into_bytes());
    std::process::exit(1);
}

fn register(upstream: SocketAddr) -> Result<String, String> {
    let reply = call(
        upstream,
        "POST",
        "/2020-01-01/extension/register",
        vec![("Lambda-Extension-Name".to_string(), NAME.to_string())],
        br#"{"events":["INVOKE","SHUTDOWN"]}"#.to_vec(),
    )
    .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, String::from_utf8_lossy(&reply.body)));
    }
    reply.header("Lambda-Extension-Identifier").map(str::to_string).ok_or_else(|| "no Lambda-Extension-Identifier header".to_string())
}

fn next_event(upstream: SocketAddr, id: &str) -> Result<String, String> {
    let reply = call(upstream, "GET", "/2020-01-01/extension/event/next", vec![("Lambda-Extension-Identifier".to_string(), id.to_string())], Vec::new())
        .map_err(|e| e.to_string())?;
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, String::from_utf8_lossy(&reply.body)));
    }
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

/// One request to the real API on a fresh connection (closed after the reply).
fn call(upstream: SocketAddr, method: &str, path: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect(upstream)?;
    let request = Message { start: format!("{method} {path} HTTP/1.1"), status: 0, headers, body };
    write_message(&mut stream, &request, &upstream.to_string(), false)?;
    let mut reader = BufReader::new(stream);
    read_message(&mut reader, true)?.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the Runtime API closed the connection"))
}

/// Serves one connection of the runtime (keep-alive), forwarding each request.
fn serve(conn: TcpStream, upstream: SocketAddr, in_flight: &InFlight, live: Option<&Live>) {
    let Ok(mut writer) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let read = read_head(&mut reader, false).and_then(|head| {
            let Some(mut request) = head else { return Ok(None) };
            if request.header("Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
                writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            read_body(&mut reader, &mut request, false)?;
            Ok(Some(request))
        });
        let request = match read {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let _ = write_message(&mut writer, &Message::text(400, &format!("{NAME}: bad request: {e}")), "", true);
                return;
            }
        };
        let close = request.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (method, path) = (request.method().to_string(), request.path().to_string());
        // The error type: the header when the runtime sends one, else the body's errorType (awslambdaric).
        let error_type = request
            .header("Lambda-Runtime-Function-Error-Type")
            .map(str::to_string)
            .or_else(|| path.ends_with("/error").then(|| json_field(&String::from_utf8_lossy(&request.body), "errorType")).flatten());
        let reply = match live {
            Some(live) if method == "GET" && path == "/2018-06-01/runtime/invocation/next" => next_for_runtime(upstream, request.headers, in_flight, live),
            _ => call(upstream, &method, &path, request.headers, request.body),
        };
        let reply = reply.unwrap_or_else(|e| Message::text(502, &format!("{NAME}: the Runtime API at {upstream} did not answer: {e}")));
        observe(&method, &path, error_type.as_deref(), &reply, in_flight);
        if write_message(&mut writer, &reply, "", close).is_err() || close {
            return;
        }
    }
}

/// Live mode: fetches invocations until one is for the runtime; those a live session answers are
/// posted to the Runtime API here and never reach the runtime.
fn next_for_runtime(upstream: SocketAddr, headers: Vec<(String, String)>, in_flight: &InFlight, live: &Live) -> std::io::Result<Message> {
    loop {
        let reply = call(upstream, "GET", "/2018-06-01/runtime/invocation/next", headers.clone(), Vec::new())?;
        let Some(id) = reply.header("Lambda-Runtime-Aws-Request-Id").filter(|_| reply.status == 200).map(str::to_string) else { return Ok(reply) };
        let started = Instant::now();
        let h = |name: &str| reply.header(name).map(str::to_string);
        let inv = Invocation {
            request_id: id.clone(),
            payload: reply.body.clone(),
            deadline_ms: h("Lambda-Runtime-Deadline-Ms").and_then(|d| d.parse().ok()),
            invoked_function_arn: h("Lambda-Runtime-Invoked-Function-Arn"),
            trace_id: h("Lambda-Runtime-Trace-Id"),
            client_context: h("Lambda-Runtime-Client-Context"),
            cognito_identity: h("Lambda-Runtime-Cognito-Identity"),
        };
        let result = match live.serve(&inv) {
            Outcome::Deployed(why) => {
                in_flight.0.lock().unwrap().deployed_because.insert(id, why);
                return Ok(reply);
            }
            Outcome::Served(r) => r,
        };
        let (kind, mut post_headers) = match &result.error_type {
            Some(t) => ("error", vec![("Lambda-Runtime-Function-Error-Type".to_string(), t.clone())]),
            None => ("response", Vec::new()),
        };
        post_headers.push(("Content-Type".to_string(), "application/json".to_string()));
        let posted = call(upstream, "POST", &format!("/2018-06-01/runtime/invocation/{id}/{kind}"), post_headers, result.payload);
        let status = posted.as_ref().map_or(0, |m| m.status);
        let outcome = match (kind, status) {
            (_, 0) | (_, 400..) => "rejected",
            ("error", _) => "error",
            _ => "success",
        };
        let served = format!(",\"served\":\"live\",\"session\":{}", json_string(&result.session));
        log_invocation(&id, outcome, result.error_type.as_deref(), started.elapsed().as_secs_f64() * 1000.0, status, &served);
        let (lock, cvar) = &**in_flight;
        let mut inv = lock.lock().unwrap();
        inv.finished.push_back(id);
        if inv.finished.len() > FINISHED_KEPT {
            inv.finished.pop_front();
        }
        cvar.notify_all();
    }
}

/// Notes invocations handed out and finished, from the Runtime API calls that pass through.
fn observe(method: &str, path: &str, error_type: Option<&str>, reply: &Message, in_flight: &InFlight) {
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") else { return };
    if method == "GET" && rest == "next" {
        if let Some(id) = reply.header("Lambda-Runtime-Aws-Request-Id") {
            in_flight.0.lock().unwrap().started.insert(id.to_string(), Instant::now());
        }
        return;
    }
    if method != "POST" {
        return;
    }
    let (id, outcome) = match rest.rsplit_once('/') {
        Some((id, "response")) => (id, "success"),
        Some((id, "error")) => (id, "error"),
        _ => return,
    };
    let (lock, cvar) = &**in_flight;
    let mut inv = lock.lock().unwrap();
    let Some(started) = inv.started.remove(id) else { return };
    // A response the Runtime API refused (for example over 6 MB) is not a success.
    let outcome = if outcome == "success" && reply.status >= 400 { "rejected" } else { outcome };
    let served = inv.deployed_because.remove(id).map(|why| format!(",\"served\":\"deployed\",\"why\":{}", json_string(&why))).unwrap_or_default();
    log_invocation(id, outcome, if outcome == "error" { error_type } else { None }, started.elapsed().as_secs_f64() * 1000.0, reply.status, &served);
    inv.finished.push_back(id.to_string());
    if inv.finished.len() > FINISHED_KEPT {
        inv.finished.pop_front();
    }
    cvar.notify_all();
}

/// One line per invocation; `served` is live mode's `,"served":...` (empty without it).
fn log_invocation(request_id: &str, outcome: &str, error_type: Option<&str>, duration_ms: f64, status: u16, served: &str) {
    let error = error_type.map(|t| format!(",\"errorType\":{}", json_string(t))).unwrap_or_default();
    println!(
        "{{\"extension\":\"{NAME}\",\"requestId\":{},\"outcome\":\"{outcome}\"{error},\"durationMs\":{duration_ms:.3},\"status\":{status}{served}}}",
        json_string(request_id)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_of_an_invoke_event() {
        let e = r#"{"eventType":"INVOKE","deadlineMs": 1700000000123,"requestId":"8476a536-e9f4","invokedFunctionArn":"arn:aws:lambda:us-east-1:1:function:f"}"#;
        assert_eq!(json_field(e, "requestId").as_deref(), Some("8476a536-e9f4"));
        assert_eq!(json_number(e, "deadlineMs"), Some(1_700_000_000_123));
        assert_eq!(json_field(e, "missing"), None);
    }

}
