//! Live mode: invocations served by a developer's `npm run live` session
//! through the env's relay (runtime/live-protocol.ts has the protocol).
//!
//! On when the function's environment has `LAMBDASHIP_LIVE_RELAY` (the relay's
//! `ws://` or `wss://` URL). The extension keeps one connection to the function's room
//! (`live-<function name>`) across invocations, signed with SigV4 when the
//! function has credentials, and reconnects when it drops. It notes the
//! sessions that say `hello` for its function. For each invocation:
//!
//! * nobody said hello within [`PRESENCE`]: the deployed code serves it at
//!   once (no relay round trip);
//! * else the invocation goes out in parts; a session that takes it answers
//!   `ack` at once, and its result later. No ack within the ack time
//!   (`LAMBDASHIP_LIVE_ACK_MS`, 1500 ms by default): the deployed code serves
//!   it, so a session that died or a relay that lost the message never
//!   breaks the function.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::base64;
use crate::json;
use crate::sigv4::{self, Credentials};
use crate::ws::{self, Incoming, WsUrl};

/// Base64 characters per part (runtime/live-protocol.ts PART_BYTES): relayed messages stay under 128 KB.
pub const PART_BYTES: usize = 96 * 1024;
/// How long a hello counts (PRESENCE_MS there).
pub const PRESENCE: Duration = Duration::from_millis(6000);
/// Lambda's payload limit.
pub const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub relay: WsUrl,
    pub function_name: String,
    pub region: String,
    pub ack_timeout: Duration,
    pub credentials: Option<Credentials>,
}

impl LiveConfig {
    /// From the environment; `Ok(None)` when live mode is off (no LAMBDASHIP_LIVE_RELAY).
    pub fn from_env() -> Result<Option<Self>, String> {
        let Some(relay) = std::env::var("LAMBDASHIP_LIVE_RELAY").ok().filter(|v| !v.is_empty()) else { return Ok(None) };
        let relay = WsUrl::parse(&relay).map_err(|e| format!("LAMBDASHIP_LIVE_RELAY: {e}"))?;
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").map_err(|_| "LAMBDASHIP_LIVE_RELAY is set but AWS_LAMBDA_FUNCTION_NAME is not; is this running inside Lambda?".to_string())?;
        let ack_timeout = match std::env::var("LAMBDASHIP_LIVE_ACK_MS") {
            Ok(v) => Duration::from_millis(v.parse::<u64>().map_err(|_| format!("LAMBDASHIP_LIVE_ACK_MS={v} is not a number of milliseconds"))?),
            Err(_) => Duration::from_millis(1500),
        };
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_string());
        Ok(Some(LiveConfig { relay, function_name, region, ack_timeout, credentials: Credentials::from_env() }))
    }

    pub fn room(&self) -> String {
        format!("live-{}", self.function_name)
    }
}

/// What the Runtime API gave with an invocation, passed on to the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    pub deadline_ms: Option<u64>,
    pub invoked_function_arn: Option<String>,
    pub trace_id: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// A session's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveResult {
    pub payload: Vec<u8>,
    pub error_type: Option<String>,
    pub session: String,
}

/// How an invocation went.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Served(LiveResult),
    /// The deployed code serves it; why.
    Deployed(String),
}

struct Parts {
    parts: Vec<Option<String>>,
    got: usize,
    error_type: Option<String>,
    session: String,
}

#[derive(Default)]
struct State {
    sender: Option<ws::Sender>,
    connected_once: bool,
    last_problem: Option<String>,
    hellos: HashMap<String, Instant>,
    waiting: HashSet<String>,
    acked: HashSet<String>,
    parts: HashMap<String, Parts>,
    results: HashMap<String, LiveResult>,
}

/// The relay connection and what it has heard.
pub struct Live {
    pub config: LiveConfig,
    state: Arc<(Mutex<State>, Condvar)>,
}

fn log(line: &str) {
    println!("{{\"extension\":\"{}\",\"live\":{}}}", crate::NAME, json::string(line));
}

