//! Ransom-note names. Ransomware leaves a note in every folder it encrypts, named to be
//! seen: `HOW_TO_DECRYPT.txt`, `README-RECOVER-FILES.html`, `_readme.txt`,
//! `!!!RESTORE_MY_FILES!!!.txt`. Judged on the name only, and only for the kinds of file a
//! note is (text, web page, picture, link), so `decrypt.py` in a source tree is not one.

use crate::content::{extension, file_name};

/// Extensions a note has (none is one too).
const NOTE_EXTENSIONS: &[&str] = &[
    "txt", "html", "htm", "hta", "rtf", "url", "png", "jpg", "bmp",
];

/// Whether a file name looks like a ransom note.
pub fn is_ransom_note(path: &str) -> bool {
    if let Some(ext) = extension(path)
        && !NOTE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    {
        return false;
    }
    let name: String = file_name(path)
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '!' || *c == '.')
        .collect();
    let has = |w: &str| name.contains(w);
    has("decrypt")
        || has("ransom")
        || has("unlock") && (has("files") || has("data"))
        || has("how") && (has("recover") || has("restore") || has("back") || has("files"))
        || (has("restore") || has("recover"))
            && (has("files") || has("data") || has("your") || has("my"))
        || has("yourfiles")
        || has("filesencrypted")
        || has("encryptedfiles")
        || name.starts_with("!!!")
        || name == "readme.txt" && file_name(path).starts_with('_')
        || name.starts_with("!readme")
        || name.starts_with("readme!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_recognised_by_their_names() {
        for note in [
            "/srv/HOW_TO_DECRYPT.txt",
            "/srv/README-RECOVER-FILES.html",
            "/srv/_readme.txt",
            "/srv/!!!RESTORE_MY_FILES!!!.txt",
            "/srv/Restore-My-Files.txt",
            "/srv/YOUR_FILES_ARE_ENCRYPTED.txt",
            "/srv/ransom_note",
        ] {
            assert!(is_ransom_note(note), "{note}");
        }
        for other in [
            "/srv/README.md",
            "/srv/readme.txt",
            "/srv/src/decrypt.py",
            "/srv/how-to-order.txt",
            "/srv/restore.sh",
            "/srv/Backup plan.docx",
        ] {
            assert!(!is_ransom_note(other), "{other}");
        }
    }
}
