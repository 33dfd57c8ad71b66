//! Inbound default deny, from the live firewall rather than its configuration files:
//! firewalld's default zone, ufw's status, the nftables ruleset, and the iptables and
//! ip6tables rules, in that order. One of them denying by default is enough for its
//! protocol (a packet passes every base chain on the input hook, so one dropping chain
//! drops it); IPv4 and IPv6 must both be covered, IPv6 only where a network interface has
//! an IPv6 address. Unreadable rules that could decide it are unknown.

use super::{Verdict, command, fail, pass, unknown};
use crate::host::Host;

/// The IP versions a rule set covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Covers {
    pub v4: bool,
    pub v6: bool,
}

const BOTH: Covers = Covers { v4: true, v6: true };
const V4: Covers = Covers {
    v4: true,
    v6: false,
};
const V6: Covers = Covers {
    v4: false,
    v6: true,
};

/// What one firewall front end says.
enum Seen {
    /// Unsolicited inbound traffic of these IP versions is dropped or rejected: the line
    /// that says so.
    Denies(Covers, String),
    /// Readable, and it does not deny by default: what it said.
    Allows(String),
    /// Installed, but its answer could not be read (most need root).
    Unreadable(String),
    /// Not installed.
    Absent,
}

/// One front end's reader (nftables may answer for several tables).
type Reader = fn(&dyn Host) -> Result<Vec<Seen>, super::Outcome>;

/// A command's output when it ran and succeeded; its absence or failure otherwise.
fn output(host: &dyn Host, run: &str) -> Result<Result<String, Seen>, super::Outcome> {
    Ok(match command(host, run)? {
        None => Err(Seen::Absent),
        Some(out) if out.status == 0 => Ok(out.stdout),
        Some(out) => Err(Seen::Unreadable(format!(
            "`{run}` failed (exit status {}{})",
            out.status,
            if out.stdout.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", out.stdout.trim())
            }
        ))),
    })
}

fn firewalld(host: &dyn Host) -> Result<Seen, super::Outcome> {
    let state = match command(host, "firewall-cmd --state")? {
        None => return Ok(Seen::Absent),
        Some(out) => out.stdout.trim().to_owned(),
    };
    if state != "running" {
        return Ok(Seen::Allows(format!("firewalld: {state}")));
    }
    let listing = match output(host, "firewall-cmd --list-all")? {
        Ok(text) => text,
        Err(seen) => return Ok(seen),
    };
    let zone = listing
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("?");
    let Some(target) = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("target:"))
        .map(str::trim)
    else {
        return Ok(Seen::Unreadable(
            "firewall-cmd --list-all names no target".into(),
        ));
    };
    let said = format!("firewalld zone {zone}: target {target}");
    // "default" is firewalld's reject-what-no-service-allows; only ACCEPT lets all in.
    Ok(if target.eq_ignore_ascii_case("accept") {
        Seen::Allows(said)
    } else {
        Seen::Denies(BOTH, said)
    })
}

fn ufw(host: &dyn Host) -> Result<Seen, super::Outcome> {
    let text = match output(host, "ufw status verbose")? {
        Ok(text) => text,
        Err(seen) => return Ok(seen),
    };
    let status = text
        .lines()
        .find(|l| l.starts_with("Status:"))
        .unwrap_or("Status: unknown")
        .trim();
    if status != "Status: active" {
        return Ok(Seen::Allows(format!("ufw {status}")));
    }
    let default = text
        .lines()
        .find(|l| l.starts_with("Default:"))
        .unwrap_or("Default: not shown")
        .trim();
    Ok(
        if default.contains("deny (incoming)") || default.contains("reject (incoming)") {
            Seen::Denies(BOTH, format!("ufw {status}; {default}"))
        } else {
            Seen::Allows(format!("ufw {status}; {default}"))
        },
    )
}

/// A rule that drops or rejects whatever reaches it, counters aside.
fn drops_all(rule: &str) -> bool {
    let mut words = Vec::new();
    let mut skip_number = false;
    for word in rule.split_whitespace() {
        if skip_number {
            skip_number = false;
        } else if word == "packets" || word == "bytes" {
            skip_number = true;
        } else if word != "counter" {
            words.push(word);
        }
    }
    words == ["drop"] || words.first() == Some(&"reject")
}

/// The nftables ruleset: filter chains on the input hook (ip, ip6 or inet) whose policy
/// drops, or whose last rule drops everything; each with the versions its family covers.
pub(crate) fn nft_denies(ruleset: &str) -> Vec<(Covers, String)> {
    let mut found = Vec::new();
    let mut table = "";
    let mut chain = "";
    let mut hook = None;
    let mut last_rule = "";
    for line in ruleset.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("table ") {
            table = rest.trim_end_matches('{').trim();
        } else if let Some(rest) = line.strip_prefix("chain ") {
            chain = rest.trim_end_matches('{').trim();
            hook = None;
            last_rule = "";
        } else if line.starts_with("type filter hook input") {
            // firewalld's own table ends its input chain with a reject even when the zone
            // accepts everything; firewalld's verdict is read from firewall-cmd instead.
            if table.ends_with(" firewalld") {
                continue;
            }
            let covers = match table.split_whitespace().next().unwrap_or("") {
                "inet" => Some(BOTH),
                "ip" => Some(V4),
                "ip6" => Some(V6),
                _ => None,
            };
            hook = covers.map(|c| (c, line));
        } else if line == "}" {
            if let Some((covers, hook)) = hook.take() {
                let said = format!("nft table {table} chain {chain}: {hook}");
                if hook.contains("policy drop") {
                    found.push((covers, said));
                } else if drops_all(last_rule) {
                    found.push((covers, format!("{said} … last rule: {last_rule}")));
                }
            }
            chain = "";
        } else if !chain.is_empty() {
            last_rule = line;
        }
    }
    found
}

