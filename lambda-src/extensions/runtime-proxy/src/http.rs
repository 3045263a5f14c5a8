//! Just enough HTTP/1.1 for the Runtime API: requests and replies with a
//! Content-Length or chunked body (or, for replies, a body up to the end of the
//! connection), `Expect: 100-continue`, keep-alive.

use std::io::{self, BufRead, Write};

/// Headers that describe one hop, not the message: never forwarded as they are.
const HOP_HEADERS: [&str; 6] = ["connection", "keep-alive", "transfer-encoding", "content-length", "expect", "host"];

/// Largest head accepted (request line plus headers).
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Message {
    /// Request line (`GET /path HTTP/1.1`) or status line (`HTTP/1.1 200 OK`).
    pub start: String,
    /// The status of a reply; 0 for a request.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn text(status: u16, text: &str) -> Self {
        Message {
            start: format!("HTTP/1.1 {status} {}", reason(status)),
            status,
            headers: vec![("Content-Type".to_string(), "text/plain".to_string())],
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.start.split(' ').nth(1).unwrap_or("")
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads a message's start line and headers; `None` when the connection closed before one began.
pub fn read_head(r: &mut impl BufRead, is_reply: bool) -> io::Result<Option<Message>> {
    let mut start = String::new();
    loop {
        start.clear();
        if r.read_line(&mut start)? == 0 {
            return Ok(None);
        }
        if !start.trim().is_empty() {
            break;
        }
    }
    let start = start.trim_end().to_string();
    let status = if is_reply {
        start.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or_else(|| invalid(format!("bad status line {start:?}")))?
    } else {
        if start.split(' ').count() != 3 {
            return Err(invalid(format!("bad request line {start:?}")));
        }
        0
    };
    let mut headers = Vec::new();
    let mut size = start.len();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed inside the headers"));
        }
        size += line.len();
        if size > MAX_HEAD {
            return Err(invalid("headers over 64 KiB"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(Some(Message { start, status, headers, body: Vec::new() }))
}

/// Reads the body the head announces into `m.body`.
pub fn read_body(r: &mut impl BufRead, m: &mut Message, is_reply: bool) -> io::Result<()> {
    if m.header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid(format!("bad chunk size {size_hex:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                        return Ok(());
                    }
                }
            }
            let at = m.body.len();
            m.body.resize(at + size, 0);
            r.read_exact(&mut m.body[at..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    }
    if let Some(len) = m.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        m.body.resize(len, 0);
        return r.read_exact(&mut m.body);
    }
    let no_body = m.status == 204 || m.status == 304 || (100..200).contains(&m.status);
    if is_reply && !no_body {
        r.read_to_end(&mut m.body)?;
    }
    Ok(())
}

/// Reads a whole message (head and body).
pub fn read_message(r: &mut impl BufRead, is_reply: bool) -> io::Result<Option<Message>> {
    let Some(mut m) = read_head(r, is_reply)? else { return Ok(None) };
    read_body(r, &mut m, is_reply)?;
    Ok(Some(m))
}

/// Writes a message with a Content-Length, the hop headers replaced by ours.
pub fn write_message(w: &mut impl Write, m: &Message, host: &str, close: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + m.body.len());
    out.extend_from_slice(m.start.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !host.is_empty() {
        out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    for (k, v) in &m.headers {
        if !HOP_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
    }
    let connection = if close { "close" } else { "keep-alive" };
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: {connection}\r\n\r\n", m.body.len()).as_bytes());
    out.extend_from_slice(&m.body);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn parse(raw: &str, reply: bool) -> Message {
        read_message(&mut BufReader::new(raw.as_bytes()), reply).unwrap().unwrap()
    }

    #[test]
    fn reads_a_request_with_a_content_length() {
        let m = parse("POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", false);
        assert_eq!(m.method(), "POST");
        assert_eq!(m.path(), "/2018-06-01/runtime/invocation/abc/response");
        assert_eq!(m.body, b"hello");
    }

    #[test]
    fn reads_a_chunked_body_with_trailers() {
        let m = parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n", false);
        assert_eq!(m.body, b"hello world");
    }

    #[test]
    fn reads_a_reply_up_to_the_end_of_the_connection() {
        let m = parse("HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r1\r\n\r\n{\"a\":1}", true);
        assert_eq!(m.status, 200);
        assert_eq!(m.header("lambda-runtime-aws-request-id"), Some("r1"));
        assert_eq!(m.body, b"{\"a\":1}");
    }

    #[test]
    fn a_closed_connection_is_none_and_garbage_is_an_error() {
        assert!(read_message(&mut BufReader::new(&b""[..]), false).unwrap().is_none());
        assert!(read_message(&mut BufReader::new(&b"nonsense\r\n\r\n"[..]), false).is_err());
        assert!(read_message(&mut BufReader::new(&b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"[..]), false).is_err());
    }

    #[test]
    fn writes_hop_headers_of_its_own() {
        let m = Message {
            start: "POST /p HTTP/1.1".into(),
            status: 0,
            headers: vec![("Transfer-Encoding".into(), "chunked".into()), ("Expect".into(), "100-continue".into()), ("X-A".into(), "1".into())],
            body: b"abc".to_vec(),
        };
        let mut out = Vec::new();
        write_message(&mut out, &m, "127.0.0.1:9001", true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "POST /p HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nX-A: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    }
}