impl Live {
    /// Starts the connection in the background (reconnecting when it drops).
    pub fn start(config: LiveConfig) -> Arc<Live> {
        let live = Arc::new(Live { config, state: Arc::default() });
        let bg = live.clone();
        std::thread::spawn(move || bg.connection_loop());
        live
    }

    fn connection_loop(&self) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let mut url = self.config.relay.clone();
            let sep = if url.target.contains('?') { '&' } else { '?' };
            url.target = format!("{}{sep}room={}", url.target, self.config.room());
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let headers = self.config.credentials.as_ref().map(|c| sigv4::sign_get(&url, &self.config.region, "execute-api", c, now)).unwrap_or_default();
            match ws::connect(&url, &headers, Duration::from_secs(5)) {
                Ok((sender, mut receiver)) => {
                    {
                        let mut st = self.state.0.lock().unwrap();
                        if !st.connected_once || st.last_problem.is_some() {
                            log(&format!("connected to the relay {} (room {})", self.config.relay.authority(), self.config.room()));
                        }
                        st.connected_once = true;
                        st.last_problem = None;
                        st.sender = Some(sender);
                    }
                    backoff = Duration::from_millis(250);
                    let why = loop {
                        match receiver.next() {
                            Incoming::Text(t) => self.received(&t, Instant::now()),
                            Incoming::Closed(why) => break why,
                        }
                    };
                    let mut st = self.state.0.lock().unwrap();
                    st.sender = None;
                    st.hellos.clear();
                    st.last_problem = Some(why.clone());
                    log(&format!("relay connection lost ({why}); reconnecting"));
                    self.state.1.notify_all();
                }
                Err(e) => {
                    let mut st = self.state.0.lock().unwrap();
                    if st.last_problem.as_deref() != Some(e.as_str()) {
                        log(&format!("cannot reach the relay: {e}; invocations are served by the deployed code until it answers"));
                        st.last_problem = Some(e);
                    }
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// A message from the relay: `{"room", "from", "message": {...}}`.
    fn received(&self, text: &str, now: Instant) {
        let Ok(v) = json::parse(text) else { return };
        let Some(m) = v.get("message") else { return };
        let (lock, cvar) = &*self.state;
        let mut st = lock.lock().unwrap();
        match m.str("t") {
            Some("hello") if m.strings("functions").contains(&self.config.function_name.as_str()) => {
                if let Some(s) = m.str("session") {
                    st.hellos.insert(s.to_string(), now);
                }
            }
            Some("bye") => {
                if let Some(s) = m.str("session") {
                    st.hellos.remove(s);
                }
            }
            Some("ack") => {
                if let Some(id) = m.str("id").filter(|id| st.waiting.contains(*id)) {
                    st.acked.insert(id.to_string());
                    cvar.notify_all();
                }
            }
            Some("result") => {
                let (Some(id), Some(part), Some(parts), Some(data)) = (m.str("id"), m.u64("part"), m.u64("parts"), m.str("data")) else { return };
                if !st.waiting.contains(id) || parts == 0 || part >= parts || parts as usize > PAYLOAD_LIMIT / PART_BYTES * 2 + 2 {
                    return;
                }
                let session = m.str("session").unwrap_or("").to_string();
                let entry = st.parts.entry(id.to_string()).or_insert_with(|| Parts { parts: vec![None; parts as usize], got: 0, error_type: None, session: session.clone() });
                if entry.parts.len() != parts as usize || entry.session != session || entry.parts[part as usize].is_some() {
                    return;
                }
                entry.parts[part as usize] = Some(data.to_string());
                entry.got += 1;
                if part == 0 {
                    entry.error_type = m.str("errorType").map(str::to_string);
                }
                if entry.got == entry.parts.len() {
                    let p = st.parts.remove(id).unwrap();
                    let b64: String = p.parts.into_iter().map(Option::unwrap_or_default).collect();
                    if let Ok(payload) = base64::decode(&b64) {
                        st.acked.insert(id.to_string());
                        st.results.insert(id.to_string(), LiveResult { payload, error_type: p.error_type, session: p.session });
                        cvar.notify_all();
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a session said hello for this function within PRESENCE.
    pub fn listening(&self, now: Instant) -> bool {
        let mut st = self.state.0.lock().unwrap();
        st.hellos.retain(|_, at| now.duration_since(*at) <= PRESENCE);
        st.sender.is_some() && !st.hellos.is_empty()
    }

    /// Serves an invocation live when a session listens and takes it; else says why the deployed
    /// code serves it.
    pub fn serve(&self, inv: &Invocation) -> Outcome {
        if !self.listening(Instant::now()) {
            let st = self.state.0.lock().unwrap();
            return Outcome::Deployed(match (&st.sender, &st.last_problem) {
                (None, Some(p)) => format!("no relay connection ({p})"),
                (None, None) => "not connected to the relay yet".to_string(),
                _ => "no live session".to_string(),
            });
        }
        let messages = invoke_messages(&self.config.function_name, inv);
        let (lock, cvar) = &*self.state;
        let sender = {
            let mut st = lock.lock().unwrap();
            st.waiting.insert(inv.request_id.clone());
            st.sender.clone()
        };
        let finish = |st: &mut State| {
            st.waiting.remove(&inv.request_id);
            st.acked.remove(&inv.request_id);
            st.parts.remove(&inv.request_id);
            st.results.remove(&inv.request_id)
        };
        let sent = sender.map(|s| messages.iter().try_for_each(|m| s.send_text(m)));
        if !matches!(sent, Some(Ok(()))) {
            finish(&mut lock.lock().unwrap());
            return Outcome::Deployed("the relay connection failed while sending".to_string());
        }
        let started = Instant::now();
        let ack_by = started + self.config.ack_timeout;
        // The result is awaited until the invocation's deadline (Lambda ends it there anyway).
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let result_by = started + Duration::from_millis(inv.deadline_ms.map_or(900_000, |d| d.saturating_sub(now_ms)));
        let mut st = lock.lock().unwrap();
        loop {
            if let Some(r) = st.results.get(&inv.request_id).cloned() {
                finish(&mut st);
                return Outcome::Served(r);
            }
            let now = Instant::now();
            let acked = st.acked.contains(&inv.request_id);
            if !acked && now >= ack_by {
                finish(&mut st);
                return Outcome::Deployed(format!("no session took it within {} ms", self.config.ack_timeout.as_millis()));
            }
            if acked && now >= result_by {
                finish(&mut st);
                return Outcome::Served(LiveResult {
                    payload: br#"{"errorMessage":"the live session took the invocation but did not answer before its deadline","errorType":"Live.Timeout"}"#.to_vec(),
                    error_type: Some("Live.Timeout".to_string()),
                    session: String::new(),
                });
            }
            let until = if acked { result_by } else { ack_by };
            st = cvar.wait_timeout(st, until.saturating_duration_since(now)).unwrap().0;
        }
    }
}

/// The `invoke` messages of an invocation, as sent on `$default` (`{"message": {...}}`).
pub fn invoke_messages(function_name: &str, inv: &Invocation) -> Vec<String> {
    let b64 = base64::encode(&inv.payload);
    let chunks: Vec<&str> = if b64.is_empty() { vec![""] } else { b64.as_bytes().chunks(PART_BYTES).map(|c| std::str::from_utf8(c).unwrap_or("")).collect() };
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let mut context = String::new();
            if i == 0 {
                if let Some(d) = inv.deadline_ms {
                    context.push_str(&format!(",\"deadlineMs\":{d}"));
                }
                for (k, v) in [
                    ("invokedFunctionArn", &inv.invoked_function_arn),
                    ("traceId", &inv.trace_id),
                    ("clientContext", &inv.client_context),
                    ("cognitoIdentity", &inv.cognito_identity),
                ] {
                    if let Some(v) = v {
                        context.push_str(&format!(",\"{k}\":{}", json::string(v)));
                    }
                }
            }
            format!(
                "{{\"message\":{{\"t\":\"invoke\",\"id\":{},\"fn\":{},\"part\":{i},\"parts\":{n},\"data\":\"{data}\"{context}}}}}",
                json::string(&inv.request_id),
                json::string(function_name)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ack_ms: u64) -> Live {
        Live {
            config: LiveConfig {
                relay: WsUrl::parse("ws://127.0.0.1:1/local").unwrap(),
                function_name: "f".into(),
                region: "us-east-1".into(),
                ack_timeout: Duration::from_millis(ack_ms),
                credentials: None,
            },
            state: Arc::default(),
        }
    }

    #[test]
    fn invocations_go_out_in_parts_with_their_context_first() {
        let inv = Invocation { request_id: "r1".into(), payload: vec![7u8; 200_000], deadline_ms: Some(42), trace_id: Some("Root=1".into()), ..Default::default() };
        let m = invoke_messages("f", &inv);
        assert_eq!(m.len(), 3);
        let first = json::parse(&m[0]).unwrap();
        let first = first.get("message").unwrap();
        assert_eq!((first.str("t"), first.str("id"), first.str("fn"), first.u64("parts"), first.u64("deadlineMs"), first.str("traceId")), (Some("invoke"), Some("r1"), Some("f"), Some(3), Some(42), Some("Root=1")));
        assert!(m.iter().all(|s| s.len() < 100 * 1024));
        let second = json::parse(&m[1]).unwrap();
        assert_eq!(second.get("message").unwrap().get("deadlineMs"), None);
        let b64: String = m.iter().map(|s| json::parse(s).unwrap().get("message").unwrap().str("data").unwrap().to_string()).collect();
        assert_eq!(base64::decode(&b64).unwrap(), inv.payload);
        assert_eq!(invoke_messages("f", &Invocation { request_id: "e".into(), ..Default::default() }).len(), 1);
    }

    #[test]
    fn presence_is_a_recent_hello_for_this_function() {
        let l = live(100);
        let t0 = Instant::now();
        l.state.0.lock().unwrap().sender = None;
        l.received(r#"{"room":"live-f","from":"a","message":{"t":"hello","session":"s1","functions":["g"]}}"#, t0);
        assert!(l.state.0.lock().unwrap().hellos.is_empty());
        l.received(r#"{"room":"live-f","from":"a","message":{"t":"hello","session":"s1","functions":["f"]}}"#, t0);
        assert_eq!(l.state.0.lock().unwrap().hellos.len(), 1);
        // Not connected: not listening, whatever was heard.
        assert!(!l.listening(t0));
        assert_eq!(l.serve(&Invocation { request_id: "r".into(), ..Default::default() }), Outcome::Deployed("not connected to the relay yet".into()));
        l.received(r#"{"room":"live-f","from":"a","message":{"t":"bye","session":"s1"}}"#, t0);
        assert!(l.state.0.lock().unwrap().hellos.is_empty());
    }

    #[test]
    fn results_are_put_together_in_any_order_and_only_for_awaited_ids() {
        let l = live(100);
        let data = base64::encode(b"hello world, from the session");
        let (a, b) = data.split_at(8);
        let part = |id: &str, p: u32, d: &str, extra: &str| format!(r#"{{"room":"r","from":"x","message":{{"t":"result","id":"{id}","session":"s","part":{p},"parts":2,"data":"{d}"{extra}}}}}"#);
        l.received(&part("r1", 1, b, ""), Instant::now());
        assert!(l.state.0.lock().unwrap().parts.is_empty(), "not awaited: ignored");
        l.state.0.lock().unwrap().waiting.insert("r1".into());
        l.received(&part("r1", 1, b, ""), Instant::now());
        l.received(&part("r1", 1, "AAAA", ""), Instant::now()); // a repeated part is ignored
        assert!(l.state.0.lock().unwrap().results.is_empty());
        l.received(&part("r1", 0, a, r#","errorType":"Handled""#), Instant::now());
        let st = l.state.0.lock().unwrap();
        assert_eq!(st.results["r1"], LiveResult { payload: b"hello world, from the session".to_vec(), error_type: Some("Handled".into()), session: "s".into() });
        assert!(st.parts.is_empty());
    }
}
