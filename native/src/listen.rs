//! Listener URLs: `-l tcp://127.0.0.1:7007`, `-l tls://[::1]:7443?mode=raw`,
//! `-l ws://127.0.0.1:7080/echo`, `-l wss://127.0.0.1:7444`, `-l http://127.0.0.1:8080`,
//! `-l https://127.0.0.1:8443?format=json`, or a bare `HOST:PORT` for TCP. The scheme
//! chooses the stack of layers every connection of that listener gets; a WebSocket
//! listener's path is the one it answers on; the query sets that listener's own echo
//! options, an HTTP listener's answer format, and whether connections start with a PROXY
//! protocol header (`?proxy=1`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::units::parse_escaped;

/// The protocols a listener speaks, and a `reverb bench` or `reverb client` URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP: the echo over the stream.
    Tcp,
    /// TLS over TCP: the echo inside a TLS session.
    Tls,
    /// WebSocket over TCP: each message echoed as a message.
    Ws,
    /// WebSocket inside TLS.
    Wss,
    /// HTTP/1.1: each request answered with itself.
    Http,
    /// HTTP inside TLS.
    Https,
}

impl Scheme {
    /// Every scheme, in the order error messages list them.
    pub const ALL: [Scheme; 6] = [
        Scheme::Tcp,
        Scheme::Tls,
        Scheme::Ws,
        Scheme::Wss,
        Scheme::Http,
        Scheme::Https,
    ];

    /// Splits `SCHEME://REST` into its scheme and the rest; a bare `HOST:PORT` is TCP
    /// (`None` for the scheme). The error names an unknown scheme and lists the known.
    pub fn split(text: &str) -> Result<(Option<Scheme>, &str), String> {
        let Some((name, rest)) = text.split_once("://") else {
            return Ok((None, text));
        };
        match Scheme::ALL.into_iter().find(|s| s.name() == name) {
            Some(scheme) => Ok((Some(scheme), rest)),
            None => Err(format!(
                "{text:?}: unknown scheme {name:?} (use tcp://, tls://, ws://, wss://, \
                 http://, https:// or HOST:PORT)"
            )),
        }
    }

    /// The URL scheme.
    pub const fn name(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Whether connections of this listener speak TLS (`tls://`, `wss://`, `https://`).
    pub const fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss | Scheme::Https)
    }

    /// Whether connections of this listener are answered by the HTTP echo (`http://` and
    /// `https://`) rather than the echo.
    pub const fn is_http(self) -> bool {
        matches!(self, Scheme::Http | Scheme::Https)
    }

    /// Whether connections of this listener speak WebSocket (`ws://` and `wss://`).
    pub const fn is_ws(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One listener's own echo options, from its URL's query; unset ones follow the command
/// line's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenOptions {
    /// `?mode=raw|line|collect`.
    pub mode: Option<String>,
    /// `?prefix=TEXT` (escapes as for `--prefix`).
    pub prefix: Option<Vec<u8>>,
    /// `?suffix=TEXT`.
    pub suffix: Option<Vec<u8>>,
    /// `ws://HOST:PORT/PATH`: the only path a WebSocket listener answers on.
    pub path: Option<String>,
    /// `?proxy=1` (or `0`): whether connections start with a PROXY protocol header.
    pub proxy: Option<bool>,
    /// `?format=raw|json`: an HTTP listener's answers.
    pub format: Option<String>,
}

/// A parsed `-l` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenUrl {
    /// The protocol.
    pub scheme: Scheme,
    /// Where to listen (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Its own echo options.
    pub options: ListenOptions,
}

impl FromStr for ListenUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (scheme, rest) = Scheme::split(text)?;
        let scheme = scheme.unwrap_or(Scheme::Tcp);
        let (addr, query) = match rest.split_once('?') {
            Some((addr, query)) => (addr, Some(query)),
            None => (rest, None),
        };
        // The address ends at the first `/` after its port (an IPv6 address has none).
        let (addr, path) = match addr.find('/') {
            Some(slash) => addr.split_at(slash),
            None => (addr, ""),
        };
        let addr: SocketAddr = addr.parse().map_err(|_| {
            format!("{text:?}: {addr:?} is not HOST:PORT (e.g. 127.0.0.1:7007, [::1]:7443)")
        })?;
        let mut options = ListenOptions::default();
        // A bare `/` is no path, for every scheme.
        if path.len() > 1 {
            if !scheme.is_ws() {
                return Err(format!(
                    "{text:?}: a path is for ws:// and wss:// listeners ({scheme}:// has none)"
                ));
            }
            options.path = Some(path.to_owned());
        }
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "mode" => options.mode = Some(value.to_owned()),
                "prefix" => options.prefix = Some(parse_escaped(value)?),
                "suffix" => options.suffix = Some(parse_escaped(value)?),
                "proxy" => {
                    options.proxy = Some(parse_switch(value).map_err(|e| format!("{text:?}: {e}"))?)
                }
                "format" if scheme.is_http() => options.format = Some(value.to_owned()),
                "format" => {
                    return Err(format!(
                        "{text:?}: format is for http:// and https:// listeners"
                    ))
                }
                other => {
                    return Err(format!(
                        "{text:?}: unknown listener option {other:?} (use mode, prefix, suffix, \
                         proxy, format)"
                    ))
                }
            }
        }
        Ok(ListenUrl {
            scheme,
            addr,
            options,
        })
    }
}

