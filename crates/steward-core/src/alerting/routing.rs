//! Which channels a notice goes to. A channel without routes gets every notice (the simple
//! set-up: one mailbox for everything). A channel with routes gets a notice when any of its
//! routes matches: the notice is at least as urgent as the route's `min_status` (critical >
//! unknown > warning; a recovery counts as urgent as what it recovered from, so whoever got
//! the problem gets its recovery) and its device is in the route's target (a network
//! monitor, which has no device, matches only routes for all devices).

use crate::alerting::CheckStatus;
use crate::checks::{Membership, Target};

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub channel_id: String,
    pub min_status: CheckStatus,
    pub devices: Target,
}

/// The channels, of `channels`, that a notice of `status` about `device` goes to.
pub fn channels_for<'a>(
    channels: &'a [String],
    routes: &[Route],
    status: CheckStatus,
    device: Option<&Membership<'_>>,
) -> Vec<&'a str> {
    channels
        .iter()
        .filter(|channel| {
            let mut own = routes
                .iter()
                .filter(|r| &r.channel_id == *channel)
                .peekable();
            own.peek().is_none() || own.any(|r| matches(r, status, device))
        })
        .map(String::as_str)
        .collect()
}

fn matches(route: &Route, status: CheckStatus, device: Option<&Membership<'_>>) -> bool {
    let urgent_enough = status.urgency() >= route.min_status.urgency();
    let in_target = match device {
        Some(d) => route.devices.covers(d),
        None => route.devices == Target::All,
    };
    urgent_enough && in_target
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckStatus::*;

    #[test]
    fn routes_filter_by_urgency_and_devices() {
        let channels = vec!["all".to_string(), "oncall".into(), "factory".into()];
        let routes = vec![
            Route {
                channel_id: "oncall".into(),
                min_status: Critical,
                devices: Target::All,
            },
            Route {
                channel_id: "factory".into(),
                min_status: Warning,
                devices: Target::Group("factory".into()),
            },
        ];
        let groups = vec!["factory".to_string()];
        let in_factory = Membership {
            device_id: "d1",
            groups: &groups,
            tags: &[],
        };
        let elsewhere = Membership {
            device_id: "d2",
            groups: &[],
            tags: &[],
        };
        let to = |status, device| channels_for(&channels, &routes, status, device);
        assert_eq!(to(Warning, Some(&in_factory)), vec!["all", "factory"]);
        assert_eq!(
            to(Critical, Some(&in_factory)),
            vec!["all", "oncall", "factory"]
        );
        assert_eq!(to(Unknown, Some(&elsewhere)), vec!["all"]);
        assert_eq!(to(Critical, Some(&elsewhere)), vec!["all", "oncall"]);
        assert_eq!(
            to(Critical, None),
            vec!["all", "oncall"],
            "a network monitor"
        );
        assert_eq!(to(Warning, None), vec!["all"]);
    }
}
