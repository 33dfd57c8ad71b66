//! The whole built-in pack on the machine running the tests, through [`SystemHost`]: no
//! state is asserted (it depends on the machine), only that every check answers, with a
//! reason, within its time, and without panicking. Run with `--nocapture` to see each
//! answer and the total time.

use std::time::{Duration, Instant};

use steward_posture::{SystemHost, builtin, evaluate};

/// The most commands one check runs one after another (the firewall check's five, with
/// room): each may take the host's whole timeout before it is killed, and one may be a
/// package manager's simulation, with its longer timeout.
const COMMANDS_PER_CHECK: u32 = 8;

#[test]
fn the_builtin_pack_evaluates_on_this_machine() {
    let host = SystemHost::default();
    let limit: Duration = host.slow_timeout + host.timeout * COMMANDS_PER_CHECK;
    let started = Instant::now();
    for check in &builtin().checks {
        let began = Instant::now();
        let outcome = evaluate(check, &host);
        let took = began.elapsed();
        println!(
            "{:<34} {:>6} ms  {:?}: {} [{}]",
            check.id,
            took.as_millis(),
            outcome.state,
            outcome.reason,
            outcome.evidence
        );
        assert!(took < limit, "{} took {took:?}", check.id);
        assert!(!outcome.reason.is_empty(), "{}: no reason", check.id);
    }
    println!(
        "{} checks in {} ms",
        builtin().checks.len(),
        started.elapsed().as_millis()
    );
}
