//! A WebSocket client (RFC 6455) over TCP or TLS, for the live relay: the
//! upgrade with extra headers (a SigV4 signature), masked text frames split
//! into frames of at most [`FRAME_LIMIT`] bytes (API Gateway's frame limit),
//! and a reader that puts fragmented messages together and answers pings.
//! `wss://` goes through rustls (ring, Mozilla's roots, plus the PEM file in
//! `LAMBDASHIP_LIVE_CA_FILE` when set).

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::read_head;

/// API Gateway's WebSocket frame limit: a longer message goes as continuation frames.
pub const FRAME_LIMIT: usize = 32 * 1024;
/// Largest message accepted from the relay (API Gateway's message limit is 128 KB).
pub const MESSAGE_LIMIT: usize = 1024 * 1024;

/// A `ws://` or `wss://host[:port]/path?query` URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    /// The path with its query (`/local?room=live-f`).
    pub target: String,
    /// `wss://`: TLS.
    pub tls: bool,
}

impl WsUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = match (url.strip_prefix("wss://"), url.strip_prefix("ws://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(format!("{url} is not a ws:// or wss:// URL")),
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("{url}: {p} is not a port"))?),
            None => (authority.to_string(), default_port),
        };
        if host.is_empty() {
            return Err(format!("{url} has no host"));
        }
        Ok(WsUrl { host, port, target, tls })
    }

    /// The Host header's value.
    pub fn authority(&self) -> String {
        if self.port == if self.tls { 443 } else { 80 } { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }
}

/// A TLS connection, shared by the reading thread and the senders: rustls's state and the socket.
struct Tls {
    conn: rustls::ClientConnection,
    sock: TcpStream,
}

impl Tls {
    /// Hands the records rustls has ready to the socket.
    fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}

fn lock(tls: &Mutex<Tls>) -> std::sync::MutexGuard<'_, Tls> {
    tls.lock().unwrap_or_else(|e| e.into_inner())
}

/// The TLS connection's reading side. It waits for bytes on its own handle of the socket (a peek),
/// without holding the connection, so a sender never waits for a read; then it takes the
/// connection just long enough to decrypt what came.
struct TlsReader {
    tls: Arc<Mutex<Tls>>,
    socket: TcpStream,
}

impl Read for TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match lock(&self.tls).conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Data, a clean close (0), or the peer gone without close_notify (UnexpectedEof).
                other => return other,
            }
            // Until the peer sends something or closes (the socket's read timeout bounds the upgrade).
            self.socket.peek(&mut [0u8; 1])?;
            let mut t = lock(&self.tls);
            let Tls { conn, sock } = &mut *t;
            conn.read_tls(sock)?;
            conn.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            t.flush()?;
        }
    }
}

/// The connection's writing side: the socket itself, or the shared TLS connection.
enum WriteSide {
    Plain(TcpStream),
    Tls(Arc<Mutex<Tls>>),
}

impl WriteSide {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            WriteSide::Plain(s) => s.write_all(data),
            WriteSide::Tls(t) => {
                let mut t = lock(t);
                // rustls takes plaintext up to its buffer limit (64 KB of records): hand each part to
                // the socket before the next.
                let mut rest = data;
                while !rest.is_empty() {
                    let n = t.conn.writer().write(rest)?;
                    if n == 0 && !t.conn.wants_write() {
                        return Err(io::Error::new(io::ErrorKind::WriteZero, "the TLS connection takes no more data"));
                    }
                    rest = &rest[n..];
                    t.flush()?;
                }
                Ok(())
            }
        }
    }
}

/// The roots a wss:// relay's certificate must chain to: Mozilla's, and the PEM file in LAMBDASHIP_LIVE_CA_FILE.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Ok(file) = std::env::var("LAMBDASHIP_LIVE_CA_FILE") {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certs = CertificateDer::pem_file_iter(&file).map_err(|e| format!("LAMBDASHIP_LIVE_CA_FILE {file}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("LAMBDASHIP_LIVE_CA_FILE {file}: {e}"))?;
            roots.add(cert).map_err(|e| format!("LAMBDASHIP_LIVE_CA_FILE {file}: {e}"))?;
        }
    }
    // ring's provider has no post-quantum key exchange (rustls marks it deprecated for that); the
    // classical X25519/ECDHE it offers is what API Gateway's TLS policies negotiate, and aws-lc-rs
    // (the provider with it) needs cmake and a C toolchain per target on top of ring's.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The writing half of a connection, shared by the threads that send.
#[derive(Clone)]
pub struct Sender {
    stream: Arc<Mutex<WriteSide>>,
    /// The socket, to shut it down.
    socket: Arc<TcpStream>,
}

/// The reading half.
pub struct Receiver {
    reader: BufReader<Box<dyn Read + Send>>,
    sender: Sender,
}

/// A message from the server, or the end of the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Closed(String),
}

