//! The probes against real peers on loopback: HTTP(S) servers with certificates from a
//! test CA, a DNS server answering from a table, TCP ports, and ICMP echo (in network
//! namespaces of the test's own where a silent host or a lack of permission is needed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dns;
mod http;
mod icmp;
mod peers;
mod tcp;
mod tls;
