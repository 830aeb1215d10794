//! The client's IP address, which anonymous callers are counted by.
//!
//! `X-Forwarded-For` is written by whoever sent the request, so it is only
//! believed when the peer is a proxy listed in `TRUSTED_PROXIES`; then the
//! header is read right to left, skipping further trusted proxies, and the
//! first untrusted address is the client. Anything else would let an
//! attacker pick a fresh "IP" for every request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::HeaderMap;

pub use crate::net::{Network, canonical, parse_network};

/// The address the limiter counts an anonymous caller by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// How counters name this client: an IPv4 address whole, an IPv6
    /// address by its network of `ipv6_prefix` bits (`2001:db8:1:2::/64`),
    /// since one subscriber is handed a whole /64 and could otherwise pick a
    /// fresh address, and so a fresh budget, for every request.
    #[must_use]
    pub fn counted_as(&self, ipv6_prefix: u8) -> String {
        match canonical(self.0) {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let prefix = ipv6_prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                let network = std::net::Ipv6Addr::from(u128::from(v6) & mask);
                format!("{network}/{prefix}")
            }
        }
    }
}

/// Work out the client from the TCP peer (absent in in-process tests, then
/// loopback) and, behind trusted proxies, `X-Forwarded-For`.
#[must_use]
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[Network]) -> ClientIp {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |peer| canonical(peer.ip()));
    let is_trusted = |ip: IpAddr| trusted.iter().any(|network| network.contains(ip));
    if !is_trusted(peer) {
        return ClientIp(peer);
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A garbled entry: stop at the last address we could vouch for.
            break;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            break;
        }
    }
    ClientIp(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().expect("header value"));
        headers
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().expect("ip"), 4000))
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted = [parse_network("10.0.0.0/8").expect("network")];
        let ip = client_ip(peer("203.0.113.9"), &headers("1.2.3.4"), &trusted);
        assert_eq!(ip.0.to_string(), "203.0.113.9");
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_is_the_client() {
        let trusted = [
            parse_network("10.0.0.0/8").expect("network"),
            parse_network("192.168.1.7").expect("network"),
        ];
        let forwarded = headers("6.6.6.6, 198.51.100.4, 192.168.1.7");
        let ip = client_ip(peer("10.1.2.3"), &forwarded, &trusted);
        assert_eq!(ip.0.to_string(), "198.51.100.4");
    }

    #[test]
    fn missing_peer_is_loopback_and_mapped_addresses_are_ipv4() {
        assert_eq!(
            client_ip(None, &HeaderMap::new(), &[]).0.to_string(),
            "127.0.0.1"
        );
        let ip = client_ip(peer("::ffff:198.51.100.4"), &HeaderMap::new(), &[]);
        assert_eq!(ip.0.to_string(), "198.51.100.4");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let one = ClientIp("2001:db8:1:2::1".parse().expect("ip"));
        let same_network = ClientIp("2001:db8:1:2:ffff:1:2:3".parse().expect("ip"));
        let other = ClientIp("2001:db8:1:3::1".parse().expect("ip"));
        assert_eq!(one.counted_as(64), "2001:db8:1:2::/64");
        assert_eq!(one.counted_as(64), same_network.counted_as(64));
        assert_ne!(one.counted_as(64), other.counted_as(64));
        assert_eq!(one.counted_as(128), "2001:db8:1:2::1/128");
        let v4 = ClientIp("198.51.100.4".parse().expect("ip"));
        assert_eq!(v4.counted_as(64), "198.51.100.4");
    }

    #[test]
    fn bad_networks_are_refused() {
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("not-an-ip").is_err());
        assert!(
            parse_network("::/0")
                .expect("all of v6")
                .contains("2001:db8::1".parse().expect("ip"))
        );
    }
}
