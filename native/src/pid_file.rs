//! `--pid-file FILE`: the process id, written once the server runs and handles its
//! signals, and removed at exit if it still holds that id, for supervisors and scripts
//! that find a daemon by its file.
//!
//! Once the file is there, SIGTERM drains: a script that waits for the file and then
//! signals never meets the signal's default action (death without a drain, and the file
//! left behind). And a file some other process has written since is its own: left alone.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A pid file this process wrote.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

/// The pid file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the pid file {}: {source}", path.display())]
pub struct PidFileError {
    /// The file asked for.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

/// What the file holds: the id and a newline.
fn contents() -> String {
    format!("{}\n", std::process::id())
}

impl PidFile {
    /// Writes this process's id and a newline to `path`, replacing a stale file. Written
    /// whole to a temporary name of this process's own beside it, then renamed, so a
    /// reader never sees a partial id.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        let fail = |source| PidFileError {
            path: path.to_owned(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(format!(".{}.tmp", std::process::id()));
        let temporary = PathBuf::from(temporary);
        let written = write_new(&temporary).and_then(|()| std::fs::rename(&temporary, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(fail(e));
        }
        Ok(PidFile {
            path: path.to_owned(),
        })
    }

    /// Removes the file if it still holds this process's id: one that another process
    /// (a second instance, a supervisor) has written since is left as it is. A file
    /// already gone is not an error.
    pub fn remove(self) {
        match std::fs::read_to_string(&self.path) {
            Ok(text) if text == contents() => {}
            Ok(_) => {
                tracing::info!(
                    path = %self.path.display(),
                    "the pid file holds another process's id now: left in place"
                );
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the pid file");
                return;
            }
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the pid file")
            }
        }
    }
}

/// Writes the id to a file that must not exist yet (`O_EXCL`: a symbolic link planted at
/// that name in a shared directory is refused, never followed). One that does is what a
/// process with our id left when it died between writing and renaming: removed (the name,
/// never what a link points to) and made anew, once.
fn write_new(temporary: &Path) -> io::Result<()> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temporary)
    };
    let mut file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(temporary)?;
            open()?
        }
        other => other?,
    };
    file.write_all(contents().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of this test's own, removed with it.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("reverb-pid-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn holds_this_process_id_until_removed() {
        let dir = Dir::new("holds");
        let path = dir.0.join("reverb.pid");
        std::fs::write(&path, "1\n").unwrap();
        let pid = PidFile::create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{}\n", std::process::id()),
            "a stale file replaced"
        );
        pid.remove();
        assert!(!path.exists());
        let names: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
        assert!(names.is_empty(), "a temporary file left: {names:?}");
    }

    #[test]
    fn a_file_another_process_wrote_since_is_left_alone() {
        let dir = Dir::new("replaced");
        let path = dir.0.join("reverb.pid");
        let pid = PidFile::create(&path).unwrap();
        std::fs::write(&path, "1\n").unwrap();
        pid.remove();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n");
        // Gone already: nothing to do, nothing to say.
        let pid = PidFile::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        pid.remove();
    }

    #[test]
    fn a_link_at_the_temporary_name_is_not_followed() {
        let dir = Dir::new("link");
        let path = dir.0.join("reverb.pid");
        let target = dir.0.join("target");
        std::fs::write(&target, "not ours\n").unwrap();
        let temporary = dir.0.join(format!("reverb.pid.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&target, &temporary).unwrap();
        let pid = PidFile::create(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "not ours\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), contents());
        assert!(!temporary.exists());
        pid.remove();
    }

    #[test]
    fn an_unwritable_place_is_a_clear_error() {
        let error = PidFile::create(Path::new("/nonexistent-reverb-dir/reverb.pid")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot write the pid file /nonexistent-reverb-dir/reverb.pid: No such file or \
             directory (os error 2)"
        );
    }
}
