//! The classifier over every refused range, mapped forms and the operator's lists.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn strict() -> NetworkPolicy {
    NetworkPolicy { allow_private: false, ..NetworkPolicy::default() }
}

fn reason(policy: &NetworkPolicy, addr: &str) -> Option<BlockReason> {
    policy.check(ip(addr)).err().map(|b| b.reason)
}

#[test]
fn every_special_range_is_refused_when_private_networks_are_not_allowed() {
    let cases = [
        ("127.0.0.1", BlockReason::Loopback),
        ("127.255.255.254", BlockReason::Loopback),
        ("::1", BlockReason::Loopback),
        ("10.0.0.1", BlockReason::Private),
        ("10.255.255.255", BlockReason::Private),
        ("172.16.0.1", BlockReason::Private),
        ("172.31.255.254", BlockReason::Private),
        ("192.168.1.1", BlockReason::Private),
        ("100.64.0.1", BlockReason::SharedAddressSpace),
        ("100.127.255.254", BlockReason::SharedAddressSpace),
        ("fc00::1", BlockReason::UniqueLocal),
        ("fdff:ffff::1", BlockReason::UniqueLocal),
        ("0.0.0.0", BlockReason::Unspecified),
        ("0.1.2.3", BlockReason::Unspecified),
        ("::", BlockReason::Unspecified),
        ("224.0.0.1", BlockReason::Multicast),
        ("239.255.255.250", BlockReason::Multicast),
        ("ff02::1", BlockReason::Multicast),
        ("255.255.255.255", BlockReason::Broadcast),
        ("169.254.0.1", BlockReason::LinkLocal),
        ("fe80::1", BlockReason::LinkLocal),
        ("febf::1", BlockReason::LinkLocal),
    ];
    for (addr, want) in cases {
        assert_eq!(reason(&strict(), addr), Some(want), "{addr}");
    }
}

#[test]
fn neighbours_of_the_special_ranges_are_public() {
    for addr in [
        "172.15.255.255",
        "172.32.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "11.0.0.1",
        "192.169.0.1",
        "169.253.255.255",
        "169.255.0.0",
        "223.255.255.255",
        "93.184.216.34",
        "2606:4700::1111",
        "fec0::1",
        "fbff::1",
    ] {
        assert_eq!(reason(&strict(), addr), None, "{addr}");
    }
}

#[test]
fn link_local_and_metadata_are_refused_even_when_private_networks_are_allowed() {
    let open = NetworkPolicy::default();
    assert_eq!(reason(&open, "169.254.169.254"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "169.254.170.2"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "100.100.100.200"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "fd00:ec2::254"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "169.254.1.1"), Some(BlockReason::LinkLocal));
    assert_eq!(reason(&open, "fe80::abcd"), Some(BlockReason::LinkLocal));
    for allowed in ["127.0.0.1", "10.1.2.3", "192.168.0.10", "fd12::1", "::1", "100.64.1.1"] {
        assert_eq!(reason(&open, allowed), None, "{allowed}");
    }
}

#[test]
fn ipv4_in_ipv6_forms_are_judged_as_the_ipv4_address() {
    let open = NetworkPolicy::default();
    assert_eq!(reason(&open, "::ffff:169.254.169.254"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "::ffff:a9fe:a9fe"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "64:ff9b::169.254.169.254"), Some(BlockReason::CloudMetadata));
    assert_eq!(reason(&open, "::169.254.1.2"), Some(BlockReason::LinkLocal));
    assert_eq!(reason(&strict(), "::ffff:127.0.0.1"), Some(BlockReason::Loopback));
    assert_eq!(reason(&strict(), "::ffff:10.0.0.1"), Some(BlockReason::Private));
    assert_eq!(reason(&strict(), "64:ff9b::192.168.0.1"), Some(BlockReason::Private));
    assert_eq!(reason(&strict(), "::ffff:8.8.8.8"), None);
}

#[test]
fn operator_lists_override_both_ways_most_specific_first() {
    let policy = NetworkPolicy {
        allow_private: true,
        allowed: parse_networks("169.254.10.0/24, 10.1.0.0/16").unwrap(),
        blocked: parse_networks("127.0.0.3/32 10.0.0.0/8 ::ffff:127.0.0.4").unwrap(),
    };
    assert_eq!(reason(&policy, "127.0.0.3"), Some(BlockReason::BlockedNetwork));
    assert_eq!(reason(&policy, "::ffff:127.0.0.3"), Some(BlockReason::BlockedNetwork));
    assert_eq!(reason(&policy, "127.0.0.2"), None);
    assert_eq!(reason(&policy, "10.2.0.1"), Some(BlockReason::BlockedNetwork));
    assert_eq!(reason(&policy, "10.1.0.1"), None, "the /16 allowed inside the blocked /8");
    assert_eq!(reason(&policy, "169.254.10.9"), None, "an allowed network beats link-local");
    let tie = NetworkPolicy {
        allowed: parse_networks("1.2.3.0/24").unwrap(),
        blocked: parse_networks("1.2.3.0/24").unwrap(),
        ..strict()
    };
    assert_eq!(reason(&tie, "1.2.3.4"), Some(BlockReason::BlockedNetwork));
}

#[test]
fn the_error_names_the_address_and_the_reason() {
    let e = NetworkPolicy::default().check(ip("169.254.169.254")).unwrap_err();
    assert_eq!(e.to_string(), "blocked address 169.254.169.254 (cloud metadata)");
    let e = NetworkPolicy::default().check(ip("169.254.3.4")).unwrap_err();
    assert_eq!(e.to_string(), "blocked address 169.254.3.4 (link-local)");
}

#[test]
fn hosts_are_judged_by_literal_address_or_localhost_name() {
    let host = |s: &str| url::Url::parse(s).unwrap().host().unwrap().to_owned();
    let check = |p: &NetworkPolicy, s: &str| {
        let h = host(s);
        let h = match &h {
            url::Host::Domain(d) => url::Host::Domain(d.as_str()),
            url::Host::Ipv4(a) => url::Host::Ipv4(*a),
            url::Host::Ipv6(a) => url::Host::Ipv6(*a),
        };
        p.check_host(&h).err().map(|b| b.reason)
    };
    assert_eq!(check(&strict(), "http://localhost:8080/"), Some(BlockReason::Loopback));
    assert_eq!(check(&strict(), "http://api.LOCALHOST./"), Some(BlockReason::Loopback));
    assert_eq!(check(&strict(), "http://[::ffff:7f00:1]/"), Some(BlockReason::Loopback));
    // WHATWG URL parsing turns decimal and hex forms into the dotted address first.
    assert_eq!(check(&strict(), "http://2130706433/"), Some(BlockReason::Loopback));
    assert_eq!(check(&NetworkPolicy::default(), "http://0xa9fea9fe/"), Some(BlockReason::CloudMetadata));
    assert_eq!(check(&strict(), "http://example.com/"), None, "names are judged when resolved");
    assert_eq!(check(&NetworkPolicy::default(), "http://localhost/"), None);
}

#[test]
fn network_lists_parse_and_name_a_bad_entry() {
    assert_eq!(parse_networks("").unwrap(), vec![]);
    assert_eq!(parse_networks("127.0.0.3").unwrap(), vec!["127.0.0.3/32".parse::<IpNet>().unwrap()]);
    assert_eq!(parse_networks("fd00::/8,10.0.0.0/8").unwrap().len(), 2);
    assert!(parse_networks("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
    assert!(parse_networks("example.com").is_err());
}
