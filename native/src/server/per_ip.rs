//! `--max-connections-per-ip`: how many connections one client address may hold open at
//! once, across every event loop (HAProxy's `conn_cur` stick counters and nginx's
//! `limit_conn` are the models). Without it one client could take every slot of
//! `--max-connections` and shut everyone else out.
//!
//! The counts are shared by the workers behind one mutex, taken once when a connection
//! is accepted and once when it is released — never per byte — and only for addresses
//! the limit applies to. The map holds only addresses with a connection open, so it is
//! bounded by `--max-connections` whatever the clients do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The limit for network clients when `--max-connections-per-ip` is not given: a
/// hundred times the 10 connections a busy browser opens, twenty times the 50 of a
/// `reverb bench` run, and a tenth of the default `--max-connections`, so that no single
/// address can take more than a tenth of the server.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 1000;

/// Connections open per client address, and the limit on them.
#[derive(Debug)]
pub(crate) struct PerIp {
    /// The limit given on the command line; `None` is the default, which spares
    /// loopback clients (see [`PerIp::limit_for`]).
    explicit: Option<usize>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    pub(crate) fn new(explicit: Option<usize>) -> Self {
        PerIp {
            explicit,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The limit for a client at `ip`. By default loopback clients have none: they run
    /// on this machine, where they could exhaust it in many other ways, and a C10K test
    /// from one host must be able to open 10,000 connections. A limit given on the
    /// command line applies to every client.
    pub(crate) fn limit_for(&self, ip: IpAddr) -> Option<usize> {
        match self.explicit {
            Some(limit) => Some(limit),
            None if ip.to_canonical().is_loopback() => None,
            None => Some(DEFAULT_MAX_CONNECTIONS_PER_IP),
        }
    }

    /// Counts a new connection from `ip`: `Ok(true)` if it was counted (release it with
    /// [`close`](Self::close)), `Ok(false)` if no limit applies to it, `Err(limit)` if
    /// `ip` already holds `limit` connections.
    pub(crate) fn open(&self, ip: IpAddr) -> Result<bool, usize> {
        let Some(limit) = self.limit_for(ip) else {
            return Ok(false);
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip.to_canonical()).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                open.remove(&ip.to_canonical());
            }
            return Err(limit);
        }
        *count += 1;
        Ok(true)
    }

    /// Forgets a connection [`open`](Self::open) counted.
    pub(crate) fn close(&self, ip: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let key = ip.to_canonical();
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_at_its_limit_is_refused_until_one_closes() {
        let per_ip = PerIp::new(Some(2));
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(per_ip.open(a), Ok(true));
        assert_eq!(per_ip.open(a), Ok(true));
        assert_eq!(per_ip.open(a), Err(2));
        assert_eq!(
            per_ip.open(b),
            Ok(true),
            "another address has its own count"
        );
        per_ip.close(a);
        assert_eq!(per_ip.open(a), Ok(true));
        per_ip.close(a);
        per_ip.close(a);
        per_ip.close(b);
        assert!(per_ip.open.lock().unwrap().is_empty(), "no address kept");
    }

    #[test]
    fn by_default_loopback_clients_are_spared_and_others_limited() {
        let per_ip = PerIp::new(None);
        assert_eq!(per_ip.limit_for("127.0.0.1".parse().unwrap()), None);
        assert_eq!(per_ip.limit_for("::1".parse().unwrap()), None);
        assert_eq!(
            per_ip.limit_for("::ffff:127.0.0.1".parse().unwrap()),
            None,
            "an IPv4-mapped loopback address is loopback"
        );
        assert_eq!(
            per_ip.limit_for("192.0.2.7".parse().unwrap()),
            Some(DEFAULT_MAX_CONNECTIONS_PER_IP)
        );
        let explicit = PerIp::new(Some(5));
        assert_eq!(explicit.limit_for("127.0.0.1".parse().unwrap()), Some(5));
    }
}