/// Connects and upgrades; `headers` go on the upgrade request (Host is added here).
pub fn connect(url: &WsUrl, headers: &[(String, String)], timeout: Duration) -> Result<(Sender, Receiver), String> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", url.host))?;
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("cannot connect to {}: {e}", url.authority()))?;
    stream.set_nodelay(true).ok();
    let socket = Arc::new(stream.try_clone().map_err(|e| e.to_string())?);
    // Bounds the handshake and the upgrade; lifted once upgraded.
    stream.set_read_timeout(Some(timeout)).ok();
    let (mut writer, reader): (WriteSide, Box<dyn Read + Send>) = if url.tls {
        let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| format!("{}: {e}", url.host))?;
        let conn = rustls::ClientConnection::new(tls_config()?, name).map_err(|e| format!("TLS to {}: {e}", url.authority()))?;
        let mut tls = Tls { conn, sock: stream.try_clone().map_err(|e| e.to_string())? };
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).map_err(|e| format!("TLS handshake with {}: {e}", url.authority()))?;
        }
        let tls = Arc::new(Mutex::new(tls));
        (WriteSide::Tls(tls.clone()), Box::new(TlsReader { tls, socket: stream }))
    } else {
        let reader = stream.try_clone().map_err(|e| e.to_string())?;
        (WriteSide::Plain(stream), Box::new(reader))
    };
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        url.target,
        url.authority(),
        crate::base64::encode(&random_bytes::<16>())
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    writer.write_all(request.as_bytes()).map_err(|e| format!("upgrade request to {}: {e}", url.authority()))?;
    let mut reader = BufReader::new(reader);
    let head = read_head(&mut reader, true)
        .map_err(|e| format!("upgrade answer from {}: {e}", url.authority()))?
        .ok_or_else(|| format!("{} closed the connection during the upgrade", url.authority()))?;
    if head.status != 101 {
        return Err(format!("the relay at {} refused the upgrade: {}", url.authority(), head.start));
    }
    // Sec-WebSocket-Accept is not checked: it guards against caches that do not speak WebSocket,
    // and none sits between Lambda and API Gateway (or on loopback).
    socket.set_read_timeout(None).ok();
    let sender = Sender { stream: Arc::new(Mutex::new(writer)), socket };
    Ok((sender.clone(), Receiver { reader, sender }))
}

impl Sender {
    /// Sends a text message, as frames of at most FRAME_LIMIT bytes of payload.
    pub fn send_text(&self, text: &str) -> io::Result<()> {
        let data = text.as_bytes();
        let mut out = Vec::with_capacity(data.len() + 16 * (data.len() / FRAME_LIMIT + 1));
        let chunks: Vec<&[u8]> = if data.is_empty() { vec![data] } else { data.chunks(FRAME_LIMIT).collect() };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let opcode = if i == 0 { 0x1 } else { 0x0 };
            frame(&mut out, i == last, opcode, chunk);
        }
        self.stream.lock().unwrap_or_else(|e| e.into_inner()).write_all(&out)
    }

    fn control(&self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        frame(&mut out, true, opcode, &payload[..payload.len().min(125)]);
        self.stream.lock().unwrap_or_else(|e| e.into_inner()).write_all(&out)
    }

    /// Sends a close frame and shuts the connection down.
    pub fn close(&self) {
        let _ = self.control(0x8, &1000u16.to_be_bytes());
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// One masked frame (clients always mask).
fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = random_bytes::<4>();
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
}

impl Receiver {
    /// The next whole message; pings are answered on the way.
    pub fn next(&mut self) -> Incoming {
        match self.read_message() {
            Ok(m) => m,
            Err(e) => Incoming::Closed(e.to_string()),
        }
    }

    fn read_message(&mut self) -> io::Result<Incoming> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head)?;
            let (fin, opcode, masked) = (head[0] & 0x80 != 0, head[0] & 0x0f, head[1] & 0x80 != 0);
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b)?;
                    u16::from_be_bytes(b) as u64
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b)?;
                    u64::from_be_bytes(b)
                }
                n => n as u64,
            };
            if len as usize + message.len() > MESSAGE_LIMIT {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a message over {MESSAGE_LIMIT} bytes")));
            }
            let mut mask = [0u8; 4];
            if masked {
                self.reader.read_exact(&mut mask)?;
            }
            let mut payload = vec![0u8; len as usize];
            self.reader.read_exact(&mut payload)?;
            if masked {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            match opcode {
                0x8 => {
                    let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or(&[])).into_owned();
                    self.sender.close();
                    return Ok(Incoming::Closed(format!("closed by the relay ({code}{}{reason})", if reason.is_empty() { "" } else { " " })));
                }
                0x9 => self.sender.control(0xA, &payload)?,
                0xA => {}
                0x0..=0x2 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        return Ok(Incoming::Text(String::from_utf8_lossy(&message).into_owned()));
                    }
                }
                other => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown frame opcode {other}"))),
            }
        }
    }

    /// Whether the reader has buffered bytes (for tests).
    #[cfg(test)]
    pub fn buffered(&mut self) -> usize {
        use std::io::BufRead;
        self.reader.fill_buf().map(|b| b.len()).unwrap_or(0)
    }
}

