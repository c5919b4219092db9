//! A real SMTP server (mailin-embedded) in the test process, keeping every message it
//! receives, and the messages read back with a real MIME parser (mail-parser).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use mailin_embedded::{response, Handler, Response, Server, SslConfig};

/// One message as received over SMTP.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The link to follow (the first URL to this server's `/verify`).
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("/verify?"))
            .expect("a link in the message")
            .to_owned()
    }

    /// The 6-digit code.
    pub fn code(&self) -> String {
        let at = self.text.find("code: ").expect("a code in the message") + 6;
        self.text[at..at + 6].to_owned()
    }
}

#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<Mail>>>,
    to: Vec<String>,
    data: Vec<u8>,
    /// With credentials, only an authenticated client may send.
    credentials: Option<(String, String)>,
    authenticated: bool,
}

impl Handler for Collector {
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => {
                self.authenticated = true;
                response::AUTH_OK
            }
            _ => response::INVALID_CREDENTIALS,
        }
    }

    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        if self.credentials.is_some() && !self.authenticated {
            return response::AUTHENTICATION_REQUIRED;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let parsed = mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a MIME message");
        let mail = Mail {
            to: self.to.clone(),
            subject: parsed.subject().unwrap_or_default().to_owned(),
            text: parsed
                .body_text(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
            html: parsed
                .body_html(0)
                .map(|t| t.into_owned())
                .unwrap_or_default(),
        };
        self.received.lock().unwrap().push(mail);
        response::OK
    }
}

/// The server; it runs until the test process ends.
pub struct Smtp {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Smtp {
    /// A plain SMTP server (no TLS, no authentication).
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// An SMTP server with STARTTLS (a self-signed certificate for 127.0.0.1, written to
    /// `dir/cert.pem`) that demands `AUTH PLAIN` with `user` and `password`.
    pub fn start_tls(dir: &std::path::Path, user: &str, password: &str) -> Self {
        Self::start_with(Some((dir, user, password)))
    }

    fn start_with(tls: Option<(&std::path::Path, &str, &str)>) -> Self {
        // Two TLS backends are linked into the tests (this server's and ours): pick one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut collector = Collector::default();
        let received = collector.received.clone();
        let ssl = match tls {
            None => SslConfig::None,
            Some((dir, user, password)) => {
                let cert =
                    rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
                let cert_path = dir.join("cert.pem");
                let key_path = dir.join("key.pem");
                std::fs::write(&cert_path, cert.cert.pem()).unwrap();
                std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
                collector.credentials = Some((user.to_owned(), password.to_owned()));
                SslConfig::SelfSigned {
                    cert_path: cert_path.to_string_lossy().into_owned(),
                    key_path: key_path.to_string_lossy().into_owned(),
                }
            }
        };
        let with_auth = collector.credentials.is_some();
        let mut server = Server::new(collector);
        server
            .with_name("smtp.test")
            .with_ssl(ssl)
            .unwrap()
            .with_num_threads(2)
            .with_tcp_listener(listener);
        if with_auth {
            server.with_auth(mailin_embedded::AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, received }
    }

    /// Every message received so far.
    pub fn all(&self) -> Vec<Mail> {
        self.received.lock().unwrap().clone()
    }

    /// Messages to `to` received so far.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits (up to 10 s) until `n` messages to `to` have arrived; returns the newest.
    pub async fn wait(&self, to: &str, n: usize) -> Mail {
        for _ in 0..200 {
            let got = self.to(to);
            if got.len() >= n {
                return got[n - 1].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no message #{n} to {to}; got {:?}", self.all());
    }
}
