//! Inbound default deny, from the live firewall rather than its configuration files:
//! firewalld's default zone, ufw's status, the nftables ruleset, and the iptables rules, in
//! that order. One of them denying by default is enough (a packet passes every base chain
//! on the input hook, so one dropping chain drops it); none readable is unknown.

use super::{Verdict, command, fail, pass, unknown};
use crate::host::Host;

/// What one firewall front end says.
enum Seen {
    /// Unsolicited inbound traffic is dropped or rejected: the line that says so.
    Denies(String),
    /// Readable, and it does not deny by default: what it said.
    Allows(String),
    /// Installed, but its answer could not be read (most need root).
    Unreadable(String),
    /// Not installed.
    Absent,
}

/// One front end's reader.
type Reader = fn(&dyn Host) -> Result<Seen, super::Outcome>;

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
        Seen::Denies(said)
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
            Seen::Denies(format!("ufw {status}; {default}"))
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

/// The nftables ruleset: a filter chain on the input hook (ip, ip6 or inet) whose policy
/// drops, or whose last rule drops everything.
pub(crate) fn nft_denies(ruleset: &str) -> Option<String> {
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
            let family = table.split_whitespace().next().unwrap_or("");
            if matches!(family, "ip" | "ip6" | "inet") {
                hook = Some(line);
            }
        } else if line == "}" {
            if let Some(hook) = hook.take() {
                let said = format!("nft table {table} chain {chain}: {hook}");
                if hook.contains("policy drop") {
                    return Some(said);
                }
                if drops_all(last_rule) {
                    return Some(format!("{said} … last rule: {last_rule}"));
                }
            }
            chain = "";
        } else if !chain.is_empty() {
            last_rule = line;
        }
    }
    None
}

fn nft(host: &dyn Host) -> Result<Seen, super::Outcome> {
    Ok(match output(host, "nft list ruleset")? {
        Ok(text) => match nft_denies(&text) {
            Some(said) => Seen::Denies(said),
            None if text.trim().is_empty() => Seen::Allows("nft: the ruleset is empty".into()),
            None => Seen::Allows("nft: no input chain drops by default".into()),
        },
        Err(seen) => seen,
    })
}

fn iptables(host: &dyn Host) -> Result<Seen, super::Outcome> {
    let text = match output(host, "iptables-save")? {
        Ok(text) => text,
        Err(seen) => return Ok(seen),
    };
    let policy = text
        .lines()
        .find(|l| l.starts_with(":INPUT "))
        .map(str::trim);
    if let Some(policy) = policy.filter(|p| p.starts_with(":INPUT DROP")) {
        return Ok(Seen::Denies(format!("iptables: {policy}")));
    }
    let last = text.lines().rfind(|l| l.starts_with("-A INPUT "));
    if let Some(last) = last.filter(|l| {
        let target = l.trim().trim_start_matches("-A INPUT").trim();
        target == "-j DROP" || target.starts_with("-j REJECT")
    }) {
        return Ok(Seen::Denies(format!("iptables: last INPUT rule {last}")));
    }
    Ok(Seen::Allows(format!(
        "iptables: {}",
        policy.unwrap_or("no INPUT chain loaded")
    )))
}

pub(crate) fn default_deny_inbound(host: &dyn Host) -> Verdict {
    let mut allows = Vec::new();
    let mut unreadable = Vec::new();
    let mut absent = Vec::new();
    let sources: [(&str, Reader); 4] = [
        ("firewall-cmd", firewalld),
        ("ufw", ufw),
        ("nft", nft),
        ("iptables-save", iptables),
    ];
    for (name, source) in sources {
        match source(host)? {
            Seen::Denies(said) => {
                return pass(&said, "inbound traffic is denied unless a rule allows it");
            }
            Seen::Allows(said) => allows.push(said),
            Seen::Unreadable(why) => unreadable.push(why),
            Seen::Absent => absent.push(name),
        }
    }
    let evidence = allows
        .iter()
        .chain(&unreadable)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if !unreadable.is_empty() {
        return Err(unknown(
            &evidence,
            "a firewall's rules could not be read (they need root)",
        ));
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
        assert!(nft_denies(policy).is_some());
        let last = "table inet firewalld {\n\tchain filter_INPUT {\n\t\ttype filter hook input priority filter + 10; policy accept;\n\t\tct state established,related accept\n\t\treject with icmpx admin-prohibited\n\t}\n}\n";
        assert!(nft_denies(last).is_some());
        let open = "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state invalid counter packets 0 bytes 0 drop\n\t}\n}\n";
        assert_eq!(nft_denies(open), None);
        assert!(drops_all("counter packets 12 bytes 800 drop"));
    }
}
