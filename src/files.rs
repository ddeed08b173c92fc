//! Writing the files cxskill leaves behind (`--report`, `--failed-rows`,
//! `--snapshot`, `export --out`) so that none is ever half written.
//!
//! A regular file (or a path where nothing is yet) is written to a
//! temporary file beside it, flushed to disk, and renamed into place: a
//! crash leaves the old file or the new one, never a mix. A symlink at the
//! path is replaced by the new file, never followed, so a link planted in a
//! shared directory cannot make cxskill overwrite what it points at. New
//! files are readable by their owner only (0600): reports hold the
//! tenant's agents and skills. Anything else at the path (`/dev/stdout`, a
//! FIFO, a terminal) is written to directly, as a stream.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (see the module documentation).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(link) if link.file_type().is_symlink() => {
            // Follow the link only to tell a stream (`/dev/stdout` is a
            // link to /proc/self/fd/1) from a file.
            match std::fs::metadata(path) {
                Ok(target) if is_stream(&target) => write_directly(path, bytes),
                _ => replace(path, bytes, None),
            }
        }
        Ok(metadata) if metadata.is_file() => replace(path, bytes, Some(&metadata)),
        Ok(metadata) if metadata.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )),
        Ok(_) => write_directly(path, bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => replace(path, bytes, None),
        Err(error) => Err(error),
    }
}

/// Not a regular file nor a directory: a FIFO, a terminal, a socket.
fn is_stream(metadata: &std::fs::Metadata) -> bool {
    !metadata.is_file() && !metadata.is_dir()
}

fn write_directly(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// A temporary file beside `path`, written, synced and renamed over it.
/// `existing`: the regular file being replaced, whose permissions the new
/// one keeps; a new file is 0600.
fn replace(path: &Path, bytes: &[u8], existing: Option<&std::fs::Metadata>) -> io::Result<()> {
    let (temporary, mut file) = create_temporary(path)?;
    let written = (|| {
        file.write_all(bytes)?;
        if let Some(existing) = existing {
            file.set_permissions(existing.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written?;
    sync_directory(path);
    Ok(())
}

/// `.NAME.cxskill-PID-RANDOM.tmp` in the target's directory (a rename
/// across file systems is not atomic), created new: never an existing
/// file or a symlink someone put there.
fn create_temporary(path: &Path) -> io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut attempts = 0;
    loop {
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(
            ".cxskill-{}-{:016x}.tmp",
            std::process::id(),
            fastrand::u64(..)
        ));
        let temporary = directory.join(temporary_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Makes the rename itself durable where the platform allows; a failure
/// here loses nothing already written, so it is not reported.
fn sync_directory(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(directory) = std::fs::File::open(parent) {
            let _ = directory.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cxskill-files-{name}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_is_written_whole_readable_by_its_owner_only_and_leaves_no_temporary() {
        let dir = temp_dir("new");
        let path = dir.join("report.json");
        write_atomic(&path, b"{}\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"{}\n");
        assert_eq!(entries(&dir), ["report.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_existing_file_is_replaced_and_keeps_its_permissions() {
        let dir = temp_dir("existing");
        let path = dir.join("failed.csv");
        std::fs::write(&path, "a much longer old content than the new one\n").expect("old");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        }
        write_atomic(&path, b"new\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\n");
        assert_eq!(entries(&dir), ["failed.csv"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o640);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = temp_dir("symlink");
        let victim = dir.join("victim.txt");
        std::fs::write(&victim, "precious\n").expect("victim");
        let link = dir.join("report.json");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        write_atomic(&link, b"report\n").expect("write");
        assert_eq!(std::fs::read(&victim).expect("victim"), b"precious\n");
        let metadata = std::fs::symlink_metadata(&link).expect("meta");
        assert!(metadata.is_file(), "the link was replaced by a file");
        assert_eq!(std::fs::read(&link).expect("read"), b"report\n");

        // A dangling link too: nothing is created where it pointed.
        let dangling = dir.join("dangling.csv");
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).expect("symlink");
        write_atomic(&dangling, b"x\n").expect("write");
        assert!(!dir.join("nowhere").exists());
        assert_eq!(std::fs::read(&dangling).expect("read"), b"x\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_to_directly() {
        let dir = temp_dir("fifo");
        let fifo = dir.join("pipe");
        let name = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).expect("read the fifo"))
        };
        write_atomic(&fifo, b"streamed\n").expect("write");
        assert_eq!(reader.join().expect("reader"), b"streamed\n");
        assert_eq!(entries(&dir), ["pipe"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_directory_is_an_error_and_is_left_alone() {
        let dir = temp_dir("dir");
        let error = write_atomic(&dir, b"x").expect_err("a directory");
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory);
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }
}
