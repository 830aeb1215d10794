//! Which webhook URLs may be called: against server-side request forgery,
//! an endpoint must be `https` (or `http` with `WEBHOOK_ALLOW_HTTP`) and
//! resolve only to public addresses (unless `WEBHOOK_ALLOW_PRIVATE`).
//! Checked when an endpoint is saved, and again at each delivery by the
//! sender's resolver, since what a name resolves to can change.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::config::WebhookConfig;

/// Addresses no webhook may reach: loopback, private, shared (CGNAT),
/// link-local (cloud metadata lives at 169.254.169.254 and in fd00::/8),
/// unspecified, multicast, broadcast and reserved ranges.
#[must_use]
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => is_forbidden_v6(ip),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, high, low] = segments;
        let v4 = Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
        return is_forbidden_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
}

/// Parse `text` and check its scheme and, if it names an address, the
/// address. Names are checked by [`check`] and by the sender's resolver.
pub fn parse(text: &str, config: &WebhookConfig) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|error| format!("not a URL: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if config.allow_http => {}
        "http" => return Err("must use https (WEBHOOK_ALLOW_HTTP is off)".to_owned()),
        _ => return Err("must be an https URL".to_owned()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials".to_owned());
    }
    let literal = match url.host() {
        None => return Err("has no host".to_owned()),
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
    };
    if let Some(ip) = literal
        && !config.allow_private
        && is_forbidden(ip)
    {
        return Err("points at a private or reserved address".to_owned());
    }
    Ok(url)
}

/// [`parse`], then resolve the host and refuse it when any of its
/// addresses is forbidden (or it does not resolve).
pub async fn check(text: &str, config: &WebhookConfig) -> Result<Url, String> {
    let url = parse(text, config)?;
    if config.allow_private {
        return Ok(url);
    }
    if let Some(Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<_> = tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| format!("`{name}` does not resolve"))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("`{name}` does not resolve"));
        }
        if addresses.iter().any(|address| is_forbidden(address.ip())) {
            return Err(format!(
                "`{name}` resolves to a private or reserved address"
            ));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> WebhookConfig {
        crate::config::Config::defaults().webhooks
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(
                is_forbidden(ip.parse().expect("an address")),
                "{ip} should be forbidden"
            );
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(
                !is_forbidden(ip.parse().expect("an address")),
                "{ip} should be allowed"
            );
        }
    }

    #[test]
    fn only_https_urls_to_public_addresses_pass_by_default() {
        let config = strict();
        assert!(parse("https://93.184.216.34/hook", &config).is_ok());
        assert!(parse("http://93.184.216.34/hook", &config).is_err());
        assert!(parse("ftp://example.com/", &config).is_err());
        assert!(parse("https://127.0.0.1/hook", &config).is_err());
        assert!(parse("https://[::1]/hook", &config).is_err());
        assert!(parse("https://user:pw@example.com/", &config).is_err());
        let relaxed = WebhookConfig {
            allow_http: true,
            allow_private: true,
            ..config
        };
        assert!(parse("http://127.0.0.1:8080/hook", &relaxed).is_ok());
    }
}
