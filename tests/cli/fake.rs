//! A hostile server written in the test: it answers each request with whatever the test's
//! handler returns, including bodies that never end, so the client's caps and its handling of
//! server text can be checked without teaching the emulator to misbehave.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A request as the fake server saw it: method, path, the whole head, and the body.
pub struct Seen {
    pub method: String,
    pub path: String,
    pub head: String,
    pub body: String,
}

/// What the fake server sends back.
pub enum Answer {
    /// Status, content type and body (with a Content-Length).
    Fixed(u16, &'static str, Vec<u8>),
    /// 200 with no length and a body streamed until the client hangs up.
    Endless,
}

impl Answer {
    pub fn json(status: u16, value: serde_json::Value) -> Answer {
        Answer::Fixed(status, "application/json", value.to_string().into_bytes())
    }

    pub fn text(status: u16, text: impl Into<String>) -> Answer {
        Answer::Fixed(status, "text/plain", text.into().into_bytes())
    }
}

/// A running fake server; it lives as long as the test process (threads are cheap).
pub struct Fake {
    pub url: String,
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// Serve `handler` on 127.0.0.1 (a free port).
pub fn serve(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler: Handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &handler);
            });
        }
    });
    Fake { url }
}

fn answer(stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let seen = Seen {
        method: first.next().unwrap_or("").to_string(),
        path: first.next().unwrap_or("").to_string(),
        head: head.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut stream = stream;
    match handler(&seen) {
        Answer::Fixed(status, kind, body) => {
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        Answer::Endless => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"access_token\":\""
            )?;
            let chunk = vec![b'a'; 64 * 1024];
            // Until the client hangs up (a write error ends the thread).
            loop {
                stream.write_all(&chunk)?;
            }
        }
    }
    stream.flush()
}

/// The escape sequences a hostile server sends: a window title, a screen clear, a bell.
pub const ESCAPES: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J all good";

/// Whether `output` carries any of [`ESCAPES`]' raw control sequences.
pub fn has_raw_escapes(output: &str) -> bool {
    output.contains("\u{1b}]0;") || output.contains("\u{1b}[2J") || output.contains('\u{7}')
}