/// `?proxy=`'s value: on (`1`, `true`, `on`, `yes`, or nothing) or off (`0`, `false`,
/// `off`, `no`).
fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "" | "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        other => Err(format!("proxy={other:?}: use proxy=1 or proxy=0")),
    }
}

impl fmt::Display for ListenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> ListenUrl {
        text.parse().unwrap()
    }

    #[test]
    fn a_bare_address_is_tcp_and_a_scheme_chooses_the_protocol() {
        assert_eq!(url("127.0.0.1:7007").scheme, Scheme::Tcp);
        assert_eq!(url("tcp://127.0.0.1:7007").scheme, Scheme::Tcp);
        let tls = url("tls://[::1]:7443/");
        assert_eq!((tls.scheme, tls.addr.port()), (Scheme::Tls, 7443));
        assert_eq!(tls.to_string(), "tls://[::1]:7443");
        let ws = url("ws://127.0.0.1:7080");
        assert!(ws.scheme.is_ws() && !ws.scheme.is_tls());
        let wss = url("wss://127.0.0.1:7444?mode=raw");
        assert!(wss.scheme.is_ws() && wss.scheme.is_tls());
        assert_eq!(wss.to_string(), "wss://127.0.0.1:7444");
    }

    #[test]
    fn the_query_sets_the_listeners_own_echo_options() {
        let u = url("tls://127.0.0.1:0?mode=raw&prefix=%3E\\x20&suffix=!");
        assert_eq!(u.options.mode.as_deref(), Some("raw"));
        assert_eq!(u.options.prefix.as_deref(), Some(&b"%3E "[..]));
        assert_eq!(u.options.suffix.as_deref(), Some(&b"!"[..]));
    }

    #[test]
    fn a_websocket_listeners_path_is_the_one_it_answers_on() {
        let u = url("ws://127.0.0.1:7080/echo?mode=raw");
        assert_eq!(u.options.path.as_deref(), Some("/echo"));
        assert_eq!(u.options.mode.as_deref(), Some("raw"));
        assert_eq!(u.addr.port(), 7080);
        assert_eq!(
            url("wss://[::1]:7444/a/b").options.path.as_deref(),
            Some("/a/b")
        );
        assert_eq!(url("ws://127.0.0.1:7080/").options.path, None);
        let err = "tcp://127.0.0.1:1/echo".parse::<ListenUrl>().unwrap_err();
        assert!(err.contains("a path is for ws:// and wss://"), "{err}");
    }

    #[test]
    fn mistakes_are_named() {
        let err = "udp://127.0.0.1:80".parse::<ListenUrl>().unwrap_err();
        assert!(err.contains("unknown scheme \"udp\""), "{err}");
        let err = "tls://localhost:7443".parse::<ListenUrl>().unwrap_err();
        assert!(err.contains("is not HOST:PORT"), "{err}");
        let err = "tcp://127.0.0.1:1?colour=red"
            .parse::<ListenUrl>()
            .unwrap_err();
        assert!(err.contains("unknown listener option \"colour\""), "{err}");
        let err = "tcp://127.0.0.1:1?format=json"
            .parse::<ListenUrl>()
            .unwrap_err();
        assert!(err.contains("format is for http://"), "{err}");
        let err = "tcp://127.0.0.1:1?proxy=maybe"
            .parse::<ListenUrl>()
            .unwrap_err();
        assert!(err.contains("use proxy=1 or proxy=0"), "{err}");
    }

    #[test]
    fn http_listeners_and_the_proxy_protocol_are_chosen_per_listener() {
        let u = url("https://127.0.0.1:8443?format=json&proxy=1");
        assert!(u.scheme.is_http() && u.scheme.is_tls());
        assert_eq!(u.options.format.as_deref(), Some("json"));
        assert_eq!(u.options.proxy, Some(true));
        assert_eq!(u.to_string(), "https://127.0.0.1:8443");
        let plain = url("http://[::1]:8080/");
        assert!(plain.scheme.is_http() && !plain.scheme.is_tls());
        assert_eq!(url("tls://127.0.0.1:1?proxy=0").options.proxy, Some(false));
        assert_eq!(url("ws://127.0.0.1:1?proxy").options.proxy, Some(true));
        assert_eq!(url("127.0.0.1:1").options.proxy, None);
    }
}
