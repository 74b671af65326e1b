//! Files of a run directory.

use std::io::Write;
use std::path::Path;

use crate::Error;

/// How `atomic_write`'s temporary files end (they start with a dot and the target's name).
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Whether a file name is one of `atomic_write`'s temporary files.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMPORARY_SUFFIX)
}

/// Writes `bytes` to a temporary file of a unique name next to `path`, syncs it, then renames it
/// over `path`: a crash leaves either the old file or the new one, never half of one, and two
/// writers of the same file each replace it whole. On failure the temporary file is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_then_rename(path, bytes, true)
}

/// As [`atomic_write`] without the sync: a reader still sees the old file or the new one whole,
/// but a crash may lose the new one. For files rewritten every second that are worthless after
/// a crash (a run's progress), where a sync each time would cost more than it keeps.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_then_rename(path, bytes, false)
}

fn write_then_rename(path: &Path, bytes: &[u8], sync: bool) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let fail = |e: std::io::Error| Error::io(path, "cannot write", e);
    // A dot name, so listings of the run (the web app's, `ls`) pass over a file in flight.
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMPORARY_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As for any new file, 0666 less the umask: tempfile's own 0600 would hide configs and
        // figures from other users (a web server, a colleague).
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    if sync {
        tmp.as_file().sync_all().map_err(fail)?;
    }
    // On error `persist` hands the file back, and dropping it removes it.
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
