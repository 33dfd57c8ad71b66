//! Package names from the server: checked before they reach a command line, so that a
//! name can never be read as an option (`-oAPT::…`) or anything but one package.

use anyhow::bail;

/// The longest package name accepted (Debian's and RPM's real ones are far shorter).
const MAX_NAME: usize = 200;

/// Refuses a name that is not a plain package name: letters, digits and `.+-_:~@` (apt's
/// `name:arch`, RPM's `name.arch`), starting with a letter or digit.
pub fn check_package_names(packages: &[String]) -> anyhow::Result<()> {
    if packages.is_empty() {
        bail!("packages: none given");
    }
    for name in packages {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-_:~@".contains(c));
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if !plain || !starts_well || name.len() > MAX_NAME {
            bail!(
                "packages: {name:?} is not a package name (letters, digits and .+-_:~@, \
                 starting with a letter or digit, at most {MAX_NAME} characters)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_odd_names_are_refused() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(check_package_names(&names(&["libc6:i386", "openssl-libs.x86_64", "g++"])).is_ok());
        for bad in ["-oAPT::Foo=1", "--purge", "a b", "", "x;rm", "../x"] {
            let err = check_package_names(&names(&["ok", bad])).unwrap_err();
            assert!(err.to_string().starts_with("packages: "), "{err}");
        }
        assert!(check_package_names(&[]).is_err());
    }
}
