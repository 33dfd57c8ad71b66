//! Hardware facts: CPU model and logical core count (`/proc/cpuinfo` and `/proc/stat`, through
//! the collector's sysinfo `System`), total memory (`/proc/meminfo`), and vendor, model and
//! serial number from DMI (`/sys/class/dmi/id/{sys_vendor,product_name,product_serial}`).
//!
//! DMI is absent on many ARM boards and in some virtual machines, and `product_serial` is
//! readable by root only: any of them unreadable is an empty value, not an error.

use std::path::Path;

use steward_core::Hardware;
use sysinfo::System;

const DMI_DIR: &str = "/sys/class/dmi/id";

/// Hardware facts. `system` must have had its CPU list and memory refreshed at least once
/// (the collector does so when it is created and on every metrics sample).
pub fn collect(system: Option<&System>) -> Hardware {
    let (cpu_model, cpu_cores, memory_bytes) = match system {
        Some(system) => {
            let cpus = system.cpus();
            let model = cpus
                .iter()
                .map(|cpu| cpu.brand().trim())
                .find(|brand| !brand.is_empty())
                .unwrap_or_default()
                .to_owned();
            let cores = u32::try_from(cpus.len()).unwrap_or(u32::MAX);
            (model, cores, system.total_memory())
        }
        None => (String::new(), 0, 0),
    };
    let dmi = Path::new(DMI_DIR);
    Hardware {
        cpu_model,
        cpu_cores,
        memory_bytes,
        vendor: read_dmi(dmi, "sys_vendor"),
        model: read_dmi(dmi, "product_name"),
        serial: read_dmi(dmi, "product_serial"),
    }
}

/// One DMI attribute, cleaned; empty when absent, unreadable or a firmware placeholder.
fn read_dmi(dir: &Path, attribute: &str) -> String {
    std::fs::read_to_string(dir.join(attribute))
        .map(|text| clean_dmi_value(&text))
        .unwrap_or_default()
}

/// Trims a DMI value and blanks the placeholders firmware vendors leave in unset fields, so
/// that two machines with "To Be Filled By O.E.M." do not look like the same one.
pub fn clean_dmi_value(raw: &str) -> String {
    const PLACEHOLDERS: &[&str] = &[
        "to be filled by o.e.m.",
        "to be filled by oem",
        "default string",
        "system serial number",
        "system product name",
        "system manufacturer",
        "not specified",
        "not applicable",
        "none",
        "n/a",
        "0",
        "0123456789",
        "123456789",
    ];
    let value = raw.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if PLACEHOLDERS
        .iter()
        .any(|placeholder| value.eq_ignore_ascii_case(placeholder))
    {
        String::new()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_values_are_trimmed_and_placeholders_blanked() {
        assert_eq!(clean_dmi_value("LENOVO\n"), "LENOVO");
        assert_eq!(
            clean_dmi_value("  ThinkPad X1 Carbon Gen 9 \n"),
            "ThinkPad X1 Carbon Gen 9"
        );
        assert_eq!(clean_dmi_value("To Be Filled By O.E.M.\n"), "");
        assert_eq!(clean_dmi_value("Default string\n"), "");
        assert_eq!(clean_dmi_value("\n"), "");
    }

    #[test]
    fn missing_dmi_directory_gives_empty_values() {
        let dir = Path::new("/nonexistent/dmi/id");
        assert_eq!(read_dmi(dir, "sys_vendor"), "");
    }

    #[test]
    fn reads_dmi_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sys_vendor"), "QEMU\n").unwrap();
        assert_eq!(read_dmi(dir.path(), "sys_vendor"), "QEMU");
        assert_eq!(read_dmi(dir.path(), "product_serial"), "");
    }
}