/// Bytes from the kernel's random source (masking keys, the upgrade's key).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        // No /dev/urandom: the time and the process id still make keys that differ.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) ^ std::process::id() as u128;
        for (i, x) in b.iter_mut().enumerate() {
            *x = (seed >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    #[test]
    fn parses_relay_urls() {
        assert_eq!(WsUrl::parse("ws://127.0.0.1:4510/local").unwrap(), WsUrl { host: "127.0.0.1".into(), port: 4510, target: "/local".into(), tls: false });
        assert_eq!(WsUrl::parse("ws://relay.example/live?room=a").unwrap().target, "/live?room=a");
        assert_eq!(WsUrl::parse("ws://h?room=a").unwrap(), WsUrl { host: "h".into(), port: 80, target: "/?room=a".into(), tls: false });
        let aws = WsUrl::parse("wss://x.execute-api.eu-west-1.amazonaws.com/dev").unwrap();
        assert_eq!((aws.tls, aws.port, aws.authority()), (true, 443, "x.execute-api.eu-west-1.amazonaws.com".to_string()));
        assert_eq!(WsUrl::parse("wss://127.0.0.1:8443/s").unwrap().authority(), "127.0.0.1:8443");
        assert!(WsUrl::parse("https://h/").unwrap_err().contains("not a ws:// or wss:// URL"));
        assert!(WsUrl::parse("http://x/").is_err());
        assert!(WsUrl::parse("ws://h:x/").is_err());
    }

    /// A server that reads the upgrade, answers 101, then plays `script` with the client's frames.
    fn server(script: impl FnOnce(TcpStream, String) + Send + 'static) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let mut w = s.try_clone().unwrap();
            w.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").unwrap();
            script(s, head);
        });
        port
    }

    fn read_frame(s: &mut TcpStream) -> (bool, u8, Vec<u8>) {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).unwrap();
        assert!(h[1] & 0x80 != 0, "client frames are masked");
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                s.read_exact(&mut b).unwrap();
                u16::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut mask = [0u8; 4];
        s.read_exact(&mut mask).unwrap();
        let mut p = vec![0u8; len];
        s.read_exact(&mut p).unwrap();
        (h[0] & 0x80 != 0, h[0] & 0x0f, p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect())
    }

    #[test]
    fn sends_long_messages_in_frames_under_the_limit_and_reads_fragments() {
        let (tx, rx) = std::sync::mpsc::channel();
        let port = server(move |mut s, head| {
            tx.send(head).unwrap();
            let mut got = Vec::new();
            let mut frames = Vec::new();
            loop {
                let (fin, op, p) = read_frame(&mut s);
                frames.push((op, p.len()));
                got.extend(p);
                if fin {
                    break;
                }
            }
            tx.send(format!("{:?} {}", frames, got.len())).unwrap();
            // A ping, then a message in two fragments (unmasked, as servers send), then a close.
            s.write_all(&[0x89, 2, b'h', b'i']).unwrap();
            s.write_all(&[0x01, 3, b'a', b'b', b'c']).unwrap();
            s.write_all(&[0x80, 2, b'd', b'e']).unwrap();
            let (_, op, p) = read_frame(&mut s);
            tx.send(format!("pong {op} {}", String::from_utf8_lossy(&p))).unwrap();
            s.write_all(&[0x88, 4, 0x03, 0xe9, b'b', b'y']).unwrap();
        });
        let url = WsUrl::parse(&format!("ws://127.0.0.1:{port}/stage?room=r")).unwrap();
        let (sender, mut receiver) = connect(&url, &[("Authorization".into(), "AWS4 x".into())], Duration::from_secs(5)).unwrap();
        let head = rx.recv().unwrap();
        assert!(head.starts_with("GET /stage?room=r HTTP/1.1\r\n"), "{head}");
        assert!(head.contains(&format!("Host: 127.0.0.1:{port}\r\n")) && head.contains("Authorization: AWS4 x\r\n") && head.contains("Sec-WebSocket-Version: 13"));
        sender.send_text(&"x".repeat(70_000)).unwrap();
        assert_eq!(rx.recv().unwrap(), "[(1, 32768), (0, 32768), (0, 4464)] 70000");
        assert_eq!(receiver.next(), Incoming::Text("abcde".into()));
        assert_eq!(rx.recv().unwrap(), "pong 10 hi");
        assert_eq!(receiver.next(), Incoming::Closed("closed by the relay (1001 by)".into()));
        assert_eq!(receiver.buffered(), 0);
    }

    #[test]
    fn a_refused_upgrade_says_so() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").unwrap();
        });
        let url = WsUrl::parse(&format!("ws://127.0.0.1:{port}/s")).unwrap();
        let err = connect(&url, &[], Duration::from_secs(5)).err().unwrap();
        assert!(err.contains("refused the upgrade: HTTP/1.1 403 Forbidden"), "{err}");
    }
}
