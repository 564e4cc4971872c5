//! A small HTTP/1.1 server on 127.0.0.1 that replays ARM answers from tests/fixtures/azure-arm/.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/azure-arm")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One canned answer; `fail_first` answers go out before it, once each, in order.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub file: &'static str,
    pub fail_first: Vec<(u16, &'static str, Option<&'static str>)>,
}

pub fn ok(file: &'static str) -> Answer {
    Answer {
        status: 200,
        file,
        fail_first: Vec::new(),
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub target: String,
    pub authorization: String,
}

/// A small HTTP/1.1 server on 127.0.0.1 that answers GETs from a route table.
pub struct Replay {
    pub base: String,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    /// Answers given per target, for `fail_first`.
    hits: Mutex<HashMap<String, usize>>,
    /// Requests being answered now, and the most at once.
    in_flight: Mutex<(usize, usize)>,
    /// How long each answer waits, so that overlapping requests would show.
    delay: Duration,
}

impl Replay {
    pub fn start(routes: HashMap<String, Answer>) -> Replay {
        Replay::start_with_delay(routes, Duration::ZERO)
    }

    pub fn start_with_delay(routes: HashMap<String, Answer>, delay: Duration) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            delay,
            ..State::default()
        });
        let routes = Arc::new(routes);
        let (b, st) = (base.clone(), state.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, b, st) = (routes.clone(), b.clone(), st.clone());
                std::thread::spawn(move || serve(stream, &routes, &b, &st));
            }
        });
        Replay { base, state }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Answer>, base: &str, state: &State) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    {
        let mut f = state.in_flight.lock().unwrap();
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut authorization = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = value.trim().to_string();
            }
        }
    }
    state.seen.lock().unwrap().push(Seen {
        target: target.clone(),
        authorization,
    });
    let (status, body, retry_after) = match routes.get(&target) {
        Some(answer) => {
            let n = {
                let mut h = state.hits.lock().unwrap();
                let n = h.entry(target.clone()).or_default();
                *n += 1;
                *n
            };
            match answer.fail_first.get(n - 1) {
                Some((status, file, retry)) => (*status, fixture(file), *retry),
                None => (answer.status, fixture(answer.file), None),
            }
        }
        None => (
            404,
            format!(r#"{{"error":{{"code":"NotInReplay","message":"no replay for {target}"}}}}"#),
            None,
        ),
    };
    std::thread::sleep(state.delay);
    let body = body.replace("{{BASE}}", base);
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(r) = retry_after {
        head.push_str(&format!("retry-after: {r}\r\n"));
    }
    head.push_str("\r\n");
    // Done before writing: once the client has the answer, it may send its next request.
    state.in_flight.lock().unwrap().0 -= 1;
    let mut out = stream;
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body.as_bytes());
}
