//! The server a client dials, as a URL: `tcp://HOST:PORT` (or a bare `HOST:PORT`),
//! `tls://HOST:PORT`, `ws://HOST:PORT[/PATH]`, `wss://HOST:PORT[/PATH]`, and for
//! `reverb bench` only `http://HOST:PORT[/PATH]`, `https://…`. Shared by `reverb bench`
//! and `reverb client`.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// The protocol stack a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket over TCP.
    Ws,
    /// WebSocket inside TLS.
    Wss,
    /// HTTP/1.1 over TCP (`reverb bench` only).
    Http,
    /// HTTP/1.1 inside TLS (`reverb bench` only).
    Https,
}

impl Scheme {
    /// Whether the stack has TLS in it.
    pub fn tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss | Scheme::Https)
    }

    /// Whether the stack has HTTP in it.
    pub fn http(self) -> bool {
        matches!(self, Scheme::Http | Scheme::Https)
    }

    /// Whether the stack has WebSocket in it.
    pub fn websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    /// The URL scheme.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A server to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The protocol stack.
    pub scheme: Scheme,
    /// `HOST:PORT` as given.
    pub host_port: String,
    /// The host without brackets: TLS's server name.
    pub host: String,
    /// The WebSocket or HTTP request's path and query (`/` when none was given).
    pub path: String,
    /// Whether the URL named its scheme (a bare `HOST:PORT` did not).
    explicit: bool,
}

impl Target {
    /// Parses a URL; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Target, String> {
        let (scheme, rest, explicit) = match text.split_once("://") {
            Some(("tcp", rest)) => (Scheme::Tcp, rest, true),
            Some(("tls", rest)) => (Scheme::Tls, rest, true),
            Some(("ws", rest)) => (Scheme::Ws, rest, true),
            Some(("wss", rest)) => (Scheme::Wss, rest, true),
            Some(("http", rest)) => (Scheme::Http, rest, true),
            Some(("https", rest)) => (Scheme::Https, rest, true),
            Some((other, _)) => {
                return Err(format!(
                    "{text:?}: unknown scheme {other:?} (use tcp://, tls://, ws://, wss://, \
                     http://, https:// or HOST:PORT)"
                ))
            }
            None => (Scheme::Tcp, text, false),
        };
        let (host_port, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if !scheme.websocket() && !scheme.http() && !path.is_empty() && path != "/" {
            return Err(format!(
                "{text:?}: a path is for ws://, wss://, http:// and https:// only, not {}://",
                scheme.name()
            ));
        }
        let host = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            _ => return Err(format!("{text:?}: give HOST:PORT (e.g. 127.0.0.1:7007)")),
        };
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(Target {
            scheme,
            host_port: host_port.to_owned(),
            host,
            path,
            explicit,
        })
    }

    /// The addresses the host resolves to.
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.host_port.to_socket_addrs()?.collect())
    }

    /// The URL of the WebSocket request (`ws://HOST:PORT/PATH`): its `Host` header and
    /// path. The same for `wss://`, whose TLS is below the request.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.host_port, self.path)
    }
}

impl fmt::Display for Target {
    /// The URL as the user gave it, normalised: a bare `HOST:PORT` stays bare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.explicit {
            return f.write_str(&self.host_port);
        }
        write!(f, "{}://{}", self.scheme.name(), self.host_port)?;
        if self.scheme.websocket() && self.path != "/" {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_and_its_parts() {
        let t = Target::parse("tls://localhost:7443").unwrap();
        assert_eq!(t.scheme, Scheme::Tls);
        assert_eq!(
            (t.host.as_str(), t.host_port.as_str()),
            ("localhost", "localhost:7443")
        );
        let t = Target::parse("[::1]:7007").unwrap();
        assert_eq!(t.scheme, Scheme::Tcp);
        assert_eq!(t.host, "::1");
        assert_eq!(t.to_string(), "[::1]:7007");
        let t = Target::parse("wss://127.0.0.1:7444/echo?x=1").unwrap();
        assert_eq!(t.scheme, Scheme::Wss);
        assert_eq!(t.path, "/echo?x=1");
        assert_eq!(t.ws_url(), "ws://127.0.0.1:7444/echo?x=1");
        assert_eq!(t.to_string(), "wss://127.0.0.1:7444/echo?x=1");
        let t = Target::parse("ws://127.0.0.1:7080").unwrap();
        assert_eq!(
            (t.path.as_str(), t.to_string()),
            ("/", "ws://127.0.0.1:7080".into())
        );
        assert_eq!(
            Target::parse("tcp://h:1/").unwrap().to_string(),
            "tcp://h:1"
        );
        let t = Target::parse("https://localhost:8443/post").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert!(t.scheme.tls() && t.scheme.http() && !t.scheme.websocket());
        assert_eq!(t.path, "/post");
    }

    #[test]
    fn bad_urls_say_why() {
        for (bad, why) in [
            ("gopher://x:1", "unknown scheme"),
            ("tcp://nohostport", "HOST:PORT"),
            ("tls://x:port", "HOST:PORT"),
            ("tcp://x:1/path", "a path is for ws://"),
            (":7007", "HOST:PORT"),
        ] {
            let error = Target::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
