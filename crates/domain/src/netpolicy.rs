//! The operator's network policy: which addresses probes and deliveries may reach.
//!
//! Pure classification of IP addresses. The connectors in `crates/net` apply it to every
//! resolved address at connect time and to every redirect hop; the API applies it to literal
//! IPs in URLs so a blocked one is a 422 before anything is stored.
//!
//! Rules, in order (the first that decides wins):
//! 1. The operator's lists (`PROBE_ALLOWED_NETWORKS`, `PROBE_BLOCKED_NETWORKS`): the most
//!    specific network containing the address decides; a tie is blocked.
//! 2. Cloud metadata addresses and link-local ranges (169.254.0.0/16, fe80::/10) are refused.
//! 3. With `allow_private` false, loopback, RFC 1918, shared address space (100.64.0.0/10,
//!    RFC 6598), unique local (fc00::/7), unspecified, multicast and broadcast are refused.
//!
//! IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) and NAT64 well-known-prefix
//! (`64:ff9b::/96`, RFC 6052) IPv6 forms are judged as the IPv4 address they carry, so
//! `[::ffff:169.254.169.254]` is as blocked as `169.254.169.254`.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, as named in the check's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// In `PROBE_BLOCKED_NETWORKS`.
    BlockedNetwork,
    /// A cloud provider's instance metadata service.
    CloudMetadata,
    /// 169.254.0.0/16 or fe80::/10.
    LinkLocal,
    /// 127.0.0.0/8 or ::1.
    Loopback,
    /// RFC 1918: 10/8, 172.16/12, 192.168/16.
    Private,
    /// 100.64.0.0/10 (RFC 6598, carrier-grade NAT).
    SharedAddressSpace,
    /// fc00::/7.
    UniqueLocal,
    /// 0.0.0.0/8 or ::.
    Unspecified,
    /// 224.0.0.0/4 or ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
}

impl BlockReason {
    /// The reason's name in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BlockedNetwork => "blocked network",
            Self::CloudMetadata => "cloud metadata",
            Self::LinkLocal => "link-local",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared address space",
            Self::UniqueLocal => "unique local",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
        }
    }
}

/// A refused address: displays as `blocked address 169.254.169.254 (link-local)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("blocked address {addr} ({})", reason.as_str())]
pub struct Blocked {
    /// The address as it was given (not unmapped).
    pub addr: IpAddr,
    /// Why.
    pub reason: BlockReason,
}

/// Cloud instance metadata endpoints, refused whatever `allow_private` says: AWS/GCP/Azure/
/// Oracle/DigitalOcean IMDS, AWS ECS task metadata and EKS Pod Identity, AWS's IPv6 IMDS, and
/// Alibaba Cloud's.
pub const METADATA_ADDRESSES: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

/// Which destination addresses outbound probes and deliveries may connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// `PROBE_ALLOW_PRIVATE` (default true): loopback, private, shared, unique-local,
    /// unspecified, multicast and broadcast addresses are allowed.
    pub allow_private: bool,
    /// `PROBE_ALLOWED_NETWORKS`: always allowed (unless a more specific blocked network holds the address).
    pub allowed: Vec<IpNet>,
    /// `PROBE_BLOCKED_NETWORKS`: always refused (unless a more specific allowed network holds the address).
    pub blocked: Vec<IpNet>,
}

impl Default for NetworkPolicy {
    /// Private networks allowed, link-local and metadata refused, no lists.
    fn default() -> Self {
        Self { allow_private: true, allowed: Vec::new(), blocked: Vec::new() }
    }
}

impl NetworkPolicy {
    /// Whether `addr` may be connected to.
    ///
    /// # Errors
    /// [`Blocked`] with the rule that refused it.
    pub fn check(&self, addr: IpAddr) -> Result<(), Blocked> {
        match self.verdict(addr) {
            None => Ok(()),
            Some(reason) => Err(Blocked { addr, reason }),
        }
    }