fn nft(host: &dyn Host) -> Result<Vec<Seen>, super::Outcome> {
    Ok(vec![match output(host, "nft list ruleset")? {
        Ok(text) => {
            let found = nft_denies(&text);
            if !found.is_empty() {
                return Ok(found
                    .into_iter()
                    .map(|(covers, said)| Seen::Denies(covers, said))
                    .collect());
            }
            if text.trim().is_empty() {
                Seen::Allows("nft: the ruleset is empty".into())
            } else {
                Seen::Allows("nft: no input chain drops by default".into())
            }
        }
        Err(seen) => seen,
    }])
}

/// `iptables-save` or `ip6tables-save`: the INPUT policy DROP, or a last INPUT rule that
/// drops or rejects everything.
fn xtables(host: &dyn Host, run: &str, covers: Covers) -> Result<Seen, super::Outcome> {
    let text = match output(host, run)? {
        Ok(text) => text,
        Err(seen) => return Ok(seen),
    };
    let name = run.trim_end_matches("-save");
    let policy = text
        .lines()
        .find(|l| l.starts_with(":INPUT "))
        .map(str::trim);
    if let Some(policy) = policy.filter(|p| p.starts_with(":INPUT DROP")) {
        return Ok(Seen::Denies(covers, format!("{name}: {policy}")));
    }
    let last = text.lines().rfind(|l| l.starts_with("-A INPUT "));
    if let Some(last) = last.filter(|l| {
        let target = l.trim().trim_start_matches("-A INPUT").trim();
        target == "-j DROP" || target.starts_with("-j REJECT")
    }) {
        return Ok(Seen::Denies(
            covers,
            format!("{name}: last INPUT rule {last}"),
        ));
    }
    Ok(Seen::Allows(format!(
        "{name}: {}",
        policy.unwrap_or("no INPUT chain loaded")
    )))
}

/// Whether a network interface (not loopback) has an IPv6 address.
fn ipv6_in_use(host: &dyn Host) -> Result<bool, super::Outcome> {
    // address, index, prefix length, scope, flags, interface name
    Ok(super::file(host, "/proc/net/if_inet6")?
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(5).is_some_and(|name| name != "lo")))
}

pub(crate) fn default_deny_inbound(host: &dyn Host) -> Verdict {
    let mut covered = Covers::default();
    let mut denies = Vec::new();
    let mut allows = Vec::new();
    let mut unreadable = Vec::new();
    let mut absent = Vec::new();
    let sources: [(&str, Reader); 5] = [
        ("firewall-cmd", |h| Ok(vec![firewalld(h)?])),
        ("ufw", |h| Ok(vec![ufw(h)?])),
        ("nft", nft),
        ("iptables-save", |h| {
            Ok(vec![xtables(h, "iptables-save", V4)?])
        }),
        ("ip6tables-save", |h| {
            Ok(vec![xtables(h, "ip6tables-save", V6)?])
        }),
    ];
    for (name, source) in sources {
        for seen in source(host)? {
            match seen {
                Seen::Denies(covers, said) => {
                    covered.v4 |= covers.v4;
                    covered.v6 |= covers.v6;
                    denies.push(said);
                }
                Seen::Allows(said) => allows.push(said),
                Seen::Unreadable(why) => unreadable.push(why),
                Seen::Absent => absent.push(name),
            }
        }
        if covered == BOTH {
            return pass(
                &denies.join("; "),
                "inbound traffic is denied unless a rule allows it",
            );
        }
    }
    let evidence = denies
        .iter()
        .chain(&allows)
        .chain(&unreadable)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if covered.v4 && !ipv6_in_use(host)? {
        return pass(
            &format!("{evidence}; no interface has an IPv6 address"),
            "inbound IPv4 traffic is denied unless a rule allows it, and IPv6 is not in use",
        );
    }
    if !unreadable.is_empty() {
        return Err(unknown(
            &evidence,
            "a firewall's rules could not be read (they need root)",
        ));
    }
    if covered.v4 {
        return fail(&evidence, "inbound IPv6 traffic is not denied by default");
    }
    if covered.v6 {
        return fail(&evidence, "inbound IPv4 traffic is not denied by default");
    }
    if allows.is_empty() {
        return fail(
            &format!("not installed: {}", absent.join(", ")),
            "no firewall is installed",
        );
    }
    fail(&evidence, "no firewall denies inbound traffic by default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_nftables_default_deny() {
        let policy = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t}\n}\n";
        assert_eq!(nft_denies(policy)[0].0, BOTH);
        let last = "table inet filter {\n\tchain filter_INPUT {\n\t\ttype filter hook input priority filter + 10; policy accept;\n\t\tct state established,related accept\n\t\treject with icmpx admin-prohibited\n\t}\n}\n";
        assert_eq!(nft_denies(last).len(), 1);
        let firewalld = last.replace("inet filter", "inet firewalld");
        assert!(
            nft_denies(&firewalld).is_empty(),
            "firewall-cmd answers for it"
        );
        let open = "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state invalid counter packets 0 bytes 0 drop\n\t}\n}\n";
        assert!(nft_denies(open).is_empty());
        assert!(drops_all("counter packets 12 bytes 800 drop"));
    }
}
