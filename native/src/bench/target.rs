//! The server a client dials, as a URL: `tcp://HOST:PORT` (or a bare `HOST:PORT`),
//! `tls://HOST:PORT`, `ws://HOST:PORT[/PATH]`, `wss://HOST:PORT[/PATH]`, and for
//! `reverb bench` only `http://HOST:PORT[/PATH]`, `https://…`. Shared by `reverb bench`
//! and `reverb client`.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// The protocol stack a URL names: the listeners' own.
pub use crate::listen::Scheme;

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
        let (scheme, rest) = Scheme::split(text)?;
        let (scheme, explicit) = (scheme.unwrap_or(Scheme::Tcp), scheme.is_some());
        let (host_port, path) = match rest.find(['/', '?']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if !scheme.is_ws() && !scheme.is_http() && !path.is_empty() && path != "/" {
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
        if self.scheme.is_ws() && self.path != "/" {
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
        assert!(t.scheme.is_tls() && t.scheme.is_http() && !t.scheme.is_ws());
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