    /// Judges a URL host as the API sees it: a literal IP is checked; `localhost` and names
    /// under `.localhost` (RFC 6761 §6.3) are judged as 127.0.0.1; other names are judged only
    /// at connect time, on the addresses they resolve to.
    ///
    /// # Errors
    /// [`Blocked`] for a refused literal address or a loopback name when loopback is refused.
    pub fn check_host(&self, host: &url::Host<&str>) -> Result<(), Blocked> {
        match host {
            url::Host::Ipv4(a) => self.check(IpAddr::V4(*a)),
            url::Host::Ipv6(a) => self.check(IpAddr::V6(*a)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") {
                    self.check(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn verdict(&self, addr: IpAddr) -> Option<BlockReason> {
        let unmapped = unmap(addr);
        if let Some(decided) = self.listed(addr, unmapped) {
            return decided;
        }
        if METADATA_ADDRESSES.contains(&addr) || METADATA_ADDRESSES.contains(&unmapped) {
            return Some(BlockReason::CloudMetadata);
        }
        let class = classify(unmapped)?;
        if class == BlockReason::LinkLocal || !self.allow_private {
            return Some(class);
        }
        None
    }

    /// The operator lists' verdict: `Some(None)` allowed, `Some(Some(_))` blocked, `None` not listed.
    fn listed(&self, addr: IpAddr, unmapped: IpAddr) -> Option<Option<BlockReason>> {
        let longest = |nets: &[IpNet]| {
            nets.iter().filter(|n| n.contains(&addr) || n.contains(&unmapped)).map(IpNet::prefix_len).max()
        };
        match (longest(&self.allowed), longest(&self.blocked)) {
            (None, None) => None,
            (Some(a), Some(b)) if a > b => Some(None),
            (Some(_), None) => Some(None),
            _ => Some(Some(BlockReason::BlockedNetwork)),
        }
    }
}

/// The IPv4 address an IPv6 address carries (mapped, compatible or NAT64), else `addr`.
pub fn unmap(addr: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = addr else { return addr };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded);
    }
    // IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated), but not :: or ::1.
    if s[..6] == [0; 6] && u32::from(embedded) > 1 {
        return IpAddr::V4(embedded);
    }
    addr
}

/// The special-purpose class of an (unmapped) address, `None` for a global one.
pub fn classify(addr: IpAddr) -> Option<BlockReason> {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            if a.is_link_local() {
                Some(BlockReason::LinkLocal)
            } else if a.is_loopback() {
                Some(BlockReason::Loopback)
            } else if a.is_private() {
                Some(BlockReason::Private)
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some(BlockReason::SharedAddressSpace)
            } else if o[0] == 0 {
                Some(BlockReason::Unspecified)
            } else if a.is_multicast() {
                Some(BlockReason::Multicast)
            } else if a.is_broadcast() {
                Some(BlockReason::Broadcast)
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            if (first & 0xffc0) == 0xfe80 {
                Some(BlockReason::LinkLocal)
            } else if a.is_loopback() {
                Some(BlockReason::Loopback)
            } else if a.is_unspecified() {
                Some(BlockReason::Unspecified)
            } else if (first & 0xfe00) == 0xfc00 {
                Some(BlockReason::UniqueLocal)
            } else if a.is_multicast() {
                Some(BlockReason::Multicast)
            } else {
                None
            }
        }
    }
}

/// Parses a comma- or space-separated CIDR list (`10.0.0.0/8, 127.0.0.3/32, fd00::/8`); a bare
/// address is a single-host network.
///
/// # Errors
/// The first entry that is neither a network nor an address.
pub fn parse_networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split([',', ' ', '\n', '\t'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not a network like 10.0.0.0/8 or an address"))
        })
        .collect()
}

#[cfg(test)]
#[path = "netpolicy_tests.rs"]
mod tests;
