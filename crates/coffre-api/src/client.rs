//! Who is calling, for per-address limits: the peer, or — when the peer is a
//! reverse proxy the operator declared — the client it forwarded for.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::{ApiError, AppState};

/// The client's address as far as it can be trusted.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Without connection info (never under `serve`), everyone shares one
        // unspecified address: limits stay on, if coarse.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(ClientAddr(client_ip(
            &state.config.trusted_proxies,
            peer,
            &parts.headers,
        )))
    }
}

/// The peer, unless it is a trusted proxy: then the right-most address of
/// `X-Forwarded-For` that is not itself a trusted proxy (addresses further
/// left were written by the client and prove nothing).
pub fn client_ip(trusted: &[IpAddr], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    // `::ffff:127.0.0.1` (a proxy seen on an IPv6 listener) is 127.0.0.1.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    // Only the right-most hops are looked at (the proxies' own entries are
    // there; the client controls everything to their left).
    for hop in forwarded.iter().rev().take(16) {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            // Garbage where an address should be: stop trusting the header.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = [proxy, "10.0.0.2".parse().unwrap()];
        // From the proxy: the address it saw.
        assert_eq!(
            client_ip(&trusted, proxy, &headers(&["203.0.113.9"])),
            client
        );
        // A spoofed left part is ignored; the proxy's own entry is used.
        assert_eq!(
            client_ip(&trusted, proxy, &headers(&["1.2.3.4, 203.0.113.9"])),
            client
        );
        // Two trusted hops.
        assert_eq!(
            client_ip(&trusted, proxy, &headers(&["203.0.113.9", "10.0.0.2"])),
            client
        );
        // From anyone else: the header is not believed.
        assert_eq!(client_ip(&trusted, client, &headers(&["1.2.3.4"])), client);
        // No header, or garbage: the proxy itself.
        assert_eq!(client_ip(&trusted, proxy, &headers(&[])), proxy);
        assert_eq!(client_ip(&trusted, proxy, &headers(&["nonsense"])), proxy);
        // A client padding the header cannot push the proxy's entry out.
        let mut padded: Vec<String> = (0..100).map(|i| format!("10.9.0.{}", i % 250)).collect();
        padded.push("203.0.113.9".into());
        assert_eq!(
            client_ip(&trusted, proxy, &headers(&[&padded.join(", ")])),
            client
        );
        // The proxy seen through an IPv6 listener.
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(&trusted, mapped, &headers(&["203.0.113.9"])),
            client
        );
        // Nothing trusted: the peer, always.
        assert_eq!(client_ip(&[], proxy, &headers(&["203.0.113.9"])), proxy);
    }
}
